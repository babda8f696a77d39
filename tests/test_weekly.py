"""The weekly check-in: the measures against the baseline (minimal important changes from the
knowledge base), what is stored, when it is due, the reminder's note, /export and /delete, and
the form's actions with a tracker from a dict and a CollectingDispatcher."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from knowledge import coaching, parsing, privacy, weekly
from knowledge.clock import FixedClock
from knowledge.db import create_all, make_engine, session_factory
from knowledge.progression import load_progression_rules
from knowledge.reminder_text import WEEKLY_NOTE, reminder_text
from knowledge.trainee_models import Trainee, WeeklyCheckIn

BERLIN = ZoneInfo("Europe/Berlin")
RULES = load_progression_rules().weekly
USER = "weekly-user"


@pytest.fixture()
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'coach.db'}")
    create_all(engine)
    return engine


def at(day: int, hour: int = 19) -> FixedClock:
    return FixedClock(datetime(2024, 3, day, hour, 0, tzinfo=BERLIN))


def onboard(engine, day: int = 4) -> None:
    coaching.save_onboarding(engine, USER, goal="g", equipment=["none"], experience="beginner", baseline_pain=5,
                             timezone="Europe/Berlin", clock=at(day, 8))


@pytest.mark.parametrize("now, then, meaningful, better", [
    (3, 5, True, True),    # 2 points down
    (4, 5, False, False),  # 1 point, 20%
    (2, 3, True, True),    # 1 point but 33% of a low baseline
    (7, 5, True, False),   # 2 points up: worse
    (2, 1, False, False),  # a rise is judged by points only
    (5, 5, False, False),
])
def test_pain_change_uses_two_points_or_thirty_percent(now, then, meaningful, better) -> None:
    m = weekly.pain_measure("pain_average", now, then, RULES)
    assert (m.meaningful, m.better) == (meaningful, better)
    assert m.worse == (meaningful and not better)


@pytest.mark.parametrize("pain_then, pain_now, change, expected", [
    (5, 3, 1, "better"),
    (5, 3, -1, "same"),    # the person says it got a little worse: no "better" claimed
    (5, 5, 3, "same"),     # the person's rating alone does not make a measured improvement
    (5, 5, -2, "worse"),   # but saying "worse" is enough for worse
    (3, 5, 2, "worse"),    # pain up 2 points
])
def test_outcome_of_measures_and_rating(pain_then, pain_now, change, expected) -> None:
    measures = [weekly.pain_measure("pain_average", pain_now, pain_then, RULES)]
    assert weekly.outcome_of(measures, change) == expected


@pytest.mark.parametrize("text, tasks", [
    ("tying my shoes, sitting an hour and carrying shopping", ["tying my shoes", "sitting an hour", "carrying shopping"]),
    ("skip", []),
    ("None.", []),
    ("1) bending over 2) running", ["bending over", "running"]),
    ("It's hard to sit for long; lifting my kid", ["sit for long", "lifting my kid"]),
])
def test_psfs_tasks_are_read_from_free_text(text, tasks) -> None:
    assert parsing.parse_psfs_tasks(text) == tasks


def test_psfs_tasks_over_the_limit_are_refused() -> None:
    with pytest.raises(parsing.ParseError):
        parsing.parse_psfs_tasks("sitting, standing, walking, running")


@pytest.mark.parametrize("text, value", [
    ("2", 2), ("-3", -3), ("a bit better", 1), ("much better", 3), ("about the same", 0),
    ("not better", 0), ("worse", -2), ("slightly worse", -1), ("way worse", -3),
])
def test_rating_of_change_from_buttons_and_words(text, value) -> None:
    assert parsing.parse_change(text) == value


def test_first_and_second_week_stored_and_compared(engine) -> None:
    onboard(engine)
    weekly.set_psfs_tasks(engine, USER, ["tying my shoes", "sitting an hour"], clock=at(11))
    first = weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(5, 7, (4, 6), 0, True), clock=at(11))
    assert (first.week, first.outcome) == (1, "first")
    assert "starting point" in first.text and "tying my shoes: 4/10" in first.text
    second = weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(3, 6, (7, 6), 2, True), clock=at(18))
    assert (second.week, second.outcome) == (2, "better")
    lines = second.text.splitlines()
    assert "• Average pain: 3/10, was 5 (down 2, a meaningful improvement)." in lines
    assert "• Worst pain: 6/10, was 7 (down 1)." in lines
    assert "• tying my shoes: 7/10, was 4 (up 3, about a meaningful improvement)." in lines
    assert "• sitting an hour: 6/10, was 6 (no change)." in lines
    assert RULES.plan["better"] in lines
    with session_factory(engine)() as s:
        rows = s.execute(select(WeeklyCheckIn).where(WeeklyCheckIn.user_id == USER).order_by(WeeklyCheckIn.id)).scalars().all()
        assert [(r.week, r.pain_average, r.pain_worst, r.change, r.outcome) for r in rows] == [
            (1, 5, 7, 0, "first"), (2, 3, 6, 2, "better")]
        assert rows[1].psfs == [{"task": "tying my shoes", "score": 7}, {"task": "sitting an hour", "score": 6}]
        assert s.get(Trainee, USER).reduce_volume_next is False


def test_a_worse_week_lightens_the_next_session(engine) -> None:
    onboard(engine)
    weekly.set_psfs_tasks(engine, USER, [], clock=at(11))
    weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(2, 3, (), 0, True), clock=at(11))
    result = weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(5, 7, (), -2, True), clock=at(18))
    assert result.outcome == "worse" and RULES.plan["worse"] in result.text
    with session_factory(engine)() as s:
        assert s.get(Trainee, USER).reduce_volume_next is True


def test_a_second_answer_on_the_same_day_replaces_the_first(engine) -> None:
    onboard(engine)
    weekly.set_psfs_tasks(engine, USER, [], clock=at(11))
    weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(5, 7, (), 0, True), clock=at(11, 9))
    weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(4, 6, (), 0, True), clock=at(11, 20))
    assert [(r.pain_average, r.pain_worst) for r in weekly.history(engine, USER)] == [(4, 6)]


def test_bad_answers_are_refused(engine) -> None:
    onboard(engine)
    weekly.set_psfs_tasks(engine, USER, ["running"], clock=at(11))
    with pytest.raises(coaching.CoachingError):
        weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(5, 7, (), 0, True), clock=at(11))  # one score missing
    with pytest.raises(coaching.CoachingError):
        weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(11, 7, (3,), 0, True), clock=at(11))
    with pytest.raises(coaching.CoachingError):
        weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(5, 7, (3,), 4, True), clock=at(11))
    with pytest.raises(coaching.CoachingError):
        weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(5, 7, (3,), 0, False), clock=at(11))
    assert weekly.history(engine, USER) == ()


def test_due_a_week_after_the_start_and_after_each_check_in(engine) -> None:
    onboard(engine, day=4)
    assert not weekly.check_in_due(engine, USER, clock=at(10))
    assert weekly.check_in_due(engine, USER, clock=at(11))
    weekly.set_psfs_tasks(engine, USER, [], clock=at(11))
    weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(3, 4, (), 0, True), clock=at(12))
    assert not weekly.check_in_due(engine, USER, clock=at(18))
    assert weekly.check_in_due(engine, USER, clock=at(19))
    assert weekly.due_prompt(engine, USER, clock=at(19)) == weekly.DUE_TEXT


def test_the_daily_reminder_says_when_the_weekly_check_in_is_due(engine) -> None:
    onboard(engine, day=4)
    with session_factory(engine)() as s:
        assert WEEKLY_NOTE not in reminder_text(s, USER, "daily", at(10, 7))
        assert reminder_text(s, USER, "daily", at(11, 7)).endswith(WEEKLY_NOTE)
        assert WEEKLY_NOTE not in reminder_text(s, USER, "snooze", at(11, 7))


def test_export_has_the_weekly_check_ins_and_tasks_and_delete_removes_them(engine) -> None:
    onboard(engine)
    weekly.set_psfs_tasks(engine, USER, ["tying my shoes"], clock=at(11))
    weekly.record_weekly(engine, USER, weekly.WeeklyAnswers(5, 7, (4,), 1, True), clock=at(11))
    exported = privacy.export_user(engine, USER)
    assert exported["trainees"][0]["psfs_tasks"] == ["tying my shoes"]
    [row] = exported["weekly_checkins"]
    assert (row["pain_average"], row["pain_worst"], row["psfs"], row["change"]) == (5, 7, [{"task": "tying my shoes", "score": 4}], 1)
    assert privacy.delete_user(engine, USER) > 0
    assert privacy.export_user(engine, USER) == {}
    with session_factory(engine)() as s:
        assert s.execute(select(WeeklyCheckIn)).first() is None


# --- the form's actions -----------------------------------------------------------------------


def tracker(sender: str, slots: dict | None = None, text: str = "", intent: str = "inform") -> Tracker:
    return Tracker.from_dict({
        "sender_id": sender, "slots": slots or {}, "events": [], "paused": False, "followup_action": None,
        "active_loop": {"name": "weekly_form"}, "latest_action_name": "action_listen",
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []},
    })


@pytest.fixture()
def action_user(monkeypatch, tmp_path):
    from actions import common
    from knowledge.loader import load

    load(common.engine())  # the red-flag advice comes from the knowledge base
    now = tmp_path / "now.txt"
    now.write_text(datetime(2024, 3, 11, 19, 0, tzinfo=BERLIN).isoformat())
    monkeypatch.setenv("COACH_FAKE_NOW_FILE", str(now))
    user = f"weekly-actions-{tmp_path.name}"
    coaching.save_onboarding(common.engine(), user, goal="g", equipment=["none"], experience="beginner",
                             baseline_pain=4, timezone="Europe/Berlin", clock=at(4, 8))
    return user


SLOTS = ["week_tasks", "week_pain_average", "week_pain_worst", "week_psfs_1", "week_psfs_2", "week_psfs_3",
         "week_change", "week_screen_clear"]


async def test_the_form_asks_for_tasks_once_and_one_score_per_task(action_user) -> None:
    from actions import common
    from actions.weekly import ValidateWeeklyForm

    form = ValidateWeeklyForm()
    dispatcher = CollectingDispatcher()
    assert await form.required_slots(SLOTS, dispatcher, tracker(action_user), {}) == [
        "week_tasks", "week_pain_average", "week_pain_worst", "week_change", "week_screen_clear"]
    answer = form.validate_week_tasks("tying my shoes and sitting an hour", dispatcher, tracker(action_user), {})
    assert answer == {"week_tasks": "tying my shoes; sitting an hour"}
    assert weekly.psfs_tasks(common.engine(), action_user) == ["tying my shoes", "sitting an hour"]
    # Later weeks: no tasks question, two scores.
    assert await form.required_slots(SLOTS, dispatcher, tracker(action_user), {}) == [
        "week_pain_average", "week_pain_worst", "week_psfs_1", "week_psfs_2", "week_change", "week_screen_clear"]
    assert form.validate_week_pain_worst("2", dispatcher, tracker(action_user, {"week_pain_average": "4"}), {}) == {
        "week_pain_worst": None}
    assert "can't be lower than the average" in dispatcher.messages[-1]["text"]


async def test_a_yes_on_the_re_check_is_the_same_stop_and_stores_no_week(action_user) -> None:
    from actions import common
    from actions.weekly import ActionWeeklySubmit, ValidateWeeklyForm
    from knowledge.safety import records

    weekly.set_psfs_tasks(common.engine(), action_user, [])
    slots = {"week_pain_average": "3", "week_pain_worst": "5", "week_change": "1", "week_screen_clear": False}
    assert await ValidateWeeklyForm().required_slots(SLOTS, CollectingDispatcher(), tracker(action_user, slots), {}) == []
    dispatcher = CollectingDispatcher()
    events = ActionWeeklySubmit().run(dispatcher, tracker(action_user, slots), {})
    assert any("doctor" in (m.get("text") or "").lower() or "emergency" in (m.get("text") or "").lower()
               for m in dispatcher.messages), dispatcher.messages
    with session_factory(common.engine())() as s:
        assert records.open_stop(s, action_user) is not None
    assert weekly.history(common.engine(), action_user) == ()
    assert {e["name"] for e in events} == set(SLOTS) and all(e["value"] is None for e in events)


async def test_submit_stores_the_week_and_says_the_summary(action_user) -> None:
    from actions import common
    from actions.weekly import ActionWeeklySubmit

    weekly.set_psfs_tasks(common.engine(), action_user, ["running"])
    slots = {"week_pain_average": "3", "week_pain_worst": "5", "week_psfs_1": "6", "week_change": "1",
             "week_screen_clear": True}
    dispatcher = CollectingDispatcher()
    ActionWeeklySubmit().run(dispatcher, tracker(action_user, slots), {})
    [row] = weekly.history(common.engine(), action_user)
    assert (row.pain_average, row.pain_worst, row.psfs, row.change) == (3, 5, (("running", 6),), 1)
    assert "starting point" in dispatcher.messages[-1]["text"]
