"""What "why?", "that one", "the second one" point at: the items the coach has just named.

After a fault answer the coach has named two cues and two exercises; after a how-to, one
exercise and its key cue. A message that refers back instead of naming something ("why?",
"how do I do that one?", "the second one", "an easier one?") means one of those. This module
reads the reference and picks the item; the actions keep the list of what was last said.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "last": -1, "latter": -1,
             "former": 0, "top": 0, "bottom": -1}
_ORDINAL = re.compile(r"\b(?:the\s+)?(" + "|".join(_ORDINALS) + r")\b(?:\s+(?:one|cue|exercise|drill|move))?")
# "that one", "this one", "it", "that", "the one you said" — or a bare follow-up: "why?", "how?".
_POINTING = re.compile(r"\b(?:that|this|those|these|it|one|same|above|you said|you mentioned|just said)\b")
_BARE = re.compile(r"^\s*(?:but\s+|and\s+|ok\s+|okay\s+|so\s+)?(?:why|how|how so|why so|why's that|whys that|"
                   r"why is that|how come|why does that matter|how do i do (?:it|that|this)|show me)\s*[?!.]*\s*$")


@dataclass(frozen=True)
class Reference:
    index: int | None  # a position in what was said (-1: the last), or None for "that one"


def read_reference(text: str) -> Reference | None:
    """The reference ``text`` makes back to what was just said, or None when it makes none."""
    lowered = " ".join(text.lower().replace("’", "'").split())
    ordinal = _ORDINAL.search(lowered)
    if ordinal:
        return Reference(_ORDINALS[ordinal.group(1)])
    if _BARE.match(lowered) or _POINTING.search(lowered):
        return Reference(None)
    return None


@dataclass(frozen=True)
class Picked:
    item: str | None  # the one item meant
    choices: tuple[str, ...] = ()  # when it could be any of these: ask which


def pick(reference: Reference, said: Sequence[str]) -> Picked:
    """The item of ``said`` (in the order the coach said them) the reference points at."""
    items = [s for s in said if s]
    if not items:
        return Picked(None)
    if reference.index is not None:
        if -len(items) <= reference.index < len(items):
            return Picked(items[reference.index])
        return Picked(None, tuple(items))
    if len(items) == 1:
        return Picked(items[0])
    return Picked(None, tuple(items))


_WHY_QUESTION = re.compile(r"^\s*(?:but\s+|and\s+|ok\s+|okay\s+|so\s+)?(?:why|how come|what'?s the point|what is the point)\b")
_HOW_QUESTION = re.compile(r"^\s*(?:but\s+|and\s+|ok\s+|okay\s+|so\s+)?(?:how (?:do|should|would|can) (?:i|you|we) "
                           r"(?:do|set up|perform)|how is (?:that|it|this) done|show me|what are the steps)\b")
MAX_REFERENCE_WORDS = 10


def reference_question(text: str) -> str | None:
    """"cue" for a why-question back at what was said ("why?", "why the second one?"),
    "exercise" for a how-question ("how do i do that one?", "show me the first one"), else None.
    Short messages only: a longer one names what it asks about, and the intents read it."""
    lowered = " ".join(text.lower().replace("’", "'").split())
    if len(lowered.split()) > MAX_REFERENCE_WORDS or read_reference(lowered) is None:
        return None
    if _WHY_QUESTION.match(lowered):
        return "cue"
    if _HOW_QUESTION.match(lowered) or _BARE.match(lowered) and lowered.startswith("how"):
        return "exercise"
    return None
