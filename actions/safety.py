"""Red flags: the advice, in any state of the conversation.

The screen in front of the conversation (bot/safety_gate.py) decides that a message is a red
flag, records the stop and hands Rasa the ``red_flag`` intent with the flag's id; this action
only gives that flag's advice and ends whatever was going on. It never decides on its own.
"""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clock, db_session, entity_values, kb, send, user_id
from knowledge import answers

log = logging.getLogger(__name__)


class ActionRedFlag(Action):
    def name(self) -> str:
        return "action_red_flag"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        base = kb()
        flag_ids = [f for f in entity_values(tracker, "red_flag") if base.get("red_flag", f) is not None]
        if flag_ids:
            send(dispatcher, answers.red_flag_answer(base, flag_ids))
        else:
            # Only the screen sends this intent, always with a flag: a stop without one came
            # from the onboarding question ("do any of these apply?"). All the advice, then.
            send(dispatcher, answers.general_red_flag_answer(base))
        return [SlotSet("session_state", "none"), SlotSet("requested_slot", None)]


def stop_on_screen_yes(dispatcher: CollectingDispatcher, tracker: Tracker, question: str) -> None:
    """A "yes" to a red-flag screen question (onboarding's, or the weekly re-check) is a stop like
    any other: the advice first, whatever follows; then the stop is recorded (no flag id: the
    person did not say which) and coaching pauses until a doctor's check. A failure to record
    is loud, not hidden: logged, and the health check turns red."""
    from knowledge.safety import records

    send(dispatcher, answers.general_red_flag_answer(kb()))
    try:
        with db_session() as session:
            records.record_stop(session, user_id(tracker), None, clock().now())
            session.commit()
    except Exception as exc:
        log.error("could not record the red-flag stop of the %s question", question, exc_info=True)
        records.mark_record_failure(records.failure_marker_path(), None, exc, None)
