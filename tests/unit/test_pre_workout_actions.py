"""The pre-workout actions, in the way of Rasa's financial-demo: a tracker built from a dict,
the action run with a CollectingDispatcher, its messages, refs and stored record checked."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import common
from actions.pre_workout import ActionPreWorkout, ActionPrimerDone, resolve_activity
from knowledge import coaching
from knowledge.clock import FixedClock
from knowledge.loader import load
from knowledge.primer_models import PrimerRecord


def tracker(text: str, entities: list | None = None, sender: str = "unit-primer", intent: str = "pre_workout") -> Tracker:
    return Tracker.from_dict({
        "sender_id": sender, "slots": {}, "events": [], "paused": False, "followup_action": None,
        "active_loop": {}, "latest_action_name": "action_listen",
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities or []},
    })


@pytest.fixture(scope="module", autouse=True)
def knowledge_base() -> None:
    load(common.engine())


def refs(dispatcher: CollectingDispatcher) -> dict:
    return next(m["custom"]["kb_refs"] for m in dispatcher.messages if (m.get("custom") or {}).get("kb_refs"))


def records(user: str) -> list[PrimerRecord]:
    with common.db_session() as session:
        return list(session.execute(select(PrimerRecord).where(PrimerRecord.user_id == user)).scalars())


@pytest.mark.parametrize("text, entities, expected", [
    ("key cues for hip thrusts?", [{"entity": "exercise", "value": "hip_thrust"}], "lift_hip_thrust"),
    ("/pre_workout", [{"entity": "activity", "value": "activity_cycling"}], "activity_cycling"),  # a menu button
    ("off for a jog shortly", [], "activity_running"),
    ("squat day", [{"entity": "activity", "value": "lift_deadlift", "extractor": "KBItemClassifier", "confidence": 0.3}],
     "lift_squat"),  # an unsure classifier loses to the name in the words
    ("warm up please", [], None),
])
def test_resolve_activity(text: str, entities: list, expected: str | None) -> None:
    assert resolve_activity(tracker(text, entities)) == expected


def test_no_activity_named_gets_the_menu() -> None:
    dispatcher = CollectingDispatcher()
    ActionPreWorkout().run(dispatcher, tracker("warm up please", sender="unit-menu"), {})
    [menu] = [m for m in dispatcher.messages if m.get("text")]
    assert len(menu["buttons"]) == len(common.kb().activities())
    assert menu["buttons"][0]["payload"] == '/pre_workout{"activity": "lift_squat"}'
    assert records("unit-menu") == []


def test_a_stranger_gets_the_default_primer_an_offer_to_set_up_and_a_record() -> None:
    dispatcher = CollectingDispatcher()
    ActionPreWorkout().run(dispatcher, tracker("deadlifts in 20 min, anything to think about?", sender="unit-dl"), {})
    found = refs(dispatcher)
    assert found["activities"] == ["lift_deadlift"] and found["faults"] == []
    assert found["exercises"] and all(common.kb().exercise(e).level == 1 for e in found["exercises"])
    texts = [m["text"] for m in dispatcher.messages if m.get("text")]
    assert texts[0].startswith("Deadlift and hinge primer, about")
    assert any(b["payload"] == "/start" for m in dispatcher.messages for b in m.get("buttons") or [])
    [row] = records("unit-dl")
    assert (row.activity_id, row.minutes, row.drills_done) == ("lift_deadlift", 4, None)  # 20 min is the start


def test_a_set_up_person_gets_their_own_fault_first_and_the_follow_up_is_stored() -> None:
    user = "unit-known"
    clock = FixedClock(datetime.now(timezone.utc))
    coaching.save_onboarding(common.engine(), user, goal="g", equipment=["band"], experience="some", baseline_pain=1,
                             faults=["knee_valgus"], clock=clock)
    dispatcher = CollectingDispatcher()
    ActionPreWorkout().run(dispatcher, tracker("about to squat, just 2 minutes", sender=user), {})
    found = refs(dispatcher)
    assert found["faults"] == ["knee_valgus"] and found["cues"][0] == "knees_track_toes"
    assert not any(b["payload"] == "/start" for m in dispatcher.messages for b in m.get("buttons") or [])
    assert records(user)[0].minutes == 2

    done = CollectingDispatcher()
    ActionPrimerDone().run(done, tracker("/primer_done", [{"entity": "felt", "value": "elsewhere"}], sender=user,
                                         intent="primer_done"), {})
    assert refs(done)["activities"] == ["lift_squat"]
    [row] = records(user)
    assert (row.drills_done, row.felt) == (True, "elsewhere") and row.followed_up_at is not None
