"""The screen's learned second opinion: trained from the knowledge base's examples, it can turn
a message the concepts do not confirm into the screening question, never into a stop."""
from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.db import create_all, make_engine
from knowledge.loader import load
from knowledge.queries import KnowledgeBase
from knowledge.safety.screen import CLEAR, NONE, POSSIBLE


@pytest.fixture(scope="module")
def screen(tmp_path_factory: pytest.TempPathFactory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('clf') / 'kb.db'}")
    create_all(engine)
    load(engine)
    screen = KnowledgeBase.load(engine).red_flag_screen()
    engine.dispose()
    return screen


def test_the_screen_from_the_knowledge_base_has_its_classifier(screen) -> None:
    assert screen.classifier is not None and 0.5 <= screen.classifier.threshold < 1


def test_the_classifier_only_ever_asks(screen) -> None:
    # Outcomes with and without the classifier differ only from "nothing" to "possible".
    from knowledge.safety.screen import Screen

    plain = Screen(screen.document)
    sentences = [
        "my lower back is doing the work in hip thrusts",
        "had the flu last week, back to training now",
        "something is off with my waterworks since my back went, is that normal",
        "I wet myself this morning and my back is killing me",
        "my foot feels like it belongs to someone else and catches on every step",
    ]
    for text in sentences:
        with_classifier, alone = screen.screen(text), plain.screen(text)
        if alone.outcome == CLEAR:
            assert with_classifier.outcome == CLEAR
        else:
            assert with_classifier.outcome in (alone.outcome, POSSIBLE)
            assert with_classifier.outcome != CLEAR


def test_it_stays_quiet_on_ordinary_talk(screen) -> None:
    for text in ("can we do something gentler today?", "I have a desk job and lift three times a week",
                 "haha nice", "my glutes are sore after training", "what time should I train"):
        assert screen.screen(text).outcome == NONE, text


def test_the_conversations_suspicion_needs_this_classifier_to_agree(screen) -> None:
    # DIET calling an ordinary message a red flag, with a concept named in passing, asks only
    # when the screen's own classifier leans the same way.
    from knowledge.safety.screen import Screen

    text = "my job title is tumour biologist lol, any glute tips for lab days"
    assert Screen(screen.document).screen(text, "cancer").outcome == POSSIBLE  # DIET's word alone would ask
    assert not screen.classifier.agrees(text)
    assert screen.screen(text, "cancer").outcome == NONE
    suspect = "my toes tingle a bit and my back's been off for weeks"
    assert screen.classifier.agrees(suspect)
