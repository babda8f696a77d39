"""Held-out evaluation of understanding, through ``python -m bot say``.

tests/heldout/utterances.yaml was written separately from the training data and is never trained on.
Each utterance goes to its own conversation. Scoring:

- fault / cue_why / howto: the expected id is in the reply's refs (faults, cues, exercises);
- red_flag: refs.red_flag is true (the id is reported, not required: the advice differs only by urgency);
- soreness / out_of_scope: no red flag (a false alarm), and for out_of_scope no fault/cue/exercise refs.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.say_runner import run_say

pytestmark = pytest.mark.slow

HELDOUT = Path(__file__).parent / "heldout" / "utterances.yaml"
REF_KEY = {"fault": "faults", "cue_why": "cues", "howto": "exercises"}


def score(item: dict, turn: dict) -> bool:
    refs = turn["refs"]
    category = item["category"]
    if category in REF_KEY:
        return item["expect"] in refs[REF_KEY[category]] and not refs["red_flag"]
    if category == "red_flag":
        return bool(refs["red_flag"])
    if category == "soreness":
        return not refs["red_flag"]
    return not refs["red_flag"] and not (refs["faults"] or refs["cues"] or refs["exercises"])


@pytest.fixture(scope="module")
def heldout_results(trained_model: Path) -> list[tuple[dict, dict]]:
    items = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["utterances"]
    import json

    lines = [json.dumps({"user": f"heldout-{i}", "text": item["text"]}) for i, item in enumerate(items)]
    outputs, proc = run_say(lines)
    assert len(outputs) == len(items), proc.stderr[-3000:]
    return list(zip(items, outputs))


def test_heldout_set_is_large_and_covers_every_category() -> None:
    items = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["utterances"]
    assert len(items) >= 100
    assert {i["category"] for i in items} == {"fault", "cue_why", "howto", "red_flag", "soreness", "out_of_scope"}


def test_heldout_accuracy_red_flag_recall_and_false_alarms(heldout_results, capsys: pytest.CaptureFixture) -> None:
    per_category: dict[str, list[bool]] = defaultdict(list)
    misses: list[str] = []
    for item, turn in heldout_results:
        ok = score(item, turn)
        per_category[item["category"]].append(ok)
        if not ok:
            misses.append(
                f"  [{item['category']}] {item['text']!r} expected {item['expect']} → intent "
                f"{turn['intent']['name']} refs {turn['refs']}"
            )
    total = sum(len(v) for v in per_category.values())
    correct = sum(sum(v) for v in per_category.values())
    red = per_category["red_flag"]
    non_red = [(i, t) for i, t in heldout_results if i["category"] != "red_flag"]
    false_alarms = sum(1 for _i, t in non_red if t["refs"]["red_flag"])
    lines = ["", "held-out evaluation (python -m bot say)", f"{'category':<14}{'n':>5}{'correct':>9}{'accuracy':>10}"]
    for category in sorted(per_category):
        values = per_category[category]
        lines.append(f"{category:<14}{len(values):>5}{sum(values):>9}{sum(values) / len(values):>10.1%}")
    lines.append(f"{'all':<14}{total:>5}{correct:>9}{correct / total:>10.1%}")
    lines.append(f"red-flag recall {sum(red)}/{len(red)}; false alarms {false_alarms}/{len(non_red)} ({false_alarms / len(non_red):.1%})")
    if misses:
        lines.append("misses:")
        lines.extend(misses)
    with capsys.disabled():
        print("\n".join(lines))
    assert sum(red) == len(red), "a red flag was missed"
    assert false_alarms / len(non_red) <= 0.02
    assert correct / total >= 0.90
