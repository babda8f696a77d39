"""What one user message produces: the replies of the bot, in a channel-neutral form.

The Rasa bridge returns a :class:`Turn`; the terminal chat, ``say`` and the Telegram front end
each render it their own way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Button:
    title: str
    payload: str


@dataclass
class Reply:
    text: str = ""
    buttons: list[Button] = field(default_factory=list)
    image: str | None = None  # a path to a PNG file written by the bot
    document: str | None = None  # a path to a file to send as a document (the /export JSON)
    bold: list[str] = field(default_factory=list)  # parts of ``text`` to show in bold (exercise names)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
            "image": self.image,
            **({"document": self.document} if self.document else {}),
            **({"bold": list(self.bold)} if self.bold else {}),
        }


@dataclass
class Turn:
    user: str
    text: str
    intent: dict[str, Any] = field(default_factory=lambda: {"name": None, "confidence": 0.0})
    entities: list[dict[str, Any]] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    refs: dict[str, Any] = field(
        # The one place refs get their fields: knowledge-base ids the replies were built from
        # (faults, cues, exercises, and the lifts or activities a primer was for), whether a red
        # flag stopped (or keeps pausing) coaching and which, and the red flag a screening
        # question asks about (None when none was asked), and the open form question the message
        # was read as answering (knowledge/form_answers.py; None when it was not read as one).
        default_factory=lambda: {"faults": [], "cues": [], "exercises": [], "activities": [], "red_flag": False,
                                 "red_flag_check": None, "answer_to": None}
    )
    delete_conversation: bool = False  # the user asked to erase everything (set by the bridge)

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "text": self.text,
            "intent": self.intent,
            "entities": self.entities,
            "replies": [r.to_json() for r in self.replies],
            "refs": self.refs,
        }


class Coach(Protocol):
    """Anything that turns a user's message into a :class:`Turn` (the Rasa bridge, or a fake in tests)."""

    async def handle(self, user: str, text: str, metadata: dict[str, Any] | None = None) -> Turn: ...
