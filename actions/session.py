"""Today's session in the conversation: start or resume, one exercise at a time (done / skip /
too hard / it hurts), pause, then the check-in form whose answers drive the progression engine."""
from __future__ import annotations

from typing import Any, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import answers_only, parsed
from actions.common import (
    clock, db_session, engine, entity_values, kb, paused_by_red_flag, send, send_picture, send_refs, turn_key, user_id,
    user_text,
)
from actions.daily import daily_contact
from knowledge import answers, coaching, form_answers, parsing, reminders

DomainDict = dict[str, Any]
STEP_BUTTONS = [
    {"title": "Done ✅", "payload": "/session_done"},
    {"title": "Skip", "payload": "/session_skip"},
    {"title": "Too hard", "payload": "/report_too_hard"},
    {"title": "It hurts", "payload": "/report_pain"},
]
CHECKIN_SLOTS = ("checkin_pain", "checkin_glute_feel", "checkin_effort")


def in_session(tracker: Tracker) -> bool:
    return tracker.get_slot("session_state") == "exercising"


def utter_step(dispatcher: CollectingDispatcher, step: coaching.SessionStep) -> list[dict[str, Any]]:
    """Show a session step and set ``session_state`` so the rules can open the check-in."""
    if step.kind == "exercise":
        if step.exercise_id:
            send_picture(dispatcher, step.exercise_id)
        dispatcher.utter_message(text=step.text, buttons=STEP_BUTTONS)
        if step.title:
            dispatcher.utter_message(json_message={"bold": [step.title]})
        if step.exercise_id:
            cues = [step.cue_id] if step.cue_id else []
            send_refs(dispatcher, {"faults": [], "cues": cues, "exercises": [step.exercise_id], "red_flag": False})
        # "why?", "how?", "this one" now mean this step's exercise and cue.
        named = [SlotSet("last_exercises", [step.exercise_id] if step.exercise_id else None),
                 SlotSet("last_cues", [step.cue_id] if step.cue_id else None)]
        return [SlotSet("session_state", "exercising"), SlotSet("last_exercise", step.exercise_id), *named]
    dispatcher.utter_message(text=step.text)
    if step.kind == "checkin":
        # The last exercise is behind us: the check-in form asks its three questions next.
        return [SlotSet("session_state", "checkin"), *[SlotSet(s, None) for s in CHECKIN_SLOTS], FollowupAction("checkin_form")]
    return [SlotSet("session_state", "none")]


def require_onboarding(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Coaching may go ahead: no red flag has paused it, and the person is set up."""
    if paused_by_red_flag(dispatcher, tracker):
        return False
    profile = coaching.get_or_create_trainee(engine(), user_id(tracker), clock=clock())
    if profile.onboarded:
        return True
    dispatcher.utter_message(
        text="Let's set you up first (two minutes), so the session fits you.",
        buttons=[{"title": "Get started", "payload": "/start"}],
    )
    return False


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_start_session"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if not require_onboarding(dispatcher, tracker):
            return []
        events, contact = daily_contact(dispatcher, tracker)
        text = user_text(tracker).lower()
        lengths = entity_values(tracker, "length")
        wants_short = "short" in lengths or any(
            words in text for words in ("5 min", "five min", "5-min", "short version", "quick version", "short session")
        )
        wants_full = "full" in lengths
        if contact.offer_short_version and not (wants_short or wants_full):
            return events  # the offer's buttons are the question: wait for the answer
        short_version = True if wants_short else False if wants_full else None
        step = coaching.start_or_resume_session(engine(), user_id(tracker), short_version=short_version, clock=clock())
        # The first step's text opens with what the session is and how long it takes.
        return events + utter_step(dispatcher, step)


class ActionSessionStep(Action):
    def name(self) -> str:
        return "action_session_step"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if not require_onboarding(dispatcher, tracker):
            return []
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        event = "skip" if intent == "session_skip" else "done"
        step = coaching.session_event(engine(), user_id(tracker), event, clock=clock(), turn_key=turn_key(tracker))
        return utter_step(dispatcher, step)


class ActionSessionPause(Action):
    def name(self) -> str:
        return "action_session_pause"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        result = coaching.pause_session(engine(), user_id(tracker), clock=clock())
        buttons = [{"title": "Resume", "payload": "/start_session"}] if result.paused else None
        dispatcher.utter_message(text=result.text, buttons=buttons)
        return [SlotSet("session_state", "none")]


class ActionTooHard(Action):
    def name(self) -> str:
        return "action_too_hard"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if in_session(tracker):
            step = coaching.session_event(engine(), user_id(tracker), "too_hard", clock=clock(), turn_key=turn_key(tracker))
            return utter_step(dispatcher, step)
        exercise = entity_values(tracker, "exercise") or [tracker.get_slot("last_exercise")]
        if exercise[0] and kb().get("exercise", exercise[0]) is not None:
            answer = answers.easier_answer(kb(), exercise[0])
            send(dispatcher, answer)
            return [SlotSet("last_exercise", answer.exercises[-1])]
        dispatcher.utter_message(text="Noted. Which exercise was too hard? I'll find you an easier version.")
        return []


class ActionTooEasy(Action):
    def name(self) -> str:
        return "action_too_easy"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if in_session(tracker):
            step = coaching.session_event(engine(), user_id(tracker), "done", clock=clock(), turn_key=turn_key(tracker))
            dispatcher.utter_message(text="Good sign. Tell me in the check-in; three easy sessions in a row move you up.")
            return utter_step(dispatcher, step)
        exercise = entity_values(tracker, "exercise") or [tracker.get_slot("last_exercise")]
        if exercise[0] and kb().get("exercise", exercise[0]) is not None:
            answer = answers.harder_answer(kb(), exercise[0])
            send(dispatcher, answer)
            return [SlotSet("last_exercise", answer.exercises[-1])]
        dispatcher.utter_message(text="Nice. Which exercise felt too easy? I'll show you the next step.")
        return []


class ActionReportPain(Action):
    def name(self) -> str:
        return "action_report_pain"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        user = user_id(tracker)
        values = entity_values(tracker, "pain")
        text = user_text(tracker)
        asked = bool(tracker.get_slot("awaiting_morning_pain"))
        reading = form_answers.read_pain(text, values[0] if values else None, asked=asked)
        if not reading.about_pain:
            # "should i do 12 reps or 15?", "i train around 2am": a number, but not a pain score.
            dispatcher.utter_message(text=form_answers.NOT_A_PAIN_SCORE)
            return []
        if reading.problem:
            dispatcher.utter_message(text=reading.problem)
            return []
        value = reading.value
        if in_session(tracker) and (value is None or value > 5):
            step = coaching.session_event(engine(), user, "hurts", clock=clock(), turn_key=turn_key(tracker))
            events = utter_step(dispatcher, step)
            if value is not None:
                coaching.record_pain(engine(), user, value, "report", clock=clock())
            return events
        if value is None:
            dispatcher.utter_message(text="Sorry it hurts. How bad is it right now, from 0 (none) to 10 (worst)?")
            return []
        source = "morning" if asked else "report"
        result = coaching.record_pain(engine(), user, value, source, clock=clock())
        dispatcher.utter_message(text=result.text)
        return [SlotSet("awaiting_morning_pain", False)]


class ActionReportSoreness(Action):
    def name(self) -> str:
        return "action_report_soreness"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        send(dispatcher, answers.soreness_answer(kb()))
        return []


class ValidateCheckinForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_checkin_form"

    def _score(self, slot: str, what: str, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        return parsed(slot, lambda text: parsing.parse_score(text, what), value, dispatcher)

    @answers_only("checkin_pain")
    def validate_checkin_pain(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._score("checkin_pain", "your pain", value, dispatcher)

    @answers_only("checkin_glute_feel")
    def validate_checkin_glute_feel(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._score("checkin_glute_feel", "how much you felt your glutes", value, dispatcher)

    @answers_only("checkin_effort")
    def validate_checkin_effort(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return parsed("checkin_effort", parsing.parse_effort, value, dispatcher)


class ActionCheckinSubmit(Action):
    def name(self) -> str:
        return "action_checkin_submit"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        slot = tracker.get_slot
        result = coaching.check_in(
            engine(),
            user_id(tracker),
            pain=int(slot("checkin_pain")),
            glute_feel=int(slot("checkin_glute_feel")),
            effort=slot("checkin_effort"),
            clock=clock(),
        )
        dispatcher.utter_message(text=result.text, buttons=[{"title": "My progress", "payload": "/ask_progress"}])
        return [SlotSet("session_state", "none"), *[SlotSet(s, None) for s in CHECKIN_SLOTS]]


class ActionSkipToday(Action):
    def name(self) -> str:
        return "action_skip_today"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        with db_session() as session:
            reminders.skip_today(session, user_id(tracker), clock().now())
            session.commit()
        dispatcher.utter_message(text="OK, a rest day. No more reminders today; see you tomorrow.")
        return [SlotSet("session_state", "none")]


class ActionSnooze(Action):
    def name(self) -> str:
        return "action_snooze"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        with db_session() as session:
            reminders.snooze(session, user_id(tracker), clock().now(), minutes=60)
            session.commit()
        dispatcher.utter_message(text="Sure, I'll remind you again in an hour.")
        return []
