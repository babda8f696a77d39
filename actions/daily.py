"""The first contact of a trainee's local day: next-morning pain, missed days, deloads."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clock, engine, user_id
from knowledge import coaching


def daily_check(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """Say what the day's first contact calls for; return the slot events it needs."""
    contact = coaching.first_contact_of_day(engine(), user_id(tracker), clock=clock())
    if not contact.first_today or not contact.text:
        return []
    buttons = []
    if contact.offer_short_version:
        buttons.append({"title": "5-minute version", "payload": '/start_session{"length": "short"}'})
    dispatcher.utter_message(text=contact.text, buttons=buttons or None)
    return [SlotSet("awaiting_morning_pain", bool(contact.morning_prompt))]
