"""What every action shares: the knowledge base, the database, the clock, and how an
:class:`~knowledge.answers.Answer` becomes Rasa messages with its knowledge-base refs."""
from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from knowledge.answers import Answer, Choice
from knowledge.clock import Clock, SystemClock
from knowledge.db import create_all, get_engine, session_factory

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def engine():
    eng = get_engine()
    create_all(eng)
    return eng


_kb_cache: dict[str, Any] = {}


def kb():
    """The knowledge base, read into memory once per content version."""
    from knowledge.queries import KnowledgeBase

    cached = _kb_cache.get("kb")
    if cached is None:
        cached = _kb_cache["kb"] = KnowledgeBase.load(engine())
    return cached


def db_session():
    return session_factory(engine())()


def clock() -> Clock:
    """The system clock, or the fixed instant (ISO 8601) in the file COACH_FAKE_NOW_FILE names, for tests and demos."""
    fake = os.environ.get("COACH_FAKE_NOW_FILE")
    if fake and os.path.exists(fake):
        from datetime import datetime

        from knowledge.clock import FixedClock

        with open(fake, encoding="utf-8") as handle:
            return FixedClock(datetime.fromisoformat(handle.read().strip()))
    return SystemClock()


def payload(choice: Choice) -> str:
    """Rasa's payload syntax for a one-tap choice: /intent{"entity": "value"}."""
    if not choice.entities:
        return f"/{choice.intent}"
    return f"/{choice.intent}" + json.dumps(dict(choice.entities))


def send(dispatcher: CollectingDispatcher, answer: Answer) -> None:
    """Utter the answer's messages, then its refs as a custom payload the bot strips out."""
    for message in answer.messages:
        buttons = [{"title": c.title, "payload": payload(c)} for c in message.choices]
        dispatcher.utter_message(text=message.text, buttons=buttons or None)
    send_refs(dispatcher, answer.refs())


def send_picture(dispatcher: CollectingDispatcher, exercise_id: str) -> None:
    """The exercise's picture, as data the bot draws (drawing is delivery, not an action's job)."""
    exercise = kb().get("exercise", exercise_id)
    if exercise is None or not exercise.positions:
        return
    positions = {key: dict(value) for key, value in exercise.positions.items()}
    dispatcher.utter_message(json_message={"picture": {"exercise": exercise.id, "title": exercise.title,
                                                       "positions": positions}})


def send_refs(dispatcher: CollectingDispatcher, refs: dict[str, Any]) -> None:
    if any(refs.get(k) for k in ("faults", "cues", "exercises", "activities", "red_flag")):
        dispatcher.utter_message(json_message={"kb_refs": refs})


CLASSIFIER = "KBItemClassifier"


def classified(tracker: Tracker, entity: str) -> tuple[str | None, float]:
    """The id KBItemClassifier gave for ``entity``, with its probability."""
    for item in tracker.latest_message.get("entities", []) or []:
        if item.get("entity") == entity and item.get("extractor") == CLASSIFIER:
            return str(item.get("value")), float(item.get("confidence") or 0.0)
    return None, 0.0


def entity_values(tracker: Tracker, entity: str) -> list[str]:
    values: list[str] = []
    for item in tracker.latest_message.get("entities", []) or []:
        if item.get("entity") == entity and item.get("value") not in values:
            values.append(str(item.get("value")))
    return values


def user_text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def user_id(tracker: Tracker) -> str:
    return tracker.sender_id


def turn_key(tracker: Tracker) -> str | None:
    """The key of the incoming message this turn answers, from the front end's metadata: a
    button is one press per message it hangs under (a double press is one), anything else is
    its Telegram update. None when the message came without one (the terminal)."""
    metadata = tracker.latest_message.get("metadata") or {}
    if metadata.get("source") == "button" and metadata.get("message_id") is not None:
        return f"button:{metadata.get('chat_id')}:{metadata['message_id']}"
    if metadata.get("update_id") is not None:
        return f"update:{metadata['update_id']}"
    return None


def paused_by_red_flag(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """True (and the short reminder said) when a red flag paused this person's coaching. The
    screen in front of the conversation already answers coaching requests so; this is the same
    check for every path into a workout that the conversation itself can take."""
    from knowledge.safety import records
    from knowledge.safety.screen import Screen, thaw
    from knowledge.safety.triage import paused_text

    with db_session() as session:
        stop = records.open_stop(session, user_id(tracker))
    if stop is None:
        return False
    base = kb()
    screen = Screen(thaw(base.safety_screen()))  # for its texts only: no classifier to train here
    text = paused_text(screen, {f.id: f.advice for f in base.red_flags()}, stop.flag_id)
    dispatcher.utter_message(text=text)
    send_refs(dispatcher, {"faults": [], "cues": [], "exercises": [], "red_flag": True, **({"red_flag_id": stop.flag_id} if stop.flag_id else {})})
    return True

