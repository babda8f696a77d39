"""Greeting and onboarding (a Rasa form): consent, a red-flag screen, goal, equipment, experience,
current pain, reminder time and time zone."""
from __future__ import annotations

import logging
from typing import Any, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import answers_only
from actions.common import clock, db_session, engine, kb, send, user_id
from actions.daily import daily_check
from actions.safety import stop_on_screen_yes
from knowledge import answers, coaching, parsing

log = logging.getLogger(__name__)
DomainDict = dict[str, Any]
ONBOARDING_SLOTS = ("consent", "screen_clear", "goal", "equipment", "experience", "current_pain", "reminder_time", "timezone")
# A goal button stores its words; the category is read from the words when onboarding is saved.
GOALS = {**parsing.GOAL_BUTTONS, "performance": "lift or run better"}  # "performance": an older button


class ActionGreet(Action):
    def name(self) -> str:
        return "action_greet"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        profile = coaching.get_or_create_trainee(engine(), user_id(tracker), clock=clock())
        if not profile.onboarded:
            dispatcher.utter_message(
                text="Hi! I'm your glute coach. I help your glutes take over the work your lower back "
                "has been doing: cues, a short daily routine, and answers to 'why?'. It takes two minutes to set up.",
                buttons=[{"title": "Get started", "payload": "/start"}, {"title": "What can you do?", "payload": "/help"}],
            )
            return []
        dispatcher.utter_message(text="Hi again!")
        events = daily_check(dispatcher, tracker)
        dispatcher.utter_message(
            text="Ready for today's session?",
            buttons=[{"title": "Start session", "payload": "/start_session"}, {"title": "My progress", "payload": "/ask_progress"}],
        )
        return events


class ActionStart(Action):
    """/start: run onboarding from the first question, or, when it was left half-way ("stop",
    a command), go on from the first question not yet answered."""

    def name(self) -> str:
        return "action_start"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        profile = coaching.get_or_create_trainee(engine(), user_id(tracker), clock=clock())
        started = tracker.get_slot("consent") is True and tracker.get_slot("screen_clear") is True
        if started and not profile.onboarded:
            dispatcher.utter_message(text="Welcome back! Let's finish setting you up.")
            return []
        dispatcher.utter_message(text="Welcome! A few questions so I can fit the routine to you.")
        return [SlotSet(slot, None) for slot in ONBOARDING_SLOTS]


class ValidateOnboardingForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_onboarding_form"

    async def required_slots(
        self, domain_slots: list[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Text]:
        # No consent, or a "yes" on the safety screen: onboarding stops there.
        if tracker.get_slot("consent") is False or tracker.get_slot("screen_clear") is False:
            return []
        return domain_slots

    def _invalid(self, dispatcher: CollectingDispatcher, slot: str, error: Exception) -> dict[str, Any]:
        dispatcher.utter_message(text=str(error))
        return {slot: None}

    @answers_only("goal")
    def validate_goal(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = " ".join(str(value or "").split())[:200]
        if not text:
            return {"goal": None}
        return {"goal": GOALS.get(text, text)}

    @answers_only("equipment")
    def validate_equipment(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        try:
            return {"equipment": " ".join(parsing.parse_equipment(str(value)))}
        except parsing.ParseError as exc:
            return self._invalid(dispatcher, "equipment", exc)

    @answers_only("experience")
    def validate_experience(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        try:
            return {"experience": parsing.parse_experience(str(value))}
        except parsing.ParseError as exc:
            return self._invalid(dispatcher, "experience", exc)

    @answers_only("current_pain")
    def validate_current_pain(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        try:
            return {"current_pain": str(parsing.parse_score(str(value), "your pain"))}
        except parsing.ParseError as exc:
            return self._invalid(dispatcher, "current_pain", exc)

    @answers_only("reminder_time")
    def validate_reminder_time(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip().lower()
        if text in ("none", "no", "off", "no reminders", "never", "/deny"):
            return {"reminder_time": "off"}
        try:
            return {"reminder_time": parsing.parse_clock_time(text)}
        except parsing.ParseError as exc:
            return self._invalid(dispatcher, "reminder_time", exc)

    @answers_only("timezone")
    def validate_timezone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        try:
            return {"timezone": parsing.parse_timezone(str(value))}
        except parsing.ParseError as exc:
            return self._invalid(dispatcher, "timezone", exc)


class ActionFinishOnboarding(Action):
    def name(self) -> str:
        return "action_finish_onboarding"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if tracker.get_slot("consent") is False:
            dispatcher.utter_message(
                text="No problem: I won't store anything about you. If you change your mind, send /start."
            )
            return []
        if tracker.get_slot("screen_clear") is False:
            stop_on_screen_yes(dispatcher, tracker, "onboarding")
            return []
        user = user_id(tracker)
        slot = tracker.get_slot
        profile = coaching.save_onboarding(
            engine(),
            user,
            goal=slot("goal"),
            equipment=(slot("equipment") or "none").split(),
            experience=slot("experience") or "beginner",
            baseline_pain=int(slot("current_pain") or 0),
            timezone=slot("timezone") or "UTC",
            clock=clock(),
        )
        reminder = slot("reminder_time")
        if reminder and reminder != "off":
            settings = coaching.set_reminder(engine(), user, reminder, profile.timezone, clock=clock())
            reminder_text = settings.text
        else:
            coaching.pause_reminders(engine(), user, clock=clock())
            reminder_text = "No daily reminder for now; set one any time with /remind 07:30."
        dispatcher.utter_message(
            text=f"You're set up. {reminder_text} Your plan starts in the activation phase: short, "
            "low-load drills that teach your glutes to switch on before anything heavier.",
            buttons=[{"title": "Start today's session", "payload": "/start_session"},
                     {"title": "Self-test first (2 min)", "payload": "/self_test"}],
        )
        return []
