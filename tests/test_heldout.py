"""Held-out evaluation of understanding and of the red-flag screen, through ``python -m bot say``.

Every set goes through ONE ``say`` process (the model loads once), each line a fresh user, and
only on SQLite: nothing here depends on the database back end, so the PostgreSQL run skips it
with the "SQLite only:" reason that scripts/test's parity check accepts.

Before the workout, tests/heldout/pre_workout.yaml (blind, issue 18): the right activity in
refs.activities, a primer with knowledge-base exercises where one was asked, no fault in refs (the
person reported none), at most one generic fallback.

Understanding, two sets written separately from the training data and never trained on:
tests/heldout/utterances.yaml (set A; the red-flag screen was widened after a first run on it
showed gaps, so it is no longer a blind measure) and tests/heldout/utterances_b.yaml (set B,
written later by someone who saw neither the training data nor set A, and not used for tuning).
Scoring:

- fault / cue_why / howto: the expected id is in the reply's refs (faults, cues, exercises);
- red_flag: caught, i.e. refs.red_flag (a stop) or refs.red_flag_check (the screen's question);
- soreness / out_of_scope: no stop (a false alarm), and for out_of_scope no fault/cue/exercise refs.

The red-flag screen (docs/safety.md, docs/safety_heldout.md): tests/heldout/safety/blind/ was
written by helpers who saw only a product description, after the screen's last change, and was
never used to tune it (earlier sets, once read, became the classifier's training examples and
are not tests any more). A red flag written as the answer to an onboarding question is sent to a
user standing at that question. Red-flag sets: recall 100% (stop or question). Ordinary sets:
false stops at most 0.5%, questions at most 3%.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.onboarding_script import ONBOARDING, up_to
from tests.say_runner import run_say

pytestmark = pytest.mark.slow

HELDOUT = Path(__file__).parent / "heldout"
HELDOUT_SETS = {
    "A": HELDOUT / "utterances.yaml",
    "B": HELDOUT / "utterances_b.yaml",
}
SAFETY_SETS = {f"{path.parent.name}/{path.stem}": path for path in sorted((HELDOUT / "safety").glob("*/*.yaml"))}
# Before the workout (issue 18): 90 messages written blind (the second such set, 2026-12-02, by a
# helper who saw only the product description), labelled with the activity, whether a primer or
# cues were asked for, and the primer minutes when given. Its lines are never printed unless
# COACH_SHOW_BLIND_LINES=1, which spends the set. The first set, read while fixing, is in
# tests/heldout/spent/pre_workout_1.yaml and is no measure any more.
# The third set (2026-12-04, by a helper who saw only BRIEF_PRODUCT.md) was written after the
# second set's figures were last read and before the pre-workout request reader
# (bot.nlu_components.PreWorkoutRequest) was tuned on a development set nobody holds out
# (written by another helper, kept outside the repository). Its counts were read three times
# while tuning, so the fourth set (written the same day, first run after the rules were done but
# one) is the measure of that work.
PRE_WORKOUT_SETS = {"pre_workout": HELDOUT / "pre_workout.yaml", "pre_workout_3": HELDOUT / "pre_workout_3.yaml",
                    "pre_workout_4": HELDOUT / "pre_workout_4.yaml"}
SHOW_BLIND_LINES = os.environ.get("COACH_SHOW_BLIND_LINES") == "1"
PRE_WORKOUT_ACTIVITY = {label: f"{prefix}_{label}" for prefix, labels in {
    "lift": ("squat", "deadlift", "hip_thrust", "lunge", "step_up"),
    "activity": ("running", "stairs_hiking", "cycling", "everyday_lifting")}.items() for label in labels}
# The targets; the guard the test asserts is the figures of the first run, so that a
# change can only keep or improve them.
TARGET_ACTIVITY, MAX_FALLBACKS = 0.90, 1
# The guard each set's test asserts: its figures with the pre-workout request reader
# (2026-12-04, counts only read; docs/pre_workout.md has the table), less one line each (a
# retrained model is not bit-for-bit the same). Right activity, primer where asked, no invented
# fault, most generic fallbacks. The targets are NOT all met on any set.
# pre_workout_3's right activity: 79/90, not 80: the model the fresh-clone CI trains scored 79/90
# there twice (at 97c33ba and 39e2363) while one trained from scratch here by `python -m bot train`
# from the same inputs scored 81/90 (2026-12-08). Training is not bit-for-bit reproducible between
# the two; the cause is not found (the generated training data is the same under any hash seed).
PRE_WORKOUT_GUARDS = {"pre_workout": (80 / 90, 51 / 54, 86 / 90, 2), "pre_workout_3": (79 / 90, 53 / 54, 87 / 90, 5),
                      "pre_workout_4": (85 / 90, 52 / 54, 88 / 90, 4)}
REF_KEY = {"fault": "faults", "cue_why": "cues", "howto": "exercises"}
# A red flag labelled as the answer to an onboarding or check-in question is sent at that
# question. A session's steps are each done ("/session_done"); done once too often, the check-in
# asks its first question again, so the count need not match the plan exactly.
ONBOARDING_UP_TO = {label: up_to(question) for label, question in {
    "goal": "goal", "equipment": "equipment", "experience": "experience", "pain": "current_pain",
    "reminder_time": "reminder_time", "timezone": "timezone"}.items()}
ONBOARDING_UP_TO["checkin_pain"] = [*ONBOARDING, "/start_session", *["/session_done"] * 5]
ONBOARDING_UP_TO["glute_feel"] = [*ONBOARDING_UP_TO["checkin_pain"], '/inform{"pain": "3"}']
# The targets for the blind sets (printed), and the guard the test asserts: the figures
# the current (ninth) blind sets gave when first run, after the screen's last change
# (2026-12-07: 133/140, 5/440 stops, 10/440 questions), so that a change can only keep or
# improve them. One line of slack each way, two for recall:
# DIET's suspicion (which needs the screen's classifier to agree) moves with a retraining: with
# the same screen and examples, the model trained at b33d838 (2026-12-08, new intents and slots
# in the data) scored 132/140, and models trained from the same inputs differ by a line or two.
TARGET_RECALL, MAX_FALSE_STOPS, MAX_QUESTIONS = 1.0, 0.005, 0.03
GUARD_RECALL, GUARD_FALSE_STOPS, GUARD_QUESTIONS = 131 / 140, 6 / 440, 11 / 440


def caught(refs: dict) -> bool:
    return bool(refs["red_flag"] or refs.get("red_flag_check"))


def score(item: dict, turn: dict) -> bool:
    refs = turn["refs"]
    category = item["category"]
    if category in REF_KEY:
        return item["expect"] in refs[REF_KEY[category]] and not refs["red_flag"]
    if category == "red_flag":
        return caught(refs)
    if category == "soreness":
        return not refs["red_flag"]
    return not refs["red_flag"] and not (refs["faults"] or refs["cues"] or refs["exercises"])


# Conversation in context (issue 14): 70 multi-turn dialogues written blind (2026-12-06, by a
# helper who saw only BRIEF_PRODUCT.md and BRIEF_DIALOGUES.md in tests/heldout/pending/), each
# with the stored state its writer expects in /export. Only the ids of the dialogues that fail
# and the names of the fields that differ are ever printed. First run 2026-12-08 (at c08bf8d):
# 24/70. Those field counts were read before the reminder-time-in-words and experience-in-years
# parsers were written, so the set is no longer a clean measure of them: 26/70 at b33d838, 33/70
# at b72348b (an answer is no longer cut down to the one entity in it; found trying it by hand).
# tests/heldout/pending/dialogues_2.yaml (70 more, written after that, unread) is the next one.
DIALOGUES = HELDOUT / "dialogues.yaml"
DIALOGUES_KEY = "dialogues (multi-turn)"
TARGET_DIALOGUES = 0.90
GUARD_DIALOGUES = 32 / 70  # 33/70 less one line


def _dialogues() -> list[dict]:
    return yaml.safe_load(DIALOGUES.read_text(encoding="utf-8"))["dialogues"]


def _export(turn: dict) -> dict:
    """The tables of the /export reply's JSON document."""
    for reply in turn.get("replies") or []:
        if reply.get("document"):
            return json.loads(Path(reply["document"]).read_text(encoding="utf-8")).get("tables") or {}
    return {}


# How the writer's expectations are read against what is stored:
# - equipment: bodyweight ("none") is always possible, so a stored "none" beside named equipment
#   is not counted; the brief named a "dumbbell" id, which the knowledge base calls "kettlebell"
#   (any hand weight);
# - "onboarded": onboarding finished (onboarded_at set);
# - lists of rows (pain_log, checkins, planned_sessions): the same rows, in any order, on the
#   fields the writer gave.
_SAME_EQUIPMENT = {"dumbbell": "kettlebell", "dumbbells": "kettlebell"}


def _equipment(ids: list[str] | None) -> set[str]:
    named = {_SAME_EQUIPMENT.get(i, i) for i in ids or []}
    return named - {"none"} if len(named) > 1 else named


def dialogue_problems(dialogue: dict, turns: list[dict]) -> list[str]:
    """The names of what differs from the writer's expectation (empty: the dialogue passes)."""
    from collections import Counter

    problems = []
    if any("error" in t for t in turns):
        problems.append("error")
    if any((t.get("refs") or {}).get("red_flag") for t in turns):
        problems.append("red_flag stop")  # no dialogue holds a red flag
    tables = _export(turns[-1])
    if not tables:
        return problems + ["no export"]
    trainee = (tables.get("trainees") or [{}])[0]
    for key, want in (dialogue["expect"].get("trainees") or {}).items():
        if key == "onboarded":
            same = (trainee.get("onboarded_at") is not None) == bool(want)
        elif key == "equipment":
            same = _equipment(trainee.get("equipment")) == _equipment(want)
        elif key == "faults":
            same = set(trainee.get("faults") or []) == set(want or [])
        else:
            same = trainee.get(key) == want
        if not same:
            problems.append(f"trainees.{key}")
    for table, rows in dialogue["expect"].items():
        if table == "trainees":
            continue
        fields = sorted({k for row in rows for k in row})
        stored = Counter(tuple(r.get(k) for k in fields) for r in tables.get(table) or [])
        wanted = Counter(tuple(row.get(k) for k in fields) for row in rows)
        if fields and stored != wanted or not fields and tables.get(table):
            problems.append(table)
    return problems


def _items(path: Path) -> list[dict]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data.get("utterances") or data.get("messages") or []


@pytest.fixture(scope="module")
def all_results(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[dict, dict]]]:
    """Every set through one ``say`` process, on a database of its own: a thousand one-line
    users (some of whom set a reminder time) must not become the trainees of the tests that
    share the suite's database (the real bot's scheduler would try to remind them)."""
    if not os.environ.get("DATABASE_URL", "").startswith("sqlite"):
        pytest.skip("SQLite only: held-out sets measure understanding, which no back end changes")
    sets = {name: _items(path) for name, path in {**HELDOUT_SETS, **SAFETY_SETS, **PRE_WORKOUT_SETS}.items()}
    lines: list[str] = []
    wanted: dict[str, list[int]] = {}  # the output line of each item (prefix lines are not scored)
    for name, items in sets.items():
        wanted[name] = []
        for i, item in enumerate(items):
            user = f"heldout-{name}-{i}"
            # A red flag written as the answer to an onboarding question is sent at that question.
            for prefix in ONBOARDING_UP_TO.get(item.get("answer_to", ""), []):
                lines.append(json.dumps({"user": user, "text": prefix}))
            wanted[name].append(len(lines))
            lines.append(json.dumps({"user": user, "text": item["text"]}))
    # The multi-turn dialogues (issue 14): each its own user, its messages in order, then /export.
    dialogues = _dialogues()
    spans: list[tuple[int, int]] = []
    for dialogue in dialogues:
        user = f"heldout-dialogue-{dialogue['id']}"
        first = len(lines)
        lines.extend(json.dumps({"user": user, "text": text}) for text in [*dialogue["user"], "/export"])
        spans.append((first, len(lines)))
    database = tmp_path_factory.mktemp("heldout") / "heldout.db"
    outputs, proc = run_say(lines, timeout=2400, extra_env={"DATABASE_URL": f"sqlite:///{database}"})
    assert len(outputs) == len(lines), proc.stderr[-3000:]
    results = {name: [(item, outputs[index]) for item, index in zip(items, wanted[name])] for name, items in sets.items()}
    results[DIALOGUES_KEY] = [(dialogue, outputs[a:b]) for dialogue, (a, b) in zip(dialogues, spans)]
    return results


@pytest.fixture(scope="module")
def heldout_results(all_results: dict[str, list[tuple[dict, dict]]]) -> dict[str, list[tuple[dict, dict]]]:
    return all_results


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
    questions = sum(1 for _i, t in non_red if not t["refs"]["red_flag"] and t["refs"].get("red_flag_check"))
    lines = ["", f"held-out set {name} ({HELDOUT_SETS[name].name}) through python -m bot say", f"{'category':<14}{'n':>5}{'correct':>9}{'accuracy':>10}"]
    for category in sorted(per_category):
        values = per_category[category]
        lines.append(f"{category:<14}{len(values):>5}{sum(values):>9}{sum(values) / len(values):>10.1%}")
    lines.append(f"{'all':<14}{total:>5}{correct:>9}{correct / total:>10.1%}")
    lines.append(f"red-flag recall {sum(red)}/{len(red)}; false alarms {false_alarms}/{len(non_red)} ({false_alarms / len(non_red):.1%}); "
                 f"screening questions on the others {questions}/{len(non_red)}")
    if misses:
        lines.append("misses:")
        lines.extend(misses)
    with capsys.disabled():
        print("\n".join(lines))
    assert sum(red) == len(red), "a red flag was missed"
    assert false_alarms / len(non_red) <= 0.02
    assert correct / total >= 0.90


def test_safety_sets_are_large_enough() -> None:
    blind = {name: _items(path) for name, path in SAFETY_SETS.items() if name.startswith("blind/")}
    ordinary = sum(len(items) for name, items in blind.items() if "ordinary" in name)
    red = sum(len(items) for name, items in blind.items() if "red_flag" in name)
    assert ordinary >= 400 and red >= 120, (ordinary, red)
    for name, items in blind.items():
        if "public" in name:
            assert all(str(item.get("source", "")).startswith("http") for item in items), f"{name}: every line needs its page"


def test_red_flag_screen_on_blind_sets(all_results, capsys: pytest.CaptureFixture) -> None:
    """Prints the table, and the lines behind it only when COACH_SHOW_BLIND_LINES=1: a line that
    is read is spent (docs/safety_heldout.md), so CI's log shows counts, not messages.

    Asserts the figures measured when the set was first run (GUARD), so that nothing gets worse,
    and prints the issue's targets beside them; the targets are not met yet (the closing note of
    the session that built the screen says by how much)."""
    show = os.environ.get("COACH_SHOW_BLIND_LINES") == "1"
    lines = ["", "red-flag screen through python -m bot say (each line a fresh user)",
             f"{'set':<28}{'n':>5}{'stops':>7}{'questions':>11}{'missed':>8}{'fallback':>10}"]
    red_n = red_caught = ordinary_n = ordinary_stops = ordinary_questions = 0
    # Counts by label (never the lines): where the misses are, without spending the set.
    missed_by: dict[str, dict[str, int]] = {"flag": defaultdict(int), "answer_to": defaultdict(int)}
    flagged_by_kind: dict[str, int] = defaultdict(int)
    for name in SAFETY_SETS:
        results = all_results[name]
        red_set = "red_flag" in name
        stops = sum(1 for _i, t in results if t["refs"]["red_flag"])
        questions = sum(1 for _i, t in results if not t["refs"]["red_flag"] and t["refs"].get("red_flag_check"))
        missed = [i for i, t in results if not caught(t["refs"])] if red_set else []
        fallback = sum(1 for _i, t in results if (t.get("intent") or {}).get("name") == "nlu_fallback")
        lines.append(f"{name:<28}{len(results):>5}{stops:>7}{questions:>11}{len(missed) if red_set else '-':>8}{fallback:>10}")
        if red_set:
            red_n += len(results)
            red_caught += len(results) - len(missed)
            for item in missed:
                missed_by["flag"][item["flag"]] += 1
                missed_by["answer_to"][item.get("answer_to") or "none"] += 1
            if show:
                lines.extend(f"    missed [{i['flag']}] {i['text']!r}" for i in missed)
        else:
            ordinary_n += len(results)
            ordinary_stops += stops
            ordinary_questions += questions
            for item, t in results:
                if t["refs"]["red_flag"] or t["refs"].get("red_flag_check"):
                    flagged_by_kind[f"{item.get('kind', '?')}{' (near miss)' if item.get('near_miss') else ''}"] += 1
            if show:
                lines.extend(f"    false stop {i['text']!r}" for i, t in results if t["refs"]["red_flag"])
                lines.extend(f"    question [{t['refs']['red_flag_check']}] {i['text']!r}" for i, t in results
                             if not t["refs"]["red_flag"] and t["refs"].get("red_flag_check"))
    recall, stop_rate, question_rate = red_caught / red_n, ordinary_stops / ordinary_n, ordinary_questions / ordinary_n
    lines.append(f"recall {red_caught}/{red_n} ({recall:.1%}); ordinary: false stops {ordinary_stops}/{ordinary_n} "
                 f"({stop_rate:.2%}), questions {ordinary_questions}/{ordinary_n} ({question_rate:.1%})")
    for label, counts in missed_by.items():
        lines.append(f"missed by {label}: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
    lines.append("ordinary stopped or asked, by kind: " + (", ".join(f"{k} {v}" for k, v in sorted(flagged_by_kind.items())) or "none"))
    met = recall >= TARGET_RECALL and stop_rate <= MAX_FALSE_STOPS and question_rate <= MAX_QUESTIONS
    lines.append(f"issue targets: recall {TARGET_RECALL:.0%}, false stops <= {MAX_FALSE_STOPS:.1%}, questions <= "
                 f"{MAX_QUESTIONS:.0%}: {'met' if met else 'NOT MET'}")
    with capsys.disabled():
        print("\n".join(lines))
    assert recall >= GUARD_RECALL, f"recall fell below the measured {GUARD_RECALL:.1%}"
    assert stop_rate <= GUARD_FALSE_STOPS, f"false stops rose above the measured {GUARD_FALSE_STOPS:.1%}"
    assert question_rate <= GUARD_QUESTIONS, f"questions rose above the measured {GUARD_QUESTIONS:.1%}"


@pytest.mark.parametrize("name", sorted(PRE_WORKOUT_SETS))
def test_pre_workout_blind_set(name: str, all_results, capsys: pytest.CaptureFixture) -> None:
    """The table of the pre-workout blind set; misses are counted by label, their lines hidden."""
    import re

    results = all_results[name]
    guard_activity, guard_primer, guard_no_fault, guard_fallbacks = PRE_WORKOUT_GUARDS[name]
    assert len(results) >= 60
    rows: dict[str, list[dict[str, bool]]] = defaultdict(list)
    misses: list[str] = []
    fallbacks = 0
    for item, turn in results:
        refs = turn["refs"]
        expected = PRE_WORKOUT_ACTIVITY[item["activity"]]
        intent = (turn.get("intent") or {}).get("name")
        fallbacks += intent == "nlu_fallback"
        first = next((r["text"] for r in turn["replies"] if r.get("text")), "")
        said = re.search(r"primer, about (\d+) min", first)
        minutes_ok = None if item.get("primer_minutes") is None else bool(said and int(said[1]) <= item["primer_minutes"])
        row = {"activity": expected in refs["activities"], "primer": bool(refs["exercises"] and refs["activities"]),
               "cues": bool(refs["cues"]), "no_fault": not refs["faults"], "minutes": minutes_ok}
        rows[item["asks"]].append(row)
        if not (row["activity"] and row["no_fault"] and (row["primer"] if item["asks"] == "primer" else row["cues"])
                and minutes_ok is not False):
            misses.append(f"  [{item['asks']}/{item['activity']}] {item['text']!r} → intent {intent} "
                          f"refs activities={refs['activities']} faults={refs['faults']} exercises={refs['exercises']}"
                          + (f" minutes said {said[1] if said else None} for {item['primer_minutes']}" if minutes_ok is False else ""))
    everything = [r for values in rows.values() for r in values]
    n = len(everything)
    activity = sum(r["activity"] for r in everything) / n
    primer = sum(r["primer"] for r in rows["primer"]) / len(rows["primer"])
    no_fault = sum(r["no_fault"] for r in everything) / n
    timed = [r["minutes"] for r in everything if r["minutes"] is not None]
    lines = ["", f"pre-workout blind set ({PRE_WORKOUT_SETS[name].name}) through python -m bot say, each line a fresh user",
             f"{'asks':<8}{'n':>4}{'activity':>10}{'primer':>8}{'cues':>6}{'no fault':>10}"]
    for asks, values in sorted(rows.items()):
        lines.append(f"{asks:<8}{len(values):>4}{sum(r['activity'] for r in values):>10}{sum(r['primer'] for r in values):>8}"
                     f"{sum(r['cues'] for r in values):>6}{sum(r['no_fault'] for r in values):>10}")
    lines.append(f"right activity {activity:.1%} (target {TARGET_ACTIVITY:.0%}); primer with KB exercises where asked "
                 f"{primer:.1%}; no invented fault {no_fault:.1%}; primer within the minutes given "
                 f"{sum(timed)}/{len(timed)}; generic fallbacks {fallbacks} (at most {MAX_FALLBACKS})")
    met = activity >= TARGET_ACTIVITY and primer == 1.0 and no_fault == 1.0 and fallbacks <= MAX_FALLBACKS
    lines.append(f"issue targets: {'met' if met else 'NOT MET'}")
    if misses and SHOW_BLIND_LINES:
        lines.append("misses:")
        lines.extend(misses)
    elif misses:
        by_label = defaultdict(int)
        for miss in misses:
            by_label[miss.split("]", 1)[0].strip(" [")] += 1
        lines.append("misses by asks/activity (lines hidden: COACH_SHOW_BLIND_LINES=1 shows and spends them): "
                     + ", ".join(f"{k} {v}" for k, v in sorted(by_label.items())))
    with capsys.disabled():
        print("\n".join(lines))
    assert activity >= guard_activity and primer >= guard_primer and no_fault >= guard_no_fault
    assert fallbacks <= guard_fallbacks


def test_blind_dialogues_on_stored_state(all_results, capsys: pytest.CaptureFixture) -> None:
    """Issue 14: each blind dialogue passes when /export holds what its writer expected and no
    turn stopped coaching; the failing dialogues are listed by id with the fields that differ."""
    results = all_results[DIALOGUES_KEY]
    failing = {d["id"]: dialogue_problems(d, turns) for d, turns in results}
    failing = {k: v for k, v in failing.items() if v}
    passed = len(results) - len(failing)
    by_field: dict[str, int] = defaultdict(int)
    for problems in failing.values():
        for problem in problems:
            by_field[problem] += 1
    pain_from_not_pain = sum("pain_log" in p for p in failing.values())
    lines = ["", f"blind dialogues ({DIALOGUES.name}) through python -m bot say, checked on /export",
             f"passed in full {passed}/{len(results)} ({passed / len(results):.1%}, target {TARGET_DIALOGUES:.0%}); "
             f"pain_log differs in {pain_from_not_pain}",
             "fields that differ: " + ", ".join(f"{k} {v}" for k, v in sorted(by_field.items())),
             "failing: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in sorted(failing.items()))]
    with capsys.disabled():
        print("\n".join(lines))
    assert len(results) >= 60
    assert passed / len(results) >= GUARD_DIALOGUES, f"fewer dialogues pass than the measured {GUARD_DIALOGUES:.1%}"
