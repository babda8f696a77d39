"""Is this message the answer to the question the coach just asked?

A form question is open ("Compared with when you started, how is your back overall?") and the
person types "a bit better". The intent classifier may read those words as something else (a
progress question, soreness), and then the form's text mapping does not take them and the
question is asked again and again. So before the intents decide, the message is read against the
open question with that question's own parser: a short message the parser accepts is the answer.

Questions with a strict reading are here (scores, times, places, equipment, levels, effort,
the rating of change), and the two free-text questions (the goal, the weekly tasks: a statement
is the answer, a question is not); yes/no questions are left to the intents. A message with a question mark, a command, or more than :data:`MAX_WORDS` words is
never read as an answer here; neither is a number that counts something else ("12 reps",
"7am") when a 0-10 score is asked. This module only says *whether*; the form's validator still
stores the value, with the same parser.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from knowledge import parsing

MAX_WORDS = 8

_SCORE_SLOTS = ("current_pain", "checkin_pain", "checkin_glute_feel", "week_pain_average", "week_pain_worst",
                "week_psfs_1", "week_psfs_2", "week_psfs_3")
# Numbers that count something other than a 0-10 score.
_OTHER_QUANTITY = re.compile(
    r"\d\s*(?:am|pm|a\.m|p\.m|h\b|:|x\b|kg|lb|lbs|min|mins|minutes|sec|secs|seconds|k\b|%)"
    r"|\b(?:reps?|sets?|rounds?|kg|kilos?|pounds?|lbs?|minutes?|mins?|hours?|seconds?|days?|weeks?|months?|years?|"
    r"times|miles?|km|o'?clock|am|pm|morning|evening|night|tonight|tomorrow)\b",
    re.IGNORECASE,
)


def _score(text: str) -> int:
    if _OTHER_QUANTITY.search(text):
        raise parsing.ParseError("not a score")
    return parsing.parse_score(text)


_NOT_A_GOAL = re.compile(r"^\W*(?:hi|hello|hey|yo|ok|okay|k|thanks|thank you|ty|lol|haha|yes|yeah|yep|no|nope|sure|"
                         r"idk|hmm+)?\W*$", re.IGNORECASE)


def _goal(text: str) -> str:
    # A statement is a goal, in the person's words (its category is read when it is stored);
    # a greeting or an acknowledgement is not.
    if _NOT_A_GOAL.match(text):
        raise parsing.ParseError("not a goal")
    return " ".join(text.split())[:200]


# "stop", "cancel", "later": the person leaves the question (an intent of its own), never an answer.
LEAVING = re.compile(r"^\s*(?:stop|cancel|quit|exit|later|not now|maybe later|another time|nevermind|never mind|"
                     r"forget it|let'?s do this later|do this later|i'?ll do (?:it|this) later)\s*[.!]*\s*$", re.IGNORECASE)

READERS: dict[str, Callable[[str], Any]] = {
    **{slot: _score for slot in _SCORE_SLOTS},
    "checkin_effort": parsing.parse_effort,
    "week_change": parsing.parse_change,
    "equipment": parsing.parse_equipment,
    "experience": parsing.parse_experience,
    "reminder_time": parsing.parse_clock_time,
    "timezone": parsing.parse_timezone,
    "goal": _goal,
    "week_tasks": parsing.parse_psfs_tasks,
}
# Free-text answers run longer than a score or a time.
WORDS_ALLOWED = {"goal": 30, "week_tasks": 30}


@dataclass(frozen=True)
class Answer:
    slot: str
    value: Any


def read_answer(slot: str | None, text: str) -> Answer | None:
    """The answer ``text`` gives to the open question ``slot``, or None when it is not one (or
    when this question is left to the intents)."""
    reader = READERS.get(slot or "")
    words = text.split()
    if reader is None or not words or text.lstrip().startswith("/") or "?" in text or LEAVING.match(text):
        return None
    if len(words) > WORDS_ALLOWED.get(str(slot), MAX_WORDS):
        return None
    try:
        return Answer(slot=str(slot), value=reader(text))
    except parsing.ParseError:
        return None


# Words that say a message is about pain ("back pain 3", "it hurts, like a 6", "sore today").
_ABOUT_PAIN = re.compile(r"\b(?:pain\w*|hurt\w*|ache[sd]?|aching|achy|sore\w*|ouch|ow+|twinge\w*|throb\w*|agony)\b",
                         re.IGNORECASE)

_BACK = re.compile(r"\bback\b", re.IGNORECASE)

NOT_A_PAIN_SCORE = ("I'm not sure what that number is about, so I haven't logged it. If it's your pain, tell me "
                    "like \"pain 3\" (0 to 10); to train, say \"start my session\".")


@dataclass(frozen=True)
class PainReading:
    """A message outside any form read for a pain score."""

    about_pain: bool  # it says it is about pain, or answers the pain question just asked
    value: int | None = None  # its 0-10 score, when it gives one
    problem: str | None = None  # the one-line re-ask when it gives a score that cannot be used


def read_pain(text: str, entity: str | None = None, asked: bool = False) -> PainReading:
    """A number outside a question is not a pain score unless the message says it is about pain
    (or it answers the pain question the coach just asked, and counts nothing else: "7am" is a
    time). Button payloads (``/inform{"pain": "2"}``) are answers to the pain question."""
    payload = text.lstrip().startswith("/")
    if payload and entity is None:
        return PainReading(False)  # a button of another question
    back_score = bool(_BACK.search(text) and re.search(r"\d", text)) and not _OTHER_QUANTITY.search(text)  # "back 6/10"
    if payload or back_score or _ABOUT_PAIN.search(text):
        try:
            return PainReading(True, parsing.parse_score(entity if entity is not None else text, "your pain"))
        except parsing.ParseError as exc:
            has_number = any(ch.isdigit() for ch in text) and not payload
            return PainReading(True, None, str(exc) if has_number else None)
    if asked and "?" not in text and len(text.split()) <= MAX_WORDS:
        try:
            return PainReading(True, _score(text))
        except parsing.ParseError:
            pass
    return PainReading(False)
