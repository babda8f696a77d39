"""Red flags: stop coaching and send the person to a doctor, in any state of the conversation."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import db_session, entity_values, kb, send, user_id, user_text
from knowledge import answers

log = logging.getLogger(__name__)


class ActionRedFlag(Action):
    def name(self) -> str:
        return "action_red_flag"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        base = kb()
        flag_ids = [f for f in entity_values(tracker, "red_flag") if _exists(base, f)]
        if not flag_ids:
            # The classifier heard a red flag the screen did not: take the closest by phrasing,
            # and never fall back to coaching.
            flag_ids = [answers.closest_red_flag_id(base, user_text(tracker))]
        answer = answers.red_flag_answer(base, flag_ids)
        send(dispatcher, answer)
        try:
            from knowledge import coaching

            with db_session() as session:
                coaching.record_red_flag(session, user_id(tracker), answer.red_flag_id)
                session.commit()
        except Exception:  # the advice is given whatever happens to the record
            log.exception("could not record a red flag")
        return [SlotSet("session_state", "none"), SlotSet("requested_slot", None)]


def _exists(base: Any, flag_id: str) -> bool:
    return base.get("red_flag", flag_id) is not None
