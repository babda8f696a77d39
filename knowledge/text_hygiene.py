"""Clean text: what every message becomes before anything reads or stores it."""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` without NUL and other control characters (PostgreSQL refuses NUL in a string)
    and without lone surrogates (they break the tokenizer and cannot be encoded as UTF-8)."""
    return _SURROGATE.sub("", _CONTROL.sub("", text)).strip()
