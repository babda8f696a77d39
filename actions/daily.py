"""The first contact of a trainee's local day: next-morning pain, missed days, deloads."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clock, engine, user_id
from knowledge import coaching, self_tests, weekly


SHORT = {"title": "5-minute version", "payload": '/start_session{"length": "short"}'}
FULL = {"title": "Full session", "payload": '/start_session{"length": "full"}'}
WEEKLY = {"title": "Weekly check-in", "payload": "/weekly_checkin"}
SELF_TEST = {"title": "Self-test (2 min)", "payload": "/self_test"}


def daily_contact(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> tuple[list[dict[str, Any]], coaching.FirstContact]:
    """Say what the day's first contact calls for; return the slot events it needs and the contact.

    The missed-days offer asks "the 5-minute version or the full session?": it carries both
    buttons, and the caller waits for the answer rather than starting a session under it."""
    contact = coaching.first_contact_of_day(engine(), user_id(tracker), clock=clock())
    if not contact.first_today:
        return [], contact
    due = weekly.due_prompt(engine(), user_id(tracker), clock=clock())
    if due:
        dispatcher.utter_message(text=due, buttons=[WEEKLY])
    if self_tests.due(engine(), user_id(tracker), clock=clock()):
        dispatcher.utter_message(text=self_tests.DUE_TEXT, buttons=[SELF_TEST])
    if not contact.text:
        return [], contact
    buttons = [SHORT, FULL] if contact.offer_short_version else None
    dispatcher.utter_message(text=contact.text, buttons=buttons)
    return [SlotSet("awaiting_morning_pain", bool(contact.morning_prompt))], contact


def daily_check(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """:func:`daily_contact` for callers that only need its events."""
    return daily_contact(dispatcher, tracker)[0]
