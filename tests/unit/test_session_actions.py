"""The session actions with a tracker from a dict and a CollectingDispatcher (Rasa's financial-demo
way): the session's opening is said once, each step records the cue it shows, and /pause offers
Resume only when there is something to resume."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import common
from actions.session import ActionSessionPause, ActionSessionStart, ActionSessionStep
from knowledge import coaching, form_answers
from knowledge.clock import FixedClock
from knowledge.loader import load


def tracker(text: str, sender: str, intent: str, slots: dict | None = None) -> Tracker:
    return Tracker.from_dict({
        "sender_id": sender, "slots": slots or {}, "events": [], "paused": False, "followup_action": None,
        "active_loop": {}, "latest_action_name": "action_listen",
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []},
    })


@pytest.fixture(scope="module", autouse=True)
def knowledge_base() -> None:
    load(common.engine())


def onboard(user: str) -> None:
    coaching.save_onboarding(common.engine(), user, goal="g", equipment=["none", "band"], experience="beginner",
                             baseline_pain=1, faults=["lumbar_dominance"],
                             clock=FixedClock(datetime.now(timezone.utc)))


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["text"] for m in dispatcher.messages if m.get("text")]


def all_refs(dispatcher: CollectingDispatcher) -> list[dict]:
    return [m["custom"]["kb_refs"] for m in dispatcher.messages if (m.get("custom") or {}).get("kb_refs")]


def test_steps_say_the_opening_once_and_record_their_cues() -> None:
    user = "unit-session-cues"
    onboard(user)
    dispatcher = CollectingDispatcher()
    ActionSessionStart().run(dispatcher, tracker("/start_session", user, "start_session"), {})
    said = texts(dispatcher)
    step = coaching.start_or_resume_session(common.engine(), user)  # the same step, read back
    assert step.kind == "exercise" and step.why
    assert sum(t.count(step.why) for t in said) == 1, said
    seen_cues = []
    while True:
        refs = all_refs(dispatcher)
        assert refs and refs[-1]["exercises"] == [step.exercise_id]
        # The step's picture comes first, as data for the bot to draw.
        pictures = [m["custom"]["picture"] for m in dispatcher.messages if (m.get("custom") or {}).get("picture")]
        assert [p["exercise"] for p in pictures] == [step.exercise_id]
        assert set(pictures[0]["positions"]) == {"start", "end"}
        assert refs[-1]["cues"] == ([step.cue_id] if step.cue_id else [])
        assert step.cue_text is None or step.cue_id, "a cue is shown without its id"
        seen_cues += refs[-1]["cues"]
        dispatcher = CollectingDispatcher()
        events = ActionSessionStep().run(
            dispatcher, tracker("/session_done", user, "session_done", {"session_state": "exercising"}), {}
        )
        step = coaching.start_or_resume_session(common.engine(), user)
        if step.kind != "exercise":
            assert any(e.get("name") == "checkin_form" for e in events if e.get("event") == "followup")
            break
    assert seen_cues, "no step recorded a cue"


def test_pause_offers_resume_only_when_something_runs() -> None:
    user = "unit-session-pause"
    onboard(user)
    dispatcher = CollectingDispatcher()
    ActionSessionPause().run(dispatcher, tracker("/pause", user, "pause_session"), {})
    [message] = [m for m in dispatcher.messages if m.get("text")]
    assert message["text"] == "There is no session running right now."
    assert not message.get("buttons")

    ActionSessionStart().run(CollectingDispatcher(), tracker("/start_session", user, "start_session"), {})
    dispatcher = CollectingDispatcher()
    ActionSessionPause().run(dispatcher, tracker("/pause", user, "pause_session"), {})
    [message] = [m for m in dispatcher.messages if m.get("text")]
    assert message["text"].startswith("Paused at exercise 1 of")
    assert [b["title"] for b in message["buttons"]] == ["Resume"]


def pressed(sender: str, metadata: dict) -> Tracker:
    t = tracker("/session_done", sender, "session_done", slots={"session_state": "in_progress"})
    t.latest_message["metadata"] = metadata
    return t


def test_done_handled_twice_for_the_same_message_advances_once() -> None:
    # The turn's key comes from the front end's metadata (bot.telegram_app._metadata): a
    # redelivered update, or the Done button under one message pressed twice, is one step.
    user = "unit-session-idempotent"
    onboard(user)
    ActionSessionStart().run(CollectingDispatcher(), tracker("/start_session", user, "start_session"), {})
    update = {"source": "text", "chat_id": 1, "update_id": 5001, "message_id": 70}
    for _ in range(2):
        ActionSessionStep().run(CollectingDispatcher(), pressed(user, update), {})
    assert coaching.start_or_resume_session(common.engine(), user).position == 2
    button = {"source": "button", "chat_id": 1, "update_id": 5002, "message_id": 71}
    for update_id in (5002, 5003):  # two presses, two updates, one message
        ActionSessionStep().run(CollectingDispatcher(), pressed(user, {**button, "update_id": update_id}), {})
    assert coaching.start_or_resume_session(common.engine(), user).position == 3
    ActionSessionStep().run(CollectingDispatcher(), pressed(user, {**button, "update_id": 5004, "message_id": 72}), {})
    after = coaching.start_or_resume_session(common.engine(), user)
    assert after.position == 4 or after.kind == "checkin"  # a three-exercise session is over


@pytest.mark.parametrize("text, intent, entity", [
    ("should i do 12 reps or 15?", "report_pain", "12"),
    ("i do night shifts so i train around 2am, ok?", "inform", "2"),
    ("7am", "inform", "7"),
])
def test_a_number_that_is_not_about_pain_logs_no_pain_and_stops_nothing(text: str, intent: str, entity: str) -> None:
    from sqlalchemy import func, select

    from actions.session import ActionReportPain
    from knowledge.db import session_factory
    from knowledge.trainee_models import PainEntry

    user = f"unit-not-pain-{abs(hash(text))}"
    onboard(user)
    ActionSessionStart().run(CollectingDispatcher(), tracker("/start_session", user, "start_session"), {})
    before = coaching.start_or_resume_session(common.engine(), user)
    message = tracker(text, user, intent, {"session_state": "exercising"})
    message.latest_message["entities"] = [{"entity": "pain", "value": entity}]
    dispatcher = CollectingDispatcher()
    events = ActionReportPain().run(dispatcher, message, {})
    assert events == [] and texts(dispatcher) == [form_answers.NOT_A_PAIN_SCORE]
    with session_factory(common.engine())() as db:
        assert db.scalar(select(func.count()).select_from(PainEntry).where(PainEntry.user_id == user)) == 0
    after = coaching.start_or_resume_session(common.engine(), user)
    assert (after.kind, after.exercise_id) == (before.kind, before.exercise_id)  # the session did not move on


def test_a_pain_report_in_a_session_is_logged() -> None:
    from sqlalchemy import select

    from actions.session import ActionReportPain
    from knowledge.db import session_factory
    from knowledge.trainee_models import PainEntry

    user = "unit-pain-report"
    onboard(user)
    message = tracker("back pain is 3 today", user, "report_pain")
    message.latest_message["entities"] = [{"entity": "pain", "value": "3"}]
    ActionReportPain().run(CollectingDispatcher(), message, {})
    with session_factory(common.engine())() as db:
        assert db.scalars(select(PainEntry.value).where(PainEntry.user_id == user)).all() == [3]
