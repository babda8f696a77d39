"""Reminder settings in the conversation: set a time, pause, resume."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clock, engine, entity_values, user_id, user_text
from knowledge import coaching, parsing

DomainDict = dict[str, Any]


class ActionSetReminder(Action):
    def name(self) -> str:
        return "action_set_reminder"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        times = entity_values(tracker, "time")
        text = times[0] if times else user_text(tracker)
        if text.startswith("/"):
            dispatcher.utter_message(text="What time should I remind you each day? For example: remind me at 07:30.")
            return []
        try:
            hhmm = parsing.parse_clock_time(text)
            settings = coaching.set_reminder(engine(), user_id(tracker), hhmm, clock=clock())
        except (parsing.ParseError, coaching.CoachingError) as exc:
            dispatcher.utter_message(text=str(exc))
            return []
        dispatcher.utter_message(text=settings.text)
        return []


class ActionPauseReminders(Action):
    def name(self) -> str:
        return "action_pause_reminders"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=coaching.pause_reminders(engine(), user_id(tracker), clock=clock()).text)
        return []


class ActionResumeReminders(Action):
    def name(self) -> str:
        return "action_resume_reminders"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=coaching.resume_reminders(engine(), user_id(tracker), clock=clock()).text)
        return []
