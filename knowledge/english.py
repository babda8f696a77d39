"""The English words a spelling correction must leave alone ("like" is not a typo of "bike",
"track" is not one of "trek"): symspellpy's English frequency dictionary, read once."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    from importlib.resources import files

    english_file = files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    return frozenset(line.split(" ", 1)[0] for line in english_file.read_text(encoding="utf-8").splitlines())
