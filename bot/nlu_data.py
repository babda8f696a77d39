"""Rasa training data and spaCy patterns generated from the knowledge base.

One source of truth: how people describe a fault, name a cue or an exercise, or tell a red-flag
symptom lives in ``knowledge/content``; this module turns it into

- ``data/generated/nlu_kb.yml``: examples for ``report_fault``, ``red_flag``, ``ask_why_cue``,
  ``ask_howto``, the follow-ups and ``pre_workout`` (lift and activity names × templates), with
  entity annotations, plus the entity synonyms (alias → knowledge-base id);
- ``var/spacy_kb``: a blank English spaCy pipeline with an ``entity_ruler`` whose (lower-case)
  patterns are the aliases, loaded by Rasa's ``SpacyNLP`` by path.

Nothing here is copied by hand; edit the content files and retrain.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from knowledge.db import PROJECT_ROOT

GENERATED_DIR = PROJECT_ROOT / "data" / "generated"


@dataclass(frozen=True)
class Labelled:
    """A training example that names the knowledge-base item it is about."""

    text: str
    key: str
    value: str
VOCABULARY_FILE = PROJECT_ROOT / "knowledge" / "content" / "vocabulary.yaml"

# How people ask "why" about a cue and "how" about an exercise. {x} is the name they use.
WHY_TEMPLATES = [
    "why {x}?",
    "why should i {x}",
    "whats the point of {x}",
    "why do you keep saying {x}",
    "why is {x} important",
    "how does {x} help",
    "explain {x}",
    "y {x}",
    "what does {x} do for me",
    "why does {x} matter",
]
HOWTO_TEMPLATES = [
    "how do i do {x}",
    "{x} form?",
    "show me {x}",
    "how to do {x}",
    "explain {x}",
    "teach me {x}",
    "{x} how",
    "whats the right way to do {x}",
    "steps for {x}",
    "{x}",
]
# Before a workout: a primer, or the cues to carry into a lift. {x} is the lift or activity's name.
PRE_WORKOUT_TEMPLATES = [
    "about to {x}, what should i focus on?",
    "{x} in 20 min, anything to think about?",
    "{x} in a minute",
    "quick activation before {x}",
    "{x} day, got a glute warm up for me?",
    "key cues for {x}?",
    "what cues for {x}",
    "how should my knees be in {x}",
    "warm up for {x}",
    "prime my glutes before {x}",
    "glute primer before {x} please",
    "heading out for {x} shortly, quick activation?",
    "what should i think about during {x}",
    "doing {x} later, what should i do first",
    "any tips before {x}",
    "what do i focus on in {x}",
    "just 2 minutes before {x}, what can i do",
    "activation drills for {x}",
    "{x} soon, wake my glutes up",
    "off to do {x}, anything to warm up",
    "pre {x} warm up",
    "form cues for {x}",
]
# Asking for one of the self-tests by name. No entity annotation: the names overlap exercise names
# ("single leg stance"), and the action finds the test in the text itself.
# Only names with "test" in them: "single leg squat" alone is the lift a primer is for.
SELF_TEST_TEMPLATES = ["self test: {x}", "can i do the {x}", "i'd like to try the {x}"]
EASIER_TEMPLATES = ["easier version of {x}?", "{x} is too hard for me", "is there an easier {x}"]
HARDER_TEMPLATES = ["harder version of {x}", "{x} feels too easy", "how do i progress {x}"]
ALTERNATIVE_TEMPLATES = ["i have no band for {x}", "alternative to {x}", "can i swap {x} for something"]


def _pick(items: list[str], key: str, count: int) -> list[str]:
    """A deterministic spread of ``count`` items chosen by ``key`` (same input, same data)."""
    if len(items) <= count:
        return list(items)
    start = int(hashlib.sha1(key.encode()).hexdigest(), 16) % len(items)
    step = max(1, len(items) // count)
    return [items[(start + i * step) % len(items)] for i in range(count)]


def _annotate(template: str, name: str, entity: str, value: str) -> str:
    name = name.replace("[", "").replace("]", "")
    annotation = "[" + name + ']{"entity": "' + entity + '", "value": "' + value + '"}'
    return template.replace("{x}", annotation)


def _names(item: Any) -> list[str]:
    names = [item.title.lower()] + [a.lower() for a in item.aliases]
    seen: list[str] = []
    for n in names:
        if n and n not in seen:
            seen.append(n)
    return seen


def _clean(text: str) -> str:
    return " ".join(text.replace("\n", " ").split())


def _examples_block(examples: Iterable[str]) -> str:
    unique: list[str] = []
    for e in examples:
        e = _clean(e)
        if e and e not in unique:
            unique.append(e)
    return "".join(f"- {e}\n" for e in unique)


def build_nlu(kb: Any) -> tuple[dict[str, list[Any]], dict[str, list[str]]]:
    """Intent → examples, and synonym value → aliases, from a loaded knowledge base."""
    intents: dict[str, list[Any]] = {
        "report_fault": [],
        "red_flag": [],
        "ask_why_cue": [],
        "ask_howto": [],
        "ask_easier": [],
        "ask_harder": [],
        "ask_alternative": [],
        "pre_workout": [],
        "self_test": [],
    }
    synonyms: dict[str, list[str]] = {}

    for fault in kb.faults():
        # The fault id rides along as example metadata: KBItemClassifier learns from it.
        intents["report_fault"].extend(Labelled(p.lower(), "fault", fault.id) for p in fault.phrasings)
    for flag in kb.red_flags():
        intents["red_flag"].extend(Labelled(p.lower(), "red_flag", flag.id) for p in flag.phrasings)
    for cue in kb.cues():
        names = _names(cue)
        synonyms[cue.id] = names
        for name in names:
            for template in _pick(WHY_TEMPLATES, cue.id + name, 3):
                intents["ask_why_cue"].append(_annotate(template, name, "cue", cue.id))
    for exercise in kb.exercises():
        names = _names(exercise)
        synonyms[exercise.id] = names
        for name in names:
            for template in _pick(HOWTO_TEMPLATES, exercise.id + name, 3):
                intents["ask_howto"].append(_annotate(template, name, "exercise", exercise.id))
        name = names[0]
        for intent, templates in (
            ("ask_easier", EASIER_TEMPLATES),
            ("ask_harder", HARDER_TEMPLATES),
            ("ask_alternative", ALTERNATIVE_TEMPLATES),
        ):
            template = _pick(templates, exercise.id + intent, 1)[0]
            intents[intent].append(_annotate(template, name, "exercise", exercise.id))

    # Activity names are their own namespace ("hip thrust" is also an exercise): a name already
    # mapped to an exercise or a cue gets no synonym, and the action finds the activity itself.
    # An annotation whose value differs from its text is a synonym to Rasa too, so a taken name
    # is annotated with the id that already owns it (no conflicting synonym) and the activity
    # rides along as example metadata, which KBItemClassifier learns from first.
    owner = {name: item_id for item_id, names in synonyms.items() for name in names}
    for activity in kb.activities():
        names = _names(activity)
        own = [n for n in names if n not in owner]
        if own:
            synonyms[activity.id] = own
        for name in names:
            for template in _pick(PRE_WORKOUT_TEMPLATES, activity.id + name, 4):
                text = _annotate(template, name, "activity", owner.get(name, activity.id))
                intents["pre_workout"].append(Labelled(text, "activity", activity.id))

    for assessment in kb.assessments():
        for name in _names(assessment):
            if "test" not in name or name.split()[0] in ("can", "how", "what", "is", "do", "does"):
                continue  # not a test's own name, or a question rather than a name
            for template in _pick(SELF_TEST_TEMPLATES, assessment.id + name, 1):
                intents["self_test"].append(template.format(x=name))

    vocabulary = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8"))
    for group in ("body_parts", "sides"):
        for value, aliases in vocabulary[group].items():
            synonyms.setdefault(value, [])
            synonyms[value] += [a for a in aliases if a not in synonyms[value]]
    return intents, synonyms


def render_nlu_yaml(intents: dict[str, list[Any]], synonyms: dict[str, list[str]]) -> str:
    out = [
        "# GENERATED from knowledge/content by bot/nlu_data.py — do not edit; edit the content and retrain.\n",
        'version: "3.1"\n',
        "nlu:\n",
    ]
    for intent, examples in intents.items():
        if examples and isinstance(examples[0], Labelled):
            out.append(f"- intent: {intent}\n  examples:\n")
            seen: set[str] = set()
            for example in examples:
                text = _clean(example.text)
                if text and text not in seen:
                    seen.add(text)
                    # JSON strings are valid YAML double-quoted scalars: safe for any text.
                    out.append(f"  - text: {json.dumps(text, ensure_ascii=False)}\n")
                    out.append(f"    metadata:\n      {example.key}: {example.value}\n")
            continue
        out.append(f"- intent: {intent}\n  examples: |\n")
        out.extend("    " + line + "\n" for line in _examples_block(examples).splitlines())
    for value, aliases in sorted(synonyms.items()):
        names = [a for a in aliases if a != value]
        if not names:
            continue
        out.append(f"- synonym: {value}\n  examples: |\n")
        out.extend("    " + line + "\n" for line in _examples_block(names).splitlines())
    return "".join(out)


def spacy_patterns(kb: Any) -> list[dict[str, Any]]:
    """entity_ruler patterns (lower case, as Rasa lower-cases text before spaCy sees it)."""
    patterns: list[dict[str, Any]] = []
    for label, items in (("exercise", kb.exercises()), ("cue", kb.cues())):
        for item in items:
            for name in _names(item):
                patterns.append({"label": label, "pattern": name.lower(), "id": item.id})
    taken = {p["pattern"] for p in patterns}
    for activity in kb.activities():
        for name in _names(activity):
            if name not in taken:  # an exercise's name stays the exercise's in the ruler
                patterns.append({"label": "activity", "pattern": name, "id": activity.id})
    vocabulary = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8"))
    for label, group in (("body_part", "body_parts"), ("side", "sides")):
        for value, aliases in vocabulary[group].items():
            for alias in aliases:
                if len(alias) > 1:  # single letters ("l", "r") would fire on every typo
                    patterns.append({"label": label, "pattern": alias.lower(), "id": value})
    return patterns


def build_spacy_pipeline(patterns: list[dict[str, Any]], target: Path) -> Path:
    """A blank English pipeline + entity_ruler, saved where config.yml's SpacyNLP expects it."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    ruler.add_patterns(patterns)
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    nlp.to_disk(tmp)
    # Swap in place so a running process never sees half a pipeline.
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target


def generate(kb: Any, spacy_dir: Path) -> dict[str, int]:
    """Write the generated NLU file and the spaCy pipeline; return example counts per intent."""
    intents, synonyms = build_nlu(kb)
    GENERATED_DIR.mkdir(parents=True, exist_ok=True)
    (GENERATED_DIR / "nlu_kb.yml").write_text(render_nlu_yaml(intents, synonyms), encoding="utf-8")
    spacy_dir.parent.mkdir(parents=True, exist_ok=True)
    build_spacy_pipeline(spacy_patterns(kb), spacy_dir)
    return {
        intent: len({_clean(e.text if isinstance(e, Labelled) else e) for e in examples})
        for intent, examples in intents.items()
    }
