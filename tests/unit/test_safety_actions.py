"""Actions on the safety path, in the way of Rasa's financial-demo: a tracker built from a dict,
the action run with a CollectingDispatcher, its messages and events checked."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import common
from actions.onboarding import ActionFinishOnboarding
from actions.safety import ActionRedFlag
from knowledge.loader import load


def tracker(slots: dict, entities: list | None = None, text: str = "", sender: str = "unit-safety") -> Tracker:
    return Tracker.from_dict({
        "sender_id": sender, "slots": slots, "events": [], "paused": False, "followup_action": None,
        "active_loop": {}, "latest_action_name": "action_listen",
        "latest_message": {"text": text, "intent": {"name": "red_flag", "confidence": 1.0}, "entities": entities or []},
    })


@pytest.fixture(scope="module", autouse=True)
def knowledge_base() -> None:
    load(common.engine())


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["text"] for m in dispatcher.messages if m.get("text")]


def refs(dispatcher: CollectingDispatcher) -> dict:
    return next(m["custom"]["kb_refs"] for m in dispatcher.messages if (m.get("custom") or {}).get("kb_refs"))


def test_red_flag_action_gives_the_named_flags_advice_and_ends_the_session_state() -> None:
    dispatcher = CollectingDispatcher()
    events = ActionRedFlag().run(dispatcher, tracker({}, [{"entity": "red_flag", "value": "infection"}]), {})
    assert refs(dispatcher)["red_flag_id"] == "infection"
    assert any("infection" in t for t in texts(dispatcher))
    assert {"event": "slot", "name": "session_state", "value": "none", "timestamp": None} in events


def test_a_yes_to_the_onboarding_question_is_recorded_as_a_stop() -> None:
    from knowledge.safety import records

    dispatcher = CollectingDispatcher()
    ActionFinishOnboarding().run(dispatcher, tracker({"consent": True, "screen_clear": False}, sender="unit-yes"), {})
    assert refs(dispatcher)["red_flag"] is True
    with common.db_session() as session:
        assert records.open_stop(session, "unit-yes") is not None


@pytest.mark.parametrize("question", ["onboarding", "weekly re-check"])
def test_when_the_stop_cannot_be_recorded_the_advice_is_still_given_and_the_failure_is_loud(
        question: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from actions.weekly import ActionWeeklySubmit
    from knowledge.safety import records

    def broken() -> None:
        raise RuntimeError("database is gone")

    marker = tmp_path / "marker.json"
    monkeypatch.setattr("actions.safety.db_session", broken)
    monkeypatch.setattr(records, "failure_marker_path", lambda: marker)
    dispatcher = CollectingDispatcher()
    with caplog.at_level(logging.ERROR):
        if question == "onboarding":
            ActionFinishOnboarding().run(dispatcher, tracker({"consent": True, "screen_clear": False}, sender="unit-broken"), {})
        else:
            ActionWeeklySubmit().run(dispatcher, tracker({"week_screen_clear": False}, sender="unit-broken"), {})
    assert refs(dispatcher)["red_flag"] is True and texts(dispatcher)
    assert any(f"could not record the red-flag stop of the {question} question" in r.getMessage() and r.exc_info
               for r in caplog.records)
    assert json.loads(marker.read_text(encoding="utf-8"))["error"] == "RuntimeError"
