"""What the form validators share."""
from __future__ import annotations

import functools
from typing import Any, Callable

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

Validator = Callable[..., dict[str, Any]]


def answers_only(slot: str) -> Callable[[Validator], Validator]:
    """Validate only real answers.

    rasa-sdk validates every slot set in the latest events, including slots an action just reset
    to None: those must stay empty without an error message. A button payload meant for another
    question arrives as its raw text ("/inform{...}"): it is not an answer to this one either.
    """

    def decorate(validate: Validator) -> Validator:
        @functools.wraps(validate)
        def wrapper(self: Any, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
            if value is None or (isinstance(value, str) and (not value.strip() or value.lstrip().startswith("/"))):
                return {slot: None}
            return validate(self, value, dispatcher, tracker, domain)

        return wrapper

    return decorate


def parsed(slot: str, parse: Callable[[str], Any], value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """``{slot: parse(value)}`` as a string, or the parser's one-line message to the person and
    the slot left empty (the form asks again)."""
    from knowledge.parsing import ParseError

    try:
        return {slot: str(parse(str(value)))}
    except ParseError as exc:
        dispatcher.utter_message(text=str(exc))
        return {slot: None}


_CARRY_ON = {
    "onboarding_form": "Your answers so far are kept: send /start when you want to finish setting up.",
    "weekly_form": "Send /checkin when you want to do the weekly check-in.",
    "checkin_form": "Your session is still done; tell me how it went whenever you like.",
    "self_test_form": "Send /selftest when you want to try it again.",
}


def _form_just_left(tracker: Tracker) -> str | None:
    """The form this turn ended (the rule deactivates it before this action), or None."""
    ended = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "active_loop" and not event.get("name"):
            ended = True
        elif kind == "active_loop" and ended:
            return str(event["name"])
        elif kind == "user" and not ended:
            return None
    return None


class ActionLeaveForm(Action):
    """'stop', 'cancel', 'later': the question is left (the rule ends the form first)."""

    def name(self) -> str:
        return "action_leave_form"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        form = _form_just_left(tracker)
        carry_on = _CARRY_ON.get(form or "", "Say 'start my session' whenever you're ready.")
        dispatcher.utter_message(text=f"OK, we'll stop there. {carry_on}")
        return []
