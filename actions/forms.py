"""What the form validators share."""
from __future__ import annotations

import functools
from typing import Any, Callable

from rasa_sdk import Tracker
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
