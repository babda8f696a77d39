"""parse_score: whole numbers from 0 to 10, in digits or words, or a one-line reason why not."""
from __future__ import annotations

import pytest

from knowledge.parsing import ParseError, parse_score


@pytest.mark.parametrize(
    "text, value",
    [("6", 6), ("6/10", 6), ("pain 3 out of 10", 3), ("about a 4", 4), ("seven", 7), ("a 3ish", 3),
     ("0", 0), ("10", 10), ("zero", 0), ("no pain", 0), ("pain free today", 0), ("it didn't hurt", 0)],
)
def test_scores_people_type(text: str, value: int) -> None:
    assert parse_score(text) == value


@pytest.mark.parametrize("text", ["1e9", "6.5", "2,5", "1e309", "-2", "12", "11/10", "no idea"])
def test_what_is_not_a_whole_score_in_range_is_refused(text: str) -> None:
    # "1e9" used to read as 1 and "6.5" as 6: a score the person never gave.
    with pytest.raises(ParseError) as refused:
        parse_score(text, "your pain")
    assert "0 to 10" in str(refused.value) and "\n" not in str(refused.value)
