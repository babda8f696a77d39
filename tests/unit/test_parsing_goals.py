"""The goal in the person's words, stored with a category the coaching can use."""
from __future__ import annotations

import pytest

from knowledge.parsing import GOAL_BUTTONS, GOAL_CATEGORIES, goal_category


@pytest.mark.parametrize("text, category", [
    ("want my back to stop hurting when i lift my kid", "back_relief"),
    ("less back pain tbh", "back_relief"),
    ("sciatica gone pls", "back_relief"),
    ("stronger glutes", "glute_strength"),
    ("get a bigger butt lol", "glute_strength"),
    ("run a 10k without my back aching", "running"),
    ("jogging again", "running"),
    ("lift heavier", "lifting"),
    ("squat 100kg", "lifting"),
    ("be able to play with my grandkids", "everyday"),
    ("carry groceries up the stairs", "everyday"),
    ("idk really", "other"),
    ("back_relief", "back_relief"),
])
def test_goals_in_words_get_a_category(text: str, category: str) -> None:
    assert goal_category(text) == category


def test_every_button_is_its_own_category() -> None:
    for category, words in GOAL_BUTTONS.items():
        assert category in GOAL_CATEGORIES and goal_category(words) == category
