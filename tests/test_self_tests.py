"""Self-tests: a result given with a button or in words is stored, its faults lead the plan, it
shows in /progress, /export has it and /delete removes it; and through the real conversation a
single-leg stance with a pelvic drop gives a plan that opens on the hip-drop work, and /export
then /delete cover the self-test, the weekly check-in and its PSFS tasks."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from knowledge import coaching, privacy, self_tests
from knowledge.clock import FixedClock
from knowledge.db import create_all, make_engine, session_factory
from knowledge.loader import load
from knowledge.queries import KnowledgeBase
from knowledge.trainee_models import SelfTestResult, Trainee, WeeklyCheckIn

BERLIN = ZoneInfo("Europe/Berlin")
USER = "self-test-user"


@pytest.fixture()
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'coach.db'}")
    create_all(engine)
    load(engine)
    return engine


@pytest.fixture()
def kb(engine):
    return KnowledgeBase.load(engine)


def at(day: int, hour: int = 19) -> FixedClock:
    return FixedClock(datetime(2024, 3, day, hour, 0, tzinfo=BERLIN))


def onboard(engine, faults=("lumbar_dominance",)) -> None:
    coaching.save_onboarding(engine, USER, goal="g", equipment=["none", "band"], experience="beginner",
                             baseline_pain=2, faults=list(faults), timezone="Europe/Berlin", clock=at(4, 8))


@pytest.mark.parametrize("text, result", [
    ("positive", "positive"),                                  # a button's result id
    ("Hip dropped or I leaned", "positive"),                   # its label typed back
    ("my right hip dropped when I stood on my left leg", "positive"),
    ("I had to lean over to stay up", "positive"),
    ("stayed level the whole time", "negative"),
    ("it dropped and the front of my hip burned", "positive_with_front_hip_burn"),  # the longer phrase wins
    ("no idea, I fell over", None),
])
def test_single_leg_stance_results_from_buttons_and_words(kb, text, result) -> None:
    found = self_tests.match_result(kb.assessment("single_leg_stance_test"), text)
    assert (found.result if found else None) == result


@pytest.mark.parametrize("text, assessment", [
    ("self test single leg stance", "single_leg_stance_test"),
    ("can I do the hip drop test", "single_leg_stance_test"),
    ("let's do the single leg bridge hold", "single_leg_bridge_hold"),
    ("knee tracking test please", "single_leg_squat_tracking"),
    ("a self-test", None),
])
def test_a_test_is_found_by_its_name(kb, text, assessment) -> None:
    found = self_tests.find_assessment(kb, text)
    assert (found.id if found else None) == assessment


def test_a_pelvic_drop_puts_hip_drop_first_and_re_plans_before_the_first_session(engine, kb) -> None:
    onboard(engine)
    outcome = self_tests.record_result(engine, USER, kb, "single_leg_stance_test", "positive", clock=at(4, 10))
    assert outcome.faults == ("hip_drop", "lumbar_dominance")
    assert "hip dropping on one leg" in outcome.text
    step = coaching.start_or_resume_session(engine, USER, clock=at(4, 11))
    hip_drop_work = set(kb.get("fault", "hip_drop").exercises)
    assert "aimed at hip dropping on one leg" in step.why, step.why
    assert step.exercise_id in hip_drop_work, (step.exercise_id, hip_drop_work)
    with session_factory(engine)() as s:
        [row] = s.execute(select(SelfTestResult)).scalars().all()
        assert (row.assessment_id, row.result, row.faults, row.local_date.day) == (
            "single_leg_stance_test", "positive", ["hip_drop"], 4)
        assert s.get(Trainee, USER).faults == ["hip_drop", "lumbar_dominance"]


def test_a_session_already_under_way_is_not_re_planned(engine, kb) -> None:
    onboard(engine)
    started = coaching.start_or_resume_session(engine, USER, clock=at(4, 9))
    self_tests.record_result(engine, USER, kb, "single_leg_stance_test", "positive", clock=at(4, 10))
    assert coaching.start_or_resume_session(engine, USER, clock=at(4, 11)).exercise_id == started.exercise_id


def test_a_clean_result_changes_nothing(engine, kb) -> None:
    onboard(engine)
    outcome = self_tests.record_result(engine, USER, kb, "single_leg_stance_test", "negative", clock=at(4, 10))
    assert outcome.faults == ("lumbar_dominance",) and "Nothing to change" in outcome.text


def test_an_unknown_result_is_refused(engine, kb) -> None:
    onboard(engine)
    with pytest.raises(coaching.CoachingError):
        self_tests.record_result(engine, USER, kb, "single_leg_stance_test", "maybe", clock=at(4, 10))
    assert self_tests.history(engine, USER) == ()


def test_due_every_four_weeks_and_shown_over_time(engine, kb) -> None:
    onboard(engine)
    assert not self_tests.due(engine, USER, clock=at(31))
    assert self_tests.due(engine, USER, clock=FixedClock(datetime(2024, 4, 1, 9, tzinfo=BERLIN)))
    self_tests.record_result(engine, USER, kb, "single_leg_stance_test", "positive", clock=at(4, 10))
    self_tests.record_result(engine, USER, kb, "single_leg_stance_test", "negative",
                             clock=FixedClock(datetime(2024, 4, 1, 10, tzinfo=BERLIN)))
    assert not self_tests.due(engine, USER, clock=FixedClock(datetime(2024, 4, 28, 9, tzinfo=BERLIN)))
    text = self_tests.history_text(kb, self_tests.history(engine, USER))
    assert text == ("Self-tests: Single-leg stance (Trendelenburg): 4 Mar: hip dropped or I leaned, "
                    "1 Apr: level on both legs.")


def test_export_has_the_results_and_delete_removes_them(engine, kb) -> None:
    onboard(engine)
    self_tests.record_result(engine, USER, kb, "glute_squeeze_test", "compensating", clock=at(4, 10))
    [row] = privacy.export_user(engine, USER)["self_test_results"]
    assert (row["assessment_id"], row["result"], row["faults"]) == (
        "glute_squeeze_test", "compensating", ["lumbar_dominance", "hamstring_dominance"])
    privacy.delete_user(engine, USER)
    assert privacy.export_user(engine, USER) == {}


# --- through the real conversation ------------------------------------------------------------


@pytest.mark.slow
async def test_single_leg_stance_with_a_pelvic_drop_starts_the_plan_on_hip_drop_work(coach, database_url) -> None:
    from knowledge.db import get_engine
    from tests.onboarding_script import ONBOARDING

    user = "self-test-conversation"
    for message in ONBOARDING:
        await coach.handle(user, message)
    offer = await coach.handle(user, "can I do a self-test?")
    assert any(b.payload.startswith("/self_test{") for r in offer.replies for b in r.buttons), offer.to_json()
    steps = await coach.handle(user, '/self_test{"assessment": "single_leg_stance_test"}')
    assert any(r.image for r in steps.replies), "the test's set-up picture was not sent"
    assert any("1. Stand barefoot" in r.text and r.bold == ["Single-leg stance (Trendelenburg)"]
               for r in steps.replies), steps.to_json()
    assert any(b.payload == '/inform{"test_result": "positive"}' for r in steps.replies for b in r.buttons)
    reported = await coach.handle(user, "my right hip dropped when I stood on my left leg")
    assert reported.refs["faults"] == ["hip_drop"], reported.to_json()
    stored = self_tests.history(get_engine(database_url), user)
    assert [(r.assessment_id, r.result) for r in stored] == [("single_leg_stance_test", "positive")], reported.to_json()
    session = await coach.handle(user, "/start_session")
    kb = KnowledgeBase.load(get_engine(database_url))
    hip_drop_work = set(kb.get("fault", "hip_drop").exercises)
    assert session.refs["exercises"] and session.refs["exercises"][0] in hip_drop_work, session.to_json()
    assert any("aimed at hip dropping on one leg" in r.text for r in session.replies), session.to_json()
    first_title = kb.get("exercise", session.refs["exercises"][0]).title
    assert any(r.bold == [first_title] and first_title in r.text for r in session.replies), session.to_json()
    progress = await coach.handle(user, "/ask_progress")
    assert any("Self-tests: Single-leg stance (Trendelenburg):" in r.text for r in progress.replies), progress.to_json()

    # /export has the result and the weekly check-in with its PSFS task; /delete erases them.
    for message in ["/weekly_checkin", "sitting for an hour", "3", "4", "5", '/inform{"change": "1"}', "/deny"]:
        await coach.handle(user, message)
    export = await coach.handle(user, "/export_data")
    [path] = [r.document for r in export.replies if r.document]
    tables = json.loads(Path(path).read_text(encoding="utf-8"))["tables"]
    assert [(r["assessment_id"], r["result"]) for r in tables["self_test_results"]] == [("single_leg_stance_test", "positive")]
    assert [(r["pain_average"], r["pain_worst"], r["psfs"]) for r in tables["weekly_checkins"]] == [
        (3, 4, [{"task": "sitting for an hour", "score": 5}])]
    assert tables["trainees"][0]["psfs_tasks"] == ["sitting for an hour"]
    await coach.handle(user, "/delete_data")
    await coach.handle(user, "/delete_confirm")
    engine = get_engine(database_url)
    assert self_tests.history(engine, user) == ()
    with session_factory(engine)() as s:
        assert s.execute(select(WeeklyCheckIn).where(WeeklyCheckIn.user_id == user)).first() is None
        assert s.get(Trainee, user) is None


@pytest.mark.slow
async def test_asking_for_another_test_mid_test_starts_that_one(coach, database_url) -> None:
    from knowledge.db import get_engine
    from tests.onboarding_script import ONBOARDING

    user = "self-test-switch"
    for message in ONBOARDING:
        await coach.handle(user, message)
    await coach.handle(user, '/self_test{"assessment": "single_leg_stance_test"}')
    switched = await coach.handle(user, "self test single leg bridge hold")
    assert any(r.text.startswith("Single-leg bridge hold\n1. ") for r in switched.replies), switched.to_json()
    assert any(b.payload == '/inform{"test_result": "stopped_by_lower_back"}' for r in switched.replies for b in r.buttons)
    await coach.handle(user, '/inform{"test_result": "stopped_by_lower_back"}')
    assert [(r.assessment_id, r.result) for r in self_tests.history(get_engine(database_url), user)] == [
        ("single_leg_bridge_hold", "stopped_by_lower_back")]
