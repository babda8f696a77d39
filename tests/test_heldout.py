"""Held-out evaluation of understanding, through ``python -m bot say``.

Two sets, each written separately from the training data and never trained on:
tests/heldout/utterances.yaml (set A; the red-flag screen was widened after a first run on it
showed gaps, so it is no longer a blind measure) and tests/heldout/utterances_b.yaml (set B,
written later by someone who saw neither the training data nor set A, and not used for tuning).
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

HELDOUT_SETS = {
    "A": Path(__file__).parent / "heldout" / "utterances.yaml",
    "B": Path(__file__).parent / "heldout" / "utterances_b.yaml",
}
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
def heldout_results(trained_model: Path) -> dict[str, list[tuple[dict, dict]]]:
    """Both sets through one ``say`` process (the model loads once)."""
    import json

    sets = {name: yaml.safe_load(path.read_text(encoding="utf-8"))["utterances"] for name, path in HELDOUT_SETS.items()}
    lines = [
        json.dumps({"user": f"heldout-{name}-{i}", "text": item["text"]})
        for name, items in sets.items() for i, item in enumerate(items)
    ]
    outputs, proc = run_say(lines)
    assert len(outputs) == len(lines), proc.stderr[-3000:]
    results: dict[str, list[tuple[dict, dict]]] = {}
    position = 0
    for name, items in sets.items():
        results[name] = list(zip(items, outputs[position: position + len(items)]))
        position += len(items)
    return results


@pytest.mark.parametrize("name", sorted(HELDOUT_SETS))
def test_heldout_set_is_large_and_covers_every_category(name: str) -> None:
    items = yaml.safe_load(HELDOUT_SETS[name].read_text(encoding="utf-8"))["utterances"]
    assert len(items) >= 100
    assert {i["category"] for i in items} == {"fault", "cue_why", "howto", "red_flag", "soreness", "out_of_scope"}


@pytest.mark.parametrize("name", sorted(HELDOUT_SETS))
def test_heldout_accuracy_red_flag_recall_and_false_alarms(name: str, heldout_results, capsys: pytest.CaptureFixture) -> None:
    results = heldout_results[name]
    per_category: dict[str, list[bool]] = defaultdict(list)
    misses: list[str] = []
    for item, turn in results:
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
    non_red = [(i, t) for i, t in results if i["category"] != "red_flag"]
    false_alarms = sum(1 for _i, t in non_red if t["refs"]["red_flag"])
    lines = ["", f"held-out set {name} ({HELDOUT_SETS[name].name}) through python -m bot say", f"{'category':<14}{'n':>5}{'correct':>9}{'accuracy':>10}"]
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
