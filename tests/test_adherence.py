"""Adherence figures against a hand count over a made-up April."""
from __future__ import annotations

from datetime import date

import pytest

from knowledge.adherence import adherence_report, daily_series, days_since_last, week_figures


def april(*days: int) -> set[date]:
    return {date(2024, 4, d) for d in days}


# April 2024 starts on a Monday. Done: 20 of the 28 days.
DONE = april(1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 15, 16, 20, 21, 22, 23, 24, 25, 27, 28)
START = date(2024, 4, 1)

CASES = [
    # today, streak, week (done, planned), 7-day %, 28-day %, missed yesterday, missed in a row
    # Sun 28th: 27, 28 done; week 22-28 has 6; window 22-28 6/7; month 20/28.
    (28, 2, (6, 7), 100 * 6 / 7, 100 * 20 / 28, False, 0),
    # Fri 19th, not trained yet: 17, 18 missed; week 15-21 has 15, 16; window 13-18 counts
    # (today open) 2 of 6; since the 1st: days 1-18 counted, 12 done.
    (19, 0, (2, 7), 100 * 2 / 6, 100 * 12 / 18, True, 2),
    # Sat 20th, done today after missing 17-19: streak 1; window 14-20: 15, 16, 20 of 7; 13 of 20.
    (20, 1, (3, 7), 100 * 3 / 7, 100 * 13 / 20, True, 3),
    # Thu 4th (missed 4th so far, open): streak from 3rd back: 1, 2, 3.
    (4, 3, (3, 7), 100.0, 100.0, False, 0),
]


@pytest.mark.parametrize("day,streak,week,c7,c28,missed_y,missed_row", CASES)
def test_figures_match_hand_count(day, streak, week, c7, c28, missed_y, missed_row):
    today = date(2024, 4, day)
    done = {d for d in DONE if d <= today}
    report = adherence_report(done, {}, START, today)
    assert report.streak == streak
    assert (report.week_done, report.week_planned) == week
    assert report.completion_7 == pytest.approx(c7)
    assert report.completion_28 == pytest.approx(c28)
    assert report.missed_yesterday is missed_y
    assert report.missed_in_a_row == missed_row


def test_days_before_the_start_do_not_count():
    # Started Wednesday 3rd; today Sunday 7th; done 3, 4, 6.
    report = adherence_report(april(3, 4, 6), {}, date(2024, 4, 3), date(2024, 4, 7))
    assert week_figures(april(3, 4, 6), date(2024, 4, 3), date(2024, 4, 7)) == (3, 5)
    assert report.completion_7 == pytest.approx(100 * 3 / 4)  # 3..6 counted, 7th still open
    assert report.missed_in_a_row == 0
    assert adherence_report(set(), {}, date(2024, 4, 7), date(2024, 4, 7)).completion_7 is None


def test_series_and_summary():
    pain = {date(2024, 4, 27): 3, date(2024, 4, 28): 2, date(2024, 4, 10): 6}
    series = daily_series(DONE, pain, START, date(2024, 4, 28))
    assert len(series) == 28 and series[0].local_date == START  # the series starts on day 1
    assert sum(p.done for p in series) == 20
    assert [p.pain for p in series if p.pain is not None] == [6, 3, 2]
    report = adherence_report(DONE, pain, START, date(2024, 4, 28))
    assert report.summary.startswith("This week: 6 of 7 sessions done. Streak: 2 days in a row.")
    assert "86% of the last 7 days, 71% since you started" in report.summary
    assert "between 2 and 3 out of 10" in report.summary


# Every sentence the summary states, against a hand count. April 2024 starts on a Monday.
SUMMARY_CASES = [
    # (start, today, done days, sentences that must appear, sentences that must not)
    # Day 1, trained: one week sentence, and completion over the one day there is (it once said
    # "100% of the last 7 days" beside "1 of 6 sessions").
    (2, 2, (2,), ["This week: 1 of 6 sessions done, 5 days to go.", "Completion: 1 of 1 day since you started."],
     ["of the last 7 days", "still open", "last session was"]),
    # Day 1, not trained yet: nothing missed, nothing counted.
    (2, 2, (), ["This week: 0 of 6 sessions done, 6 days to go.", "Completion: nothing to count yet, today is day 1."],
     ["last session was", "No session yet:"]),
    # Four days after the only session (started the 1st, trained the 1st, today the 5th): 1 of 4
    # counted days, and the last session was 4 days ago (it once said "It's been 3 days").
    (1, 5, (1,), ["This week: 1 of 7 sessions done, 3 days to go.", "Completion: 1 of 4 days since you started.",
                  "Your last session was 4 days ago"], ["still open"]),
    # Started the 3rd and never trained; today the 5th: yesterday was missed, no session yet.
    (3, 5, (), ["Completion: 0 of 2 days since you started.", "No session yet: today is a good day"],
     ["last session was"]),
    # A full first week: 7-day figure only; the 28-day figure waits until there are more days.
    (1, 7, (1, 2, 3, 5, 6, 7), ["This week: 6 of 7 sessions done.", "Completion: 86% of the last 7 days."],
     ["since you started", "of the last 28", "to go"]),
    # Past four weeks: both windows.
    (1, 30, tuple(range(1, 31, 2)) + (30,), ["of the last 7 days, ", "of the last 28."], ["since you started"]),
]


@pytest.mark.parametrize("start,today,done,present,absent", SUMMARY_CASES)
def test_summary_sentences(start, today, done, present, absent):
    report = adherence_report(april(*done), {}, date(2024, 4, start), date(2024, 4, today))
    for sentence in present:
        assert sentence in report.summary
    for sentence in absent:
        assert sentence not in report.summary


@pytest.mark.parametrize("done,today,expected", [
    ((), 5, None), ((5,), 5, 0), ((1,), 5, 4), ((1, 3), 5, 2), ((1, 9), 5, 4),  # a future day is ignored
])
def test_days_since_last(done, today, expected):
    assert days_since_last(april(*done), date(2024, 4, today)) == expected
