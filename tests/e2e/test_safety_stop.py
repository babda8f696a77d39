"""The red-flag stop through the real conversation (model, rules, forms, action server): it stops
in every state, nothing from the message is stored, coaching stays paused across a restart of
every process, and comes back after "a doctor checked me" and one confirming question.

Checked by removing the fix: with RasaCoach built without its SafetyGate, every test here
fails; with `records.open_stop` always answering None, the restart test fails.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from knowledge.db import get_engine, session_factory
from tests.onboarding_script import ONBOARDING, QUESTIONS, up_to

pytestmark = pytest.mark.slow

CHECKIN = ["checkin_pain", "checkin_glute_feel", "checkin_effort"]
RED_FLAG_ANSWERS = {
    "consent": "ok sure, but my groin has gone numb since yesterday",
    "screen_clear": "not sure, I wet myself this morning without noticing",
    "goal": "stronger glutes. also my foot keeps slapping the floor when I walk",
    "equipment": "just bands, and I've had a fever and chills for days with my back pain",
    "experience": "2 years, but I fell off a ladder yesterday and my back hurts a lot",
    "current_pain": "about a 6, and I have had a fever and chills for days with my back pain",
    "reminder_time": "7am. lost control of my bladder last night",
    "timezone": "berlin. my whole right leg has gone dead, can't feel it at all",
    "checkin_pain": "7, and my legs keep getting weaker, I tripped twice this week",
    "checkin_glute_feel": "8 but my bum has been numb for days and it won't go away",
    "checkin_effort": "about right. also lost 8kg without trying and my back aches at night",
    "mid_session": "done, but my foot keeps dragging when i walk and it is getting worse",
}


def say(coach: Any, loop: asyncio.AbstractEventLoop, user: str, text: str) -> Any:
    return loop.run_until_complete(coach.handle(user, text))


def onboard(coach: Any, loop: asyncio.AbstractEventLoop, user: str) -> None:
    for message in ONBOARDING:
        turn = say(coach, loop, user, message)
    assert any("You're set up" in r.text for r in turn.replies), [r.text for r in turn.replies]


def gives_exercise(turn: Any) -> bool:
    return bool(turn.refs["exercises"]) and not turn.refs["red_flag"]


def tracker_of(coach: Any, loop: asyncio.AbstractEventLoop, user: str) -> Any:
    return loop.run_until_complete(coach.agent.tracker_store.retrieve(user))



def rows_for(user: str, *tables: str) -> dict[str, int]:
    from sqlalchemy import text

    engine = get_engine()
    with engine.connect() as conn:
        return {t: int(conn.execute(text(f'SELECT COUNT(*) FROM "{t}" WHERE user_id = :u'), {"u": user}).scalar_one()) for t in tables}


@pytest.mark.parametrize("question", QUESTIONS + CHECKIN + ["mid_session"])
def test_a_red_flag_inside_every_form_answer_stops_the_form(coach: Any, loop: asyncio.AbstractEventLoop, question: str) -> None:
    user = f"safety-form-{question}"
    if question in QUESTIONS:
        for message in up_to(question):
            say(coach, loop, user, message)
        assert tracker_of(coach, loop, user).get_slot("requested_slot") == question
    elif question == "mid_session":
        onboard(coach, loop, user)
        assert gives_exercise(say(coach, loop, user, "/start_session"))
        assert tracker_of(coach, loop, user).get_slot("session_state") == "exercising"
    else:
        onboard(coach, loop, user)
        turn = say(coach, loop, user, "/start_session")
        for _ in range(8):
            if tracker_of(coach, loop, user).active_loop_name == "checkin_form":
                break
            turn = say(coach, loop, user, "/session_done")
        answers = {"checkin_pain": '/inform{"pain": "3"}', "checkin_glute_feel": '/inform{"pain": "6"}'}
        for earlier in CHECKIN[: CHECKIN.index(question)]:
            say(coach, loop, user, answers[earlier])
        assert tracker_of(coach, loop, user).get_slot("requested_slot") == question
    turn = say(coach, loop, user, RED_FLAG_ANSWERS[question])
    assert turn.refs["red_flag"] is True, [r.text for r in turn.replies]
    tracker = tracker_of(coach, loop, user)
    assert tracker.active_loop_name is None, "the form must stop"
    if question != "mid_session":
        assert tracker.get_slot(question) is None, "the answer must not be stored"
    assert tracker.get_slot("session_state") in (None, "none")
    assert rows_for(user, "checkins", "safety_events") == {"checkins": 0, "safety_events": 1}
    if question in ("current_pain", "checkin_pain", "checkin_glute_feel"):
        assert rows_for(user, "pain_log") == {"pain_log": 0}
    # The form does not come back with its next question: coaching is paused.
    after = say(coach, loop, user, "/start_session" if question in CHECKIN else "/start")
    assert not gives_exercise(after) and after.refs["red_flag"] is True


def test_a_stop_pauses_coaching_across_a_restart_until_a_doctor_has_checked(trained_model: Path, database_url: str) -> None:
    from bot.action_server import ActionServer
    from bot.rasa_bridge import RasaCoach
    from knowledge import reminders
    from knowledge.clock import SystemClock

    user = "safety-restart"
    loop = asyncio.new_event_loop()
    try:
        with ActionServer() as server:
            coach = RasaCoach.load(trained_model, server.url, database_url)
            onboard(coach, loop, user)
            assert gives_exercise(say(coach, loop, user, "/start_session"))
            stop = say(coach, loop, user, "I've had a fever and chills for days and my back is killing me")
            assert stop.refs["red_flag"] is True and stop.refs["red_flag_id"] == "infection"
            before = rows_for(user, "checkins", "pain_log")
            for request in ("/start_session", "start my session", "/session_done", "how do i do a glute bridge",
                            '/inform{"pain": "3"}', "hi", "/affirm"):
                turn = say(coach, loop, user, request)
                assert not gives_exercise(turn), (request, [r.text for r in turn.replies])
            # The check-in cannot go on either: no pain, no check-in stored.
            assert rows_for(user, "checkins", "pain_log") == before
        # Every process restarts: a new action server, a new model load, the same database.
        with ActionServer() as server:
            coach = RasaCoach.load(trained_model, server.url, database_url)
            assert not gives_exercise(say(coach, loop, user, "/start_session"))
            # The reminder scheduler leaves a paused person out (and skips the day's reminder).
            engine = get_engine(database_url)
            with session_factory(engine)() as session:
                from knowledge.reminder_models import ReminderDelivery

                now = SystemClock().now()
                reminders._upsert(session, user, now.date(), "daily", due_at=now, state="scheduled", reset=True)
                session.commit()
                claimed = reminders.claim_due(session, now, "test-worker", record=False)
                assert user not in {c.user_id for c in claimed}
                states = session.execute(select(ReminderDelivery.state).where(ReminderDelivery.user_id == user)).scalars().all()
                assert states and set(states) == {"skipped"}
            asked = say(coach, loop, user, "a doctor checked me, all clear")
            assert [b.payload for r in asked.replies for b in r.buttons] == ["/affirm", "/deny"]
            assert not gives_exercise(asked)
            back = say(coach, loop, user, "/affirm")
            assert any("Coaching is back on" in r.text for r in back.replies), [r.text for r in back.replies]
            assert gives_exercise(say(coach, loop, user, "/start_session"))
            # /export shows the records (which flag, when, never the message); /delete erases them.
            export = say(coach, loop, user, "/export_data")
            document = json.loads(Path(next(r.document for r in export.replies if r.document)).read_text(encoding="utf-8"))
            kinds = [row["kind"] for row in document["tables"]["safety_events"]]
            assert kinds == ["stop", "check_asked", "cleared"]
            assert "chills" not in json.dumps(document["tables"]["safety_events"])
            say(coach, loop, user, "/delete_data")
            say(coach, loop, user, "/delete_confirm")
            assert rows_for(user, "safety_events", "safety_checks") == {"safety_events": 0, "safety_checks": 0}
            fresh = say(coach, loop, user, "/start_session")
            assert not gives_exercise(fresh) and any("set you up" in r.text for r in fresh.replies)
    finally:
        loop.close()


def test_ordinary_talk_and_a_no_to_the_question_leave_the_conversation_where_it_was(coach: Any, loop: asyncio.AbstractEventLoop) -> None:
    user = "safety-possible"
    for message in up_to("current_pain"):
        say(coach, loop, user, message)
    assert tracker_of(coach, loop, user).get_slot("requested_slot") == "current_pain"
    asked = say(coach, loop, user, "3, i have a fever though")
    assert asked.refs["red_flag_check"] == "infection" and asked.refs["red_flag"] is False
    assert tracker_of(coach, loop, user).get_slot("requested_slot") == "current_pain"  # nothing moved yet
    resumed = say(coach, loop, user, "no")
    assert resumed.refs["red_flag"] is False
    tracker = tracker_of(coach, loop, user)
    assert tracker.get_slot("current_pain") is not None and tracker.get_slot("requested_slot") == "reminder_time"
