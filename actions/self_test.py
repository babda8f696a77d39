"""Self-tests in the conversation: pick one of the knowledge base's self-assessments, read its
steps (with the picture of its set-up), report the result with a button or in words (a Rasa
form), and the plan leads with the faults the result points to (:mod:`knowledge.self_tests`)."""
from __future__ import annotations

from typing import Any, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clock, engine, entity_values, kb, send_picture, send_refs, user_id, user_text
from actions.forms import answers_only
from actions.session import require_onboarding
from knowledge import self_tests

DomainDict = dict[str, Any]
SELF_TEST_SLOTS = ("self_test_id", "self_test_result")
SELF_TEST_BUTTON = {"title": "Self-test (2 min)", "payload": "/self_test"}


def _assessment(tracker: Tracker) -> Any | None:
    base = kb()
    for value in entity_values(tracker, "assessment"):
        found = base.get("assessment", value)
        if found is not None:
            return found
    return self_tests.find_assessment(base, user_text(tracker))


class ActionSelfTest(Action):
    """/selftest: offer the tests, or start the one named."""

    def name(self) -> str:
        return "action_self_test"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if not require_onboarding(dispatcher, tracker):
            return []
        assessment = _assessment(tracker)
        if assessment is None:
            dispatcher.utter_message(
                text="Which self-test? Each takes about two minutes and tells me where your plan should start. "
                "None of them diagnoses anything; if one hurts, stop and tell me.",
                buttons=[{"title": a.title, "payload": f'/self_test{{"assessment": "{a.id}"}}'} for a in kb().assessments()],
            )
            return []
        if assessment.picture:
            send_picture(dispatcher, assessment.picture)
        steps = "\n".join(f"{i}. {step}" for i, step in enumerate(assessment.steps, 1))
        dispatcher.utter_message(text=f"{assessment.title}\n{steps}")
        dispatcher.utter_message(json_message={"bold": [assessment.title]})
        dispatcher.utter_message(text=f"How to read it: {assessment.scoring}")
        return [SlotSet("self_test_id", assessment.id), SlotSet("self_test_result", None),
                FollowupAction("self_test_form")]


class ActionAskSelfTestResult(Action):
    def name(self) -> str:
        return "action_ask_self_test_result"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        assessment = kb().get("assessment", tracker.get_slot("self_test_id") or "")
        if assessment is None:
            dispatcher.utter_message(text="Which result did you get?")
            return []
        dispatcher.utter_message(
            text="What did you find? Tap the result that fits, or tell me in your own words.",
            buttons=[{"title": r.label, "payload": f'/inform{{"test_result": "{r.result}"}}'} for r in assessment.results],
        )
        return []


class ValidateSelfTestForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_self_test_form"

    @answers_only("self_test_result")
    def validate_self_test_result(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        assessment = kb().get("assessment", tracker.get_slot("self_test_id") or "")
        result = self_tests.match_result(assessment, str(value)) if assessment is not None else None
        if result is None:
            dispatcher.utter_message(text="I couldn't tell which result that is. Tap the one that fits best.")
            return {"self_test_result": None}
        return {"self_test_result": result.result}


class ActionSelfTestSubmit(Action):
    def name(self) -> str:
        return "action_self_test_submit"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        reset = [SlotSet(s, None) for s in SELF_TEST_SLOTS]
        assessment_id, result = tracker.get_slot("self_test_id"), tracker.get_slot("self_test_result")
        if not assessment_id or not result:
            return reset
        outcome = self_tests.record_result(engine(), user_id(tracker), kb(), assessment_id, result, clock=clock())
        dispatcher.utter_message(text=outcome.text,
                                 buttons=[{"title": "Start today's session", "payload": "/start_session"}])
        # refs: the faults this result points to (what the bot understood from it).
        send_refs(dispatcher, {"faults": list(outcome.reported), "cues": [], "exercises": [], "red_flag": False})
        return reset
