"""The questions the onboarding and check-in forms ask, one action per slot.

Rasa asks for a form slot with ``action_ask_<slot>`` when such an action exists. Asking through
actions (rather than ``utter_ask_<slot>`` responses) keeps ``rasa data validate`` free of
"utterance not used in any story" warnings, which it raises for every form question response.
"""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

# The red-flag signs the onboarding screen and the weekly re-check ask about (one list, so the two
# never drift apart); a "yes" to either is the same stop.
SCREEN_SIGNS = ("numbness around your groin, buttocks or inner thighs; new trouble controlling your bladder or "
                "bowels; leg weakness that is getting worse; back pain with a fever; new back pain after a fall or "
                "accident; or back pain with a history of cancer or unexplained weight loss")
SCREEN_BUTTONS = [{"title": "No, none of these", "payload": "/deny"}, {"title": "Yes, one of these", "payload": "/affirm"}]

QUESTIONS: dict[str, dict[str, Any]] = {
    'consent': {"text": "Before we start: I'm a coaching bot, not a clinician. I give exercise cues and a short daily routine; I can't diagnose anything, and if you mention a warning sign I'll ask you to see a doctor. To coach you I store your answers, pain scores and sessions; /export shows them and /delete erases them. Shall we go on?", "buttons": [{"title": "Yes, let's go", "payload": "/affirm"}, {"title": "No thanks", "payload": "/deny"}]},
    'screen_clear': {"text": f"A quick safety check. Do you have any of these right now: {SCREEN_SIGNS}?", "buttons": SCREEN_BUTTONS},
    'goal': {"text": "What's your main goal?", "buttons": [{"title": "Take the load off my lower back", "payload": "/inform{\"goal\": \"back_relief\"}"}, {"title": "Stronger glutes", "payload": "/inform{\"goal\": \"glute_strength\"}"}, {"title": "Lift better", "payload": "/inform{\"goal\": \"lifting\"}"}, {"title": "Run better", "payload": "/inform{\"goal\": \"running\"}"}]},
    'equipment': {"text": "What equipment do you have at hand? (Several are fine, e.g. \"band and bench\".)", "buttons": [{"title": "Nothing", "payload": "/inform{\"equipment\": \"none\"}"}, {"title": "Resistance band", "payload": "/inform{\"equipment\": \"band\"}"}, {"title": "Band and bench", "payload": "/inform{\"equipment\": \"band bench\"}"}, {"title": "Full gym", "payload": "/inform{\"equipment\": \"band bench kettlebell barbell machine\"}"}]},
    'experience': {"text": "How much strength training have you done?", "buttons": [{"title": "New to it", "payload": "/inform{\"experience\": \"beginner\"}"}, {"title": "Some", "payload": "/inform{\"experience\": \"some\"}"}, {"title": "Lots", "payload": "/inform{\"experience\": \"experienced\"}"}]},
    'current_pain': {"text": "How much does your back hurt right now, from 0 (none) to 10 (worst imaginable)?"},
    'reminder_time': {"text": "What time should I remind you each day? For example 07:30 or 6pm. Say \"none\" for no reminders."},
    'timezone': {"text": "Which time zone are you in? A city or zone name (Berlin, America/New_York) or an offset like UTC+2.", "buttons": [{"title": "UTC", "payload": "UTC"}, {"title": "London", "payload": "Europe/London"}, {"title": "Berlin", "payload": "Europe/Berlin"}, {"title": "New York", "payload": "America/New_York"}]},
    'checkin_pain': {"text": "Check-in. How much pain do you feel right now, 0 to 10?"},
    'checkin_glute_feel': {"text": "Did you feel it in your glutes? 0 (not at all) to 10 (they were clearly doing the work)."},
    'week_tasks': {"text": "First, name up to three everyday tasks your back makes harder, e.g. \"tying my shoes, sitting for an hour, lifting my kid\". Each week you'll rate how well you can do them. Or skip this part.", "buttons": [{"title": "Skip", "payload": "/deny"}]},
    'week_pain_average': {"text": "Over the past 7 days, what was your back pain on average, from 0 (none) to 10 (worst imaginable)?"},
    'week_pain_worst': {"text": "And at its worst this week, 0 to 10?"},
    'week_screen_clear': {"text": f"Last, the weekly safety check. Since your last check-in, have you had any of these: {SCREEN_SIGNS}?", "buttons": SCREEN_BUTTONS},
    'checkin_effort': {"text": "And the effort?", "buttons": [{"title": "Too easy", "payload": "/inform{\"effort\": \"too_easy\"}"}, {"title": "About right", "payload": "/inform{\"effort\": \"about_right\"}"}, {"title": "Too hard", "payload": "/inform{\"effort\": \"too_hard\"}"}]},
}


def _ask_action(slot: str) -> type[Action]:
    question = QUESTIONS[slot]

    def name(self: Action) -> str:
        return f"action_ask_{slot}"

    def run(self: Action, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=question["text"], buttons=question.get("buttons"))
        return []

    return type(f"ActionAsk_{slot}", (Action,), {"name": name, "run": run, "__doc__": f"Asks for {slot}."})


# Defining the classes registers them with rasa-sdk's action executor.
ASK_ACTIONS = [_ask_action(slot) for slot in QUESTIONS]
