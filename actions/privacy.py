"""/export and /delete: a person's own data, all of it, on request."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import AllSlotsReset, Restarted
from rasa_sdk.executor import CollectingDispatcher

from actions.common import engine, user_id
from knowledge.privacy import delete_user, export_user

DomainDict = dict[str, Any]


class ActionExport(Action):
    def name(self) -> str:
        return "action_export"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        user = user_id(tracker)
        data = export_user(engine(), user)
        dispatcher.utter_message(text="Here is everything I have stored about you, as a JSON file.")
        dispatcher.utter_message(
            json_message={"document": {"name": f"coach-export-{user}.json", "content": {"user": user, "tables": data},
                                       "include_conversation": True},
                          "caption": "Your data"}
        )
        return []


class ActionDeleteRequest(Action):
    def name(self) -> str:
        return "action_delete_request"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(
            text="This erases everything I have about you: profile, sessions, pain log, reminders and our "
            "conversation. It can't be undone. Delete it all?",
            buttons=[
                {"title": "Yes, delete everything", "payload": "/delete_confirm"},
                {"title": "No, keep it", "payload": "/deny"},
            ],
        )
        return []


class ActionDeleteConfirm(Action):
    def name(self) -> str:
        return "action_delete_confirm"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        delete_user(engine(), user_id(tracker))
        dispatcher.utter_message(text="Done: everything about you is erased. Send /start if you ever want to begin again.")
        # The bot deletes Rasa's stored conversation once this turn is over.
        dispatcher.utter_message(json_message={"delete_conversation": True})
        return [AllSlotsReset(), Restarted()]
