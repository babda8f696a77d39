"""Pre-workout training data generated from activities.yaml: every activity has examples
labelled with its id, and no annotation makes Rasa remap a name another item owns."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from bot.nlu_data import build_nlu, spacy_patterns
from knowledge.db import make_engine
from knowledge.loader import load
from knowledge.queries import KnowledgeBase

ANNOTATION = re.compile(r'\[([^\]]+)\]\{"entity": "(\w+)", "value": "(\w+)"\}')


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('nlu') / 'kb.db'}")
    assert load(engine).ok
    base = KnowledgeBase.load(engine)
    engine.dispose()
    return base


def test_every_activity_has_labelled_pre_workout_examples(kb: KnowledgeBase) -> None:
    intents, _ = build_nlu(kb)
    labels = Counter(example.value for example in intents["pre_workout"])
    assert set(labels) == {a.id for a in kb.activities()}
    assert min(labels.values()) >= 20


def test_no_name_is_mapped_to_two_values(kb: KnowledgeBase) -> None:
    """Rasa turns an annotation whose text differs from its value into a synonym: together with
    the explicit synonyms, each name must point at one value only."""
    intents, synonyms = build_nlu(kb)
    mapped: dict[str, set[str]] = {}
    for value, names in synonyms.items():
        for name in names:
            mapped.setdefault(name, set()).add(value)
    for examples in intents.values():
        for example in examples:
            text = getattr(example, "text", example)
            for name, _entity, value in ANNOTATION.findall(text):
                if name != value:
                    mapped.setdefault(name, set()).add(value)
    assert {name: values for name, values in mapped.items() if len(values) > 1} == {}
    # "hip thrusts" stays the exercise's name; the lift is found from it by the action.
    assert mapped["hip thrusts"] == {"hip_thrust"} and mapped["leg day"] == {"lift_squat"}


def test_activity_patterns_never_take_an_exercise_name(kb: KnowledgeBase) -> None:
    patterns = spacy_patterns(kb)
    labels: dict[str, set[str]] = {}
    for pattern in patterns:
        labels.setdefault(pattern["pattern"], set()).add(pattern["label"])
    assert labels["squat day"] == {"activity"} and labels["hip thrusts"] == {"exercise"}
    assert all(len(v) == 1 or "activity" not in v for v in labels.values())
