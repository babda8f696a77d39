"""Table tests for the answers to each form question, in the words people use (issue 14)."""
from __future__ import annotations

import pytest

from knowledge.parsing import (
    ParseError, parse_change, parse_clock_time, parse_effort, parse_equipment, parse_experience, parse_psfs_tasks,
    parse_timezone,
)


@pytest.mark.parametrize("text, value", [
    ("07:30", "07:30"), ("7.30", "07:30"), ("7am", "07:00"), ("6:15 pm", "18:15"), ("18h00", "18:00"), ("noon", "12:00"),
    ("9pm", "21:00"), ("quarter past six in the evening", "18:15"), ("half seven", "07:30"),
    ("seven thirty am", "07:30"), ("6 in the evening", "18:00"), ("quarter to eight", "07:45"),
    ("ten past seven in the morning", "07:10"), ("around 6 in the morning", "06:00"), ("at seven tonight", "19:00"),
])
def test_reminder_times(text: str, value: str) -> None:
    assert parse_clock_time(text) == value


@pytest.mark.parametrize("text", ["after work", "whenever", "25:99", "13pm"])
def test_reminder_times_that_cannot_be_read_are_asked_again(text: str) -> None:
    with pytest.raises(ParseError):
        parse_clock_time(text)


@pytest.mark.parametrize("text, value", [
    ("maybe 2 yrs on and off", "some"), ("about 6 months", "beginner"), ("10 years", "experienced"),
    ("never lifted", "beginner"), ("lots", "experienced"), ("a couple of years", "some"), ("a few weeks", "beginner"),
    ("some", "some"), ("1.5 years", "some"), ("total beginner", "beginner"),
])
def test_experience(text: str, value: str) -> None:
    assert parse_experience(text) == value


@pytest.mark.parametrize("text, value", [
    ("two bands and a bench", ["none", "band", "bench"]), ("band, bench", ["none", "band", "bench"]),
    ("nothing", ["none"]), ("just the floor", ["none"]), ("dumbbells", ["none", "kettlebell"]),
])
def test_equipment(text: str, value: list[str]) -> None:
    assert parse_equipment(text) == value


@pytest.mark.parametrize("text, value", [
    ("Europe/Berlin", "Europe/Berlin"), ("I live in Chicago", "America/Chicago"), ("melbourne", "Australia/Melbourne"),
    ("UTC+2", "Etc/GMT-2"), ("new york", "America/New_York"),
])
def test_time_zones(text: str, value: str) -> None:
    assert parse_timezone(text) == value


@pytest.mark.parametrize("text, value", [("a bit better", 1), ("much worse", -3), ("about the same", 0), ("2", 2)])
def test_rating_of_change(text: str, value: int) -> None:
    assert parse_change(text) == value


@pytest.mark.parametrize("text, value", [("too easy", "too_easy"), ("about right", "about_right"), ("brutal", "too_hard")])
def test_effort(text: str, value: str) -> None:
    assert parse_effort(text) == value


def test_weekly_tasks() -> None:
    assert parse_psfs_tasks("tying my shoes, sitting an hour and carrying shopping") == [
        "tying my shoes", "sitting an hour", "carrying shopping"]
    assert parse_psfs_tasks("skip") == []
