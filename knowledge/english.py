"""English for matching: the words a spelling correction must leave alone ("like" is not a
typo of "bike", "track" is not one of "trek": symspellpy's English frequency dictionary, read
once), and the normal form names and aliases are compared in ("Hip Thrusts" is "hip thrust").

The model is trained on text in that normal form (bot/nlu_components.py), so this file is one
of the training fingerprint's inputs (bot/training.py)."""
from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    from importlib.resources import files

    english_file = files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    return frozenset(line.split(" ", 1)[0] for line in english_file.read_text(encoding="utf-8").splitlines())


def singular(word: str) -> str:
    """A crude English singular: enough for "bridges", "thrusts", "clams", "glutes" (not for
    "boxes" or "benches": see the closing note of 2026-12-07)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalise(text: str) -> str:
    """Lower case, hyphens and underscores as spaces, no punctuation, singular words."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[-_/\u2013]", " ", text)
    text = re.sub(r"[^a-z0-9 ]+", "", text.replace("'", ""))
    return " ".join(singular(token) for token in text.split())
