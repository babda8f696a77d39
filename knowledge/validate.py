"""Validation of the knowledge-base content files (format: ``docs/content.md``).

Everything is checked in one pass and every problem is reported, each as
``path:line: message`` with the line of the offending YAML node, so a reviewer can fix a
file in one go. Nothing here raises on bad content.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from knowledge.db import PROJECT_ROOT
from knowledge.english import normalise
from knowledge.yaml_source import LocatedDocument, PathKey, display_path, load_located

DEFAULT_CONTENT_DIR = PROJECT_ROOT / "knowledge" / "content"

# kind -> (file name, top-level key); order = load order (references first: others cite them).
KIND_FILES: dict[str, tuple[str, str]] = {
    "reference": ("references.yaml", "references"),
    "fault": ("faults.yaml", "faults"),
    "cue": ("cues.yaml", "cues"),
    "exercise": ("exercises.yaml", "exercises"),
    "red_flag": ("red_flags.yaml", "red_flags"),
    "assessment": ("assessments.yaml", "assessments"),
    "activity": ("activities.yaml", "activities"),
}
DOCUMENT_FILES: dict[str, str] = {"progression": "progression.yaml", "safety_screen": "safety_screen.yaml",
                                  "safety_examples": "safety_examples.yaml"}
KIND_LABEL = {"reference": "reference", "fault": "fault", "cue": "cue", "exercise": "exercise",
              "red_flag": "red flag", "assessment": "assessment", "activity": "activity"}

PHASES = ("activation", "integration", "loading")
EQUIPMENT = ("none", "band", "bench", "kettlebell", "barbell", "machine")
URGENCIES = ("emergency", "urgent", "soon")
ACTIVITY_KINDS = ("lift", "activity")
EVIDENCE = ("published", "coaching_practice")
ACTIVITY_ID_PREFIXES = ("lift_", "activity_")
MIN_ACTIVITY_CUES, MAX_ACTIVITY_CUES = 2, 3
MIN_ACTIVITY_PRIMER = 2
MUSCLES = ("gluteus_maximus", "gluteus_medius", "hamstrings", "core", "hip_flexors",
           "erector_spinae", "quadriceps", "adductors")
MIN_FAULT_PHRASINGS = 15
MIN_RED_FLAG_PHRASINGS = 10
MIN_FAULT_CUES = 2
MIN_FAULT_EXERCISES = 2

ID_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# A published figure: a number or a range such as "34-53" (hyphen or en dash).
FIGURE_RE = re.compile(r"^\d+(\.\d+)?(\s*[-\u2013]\s*\d+(\.\d+)?)?$")

# Training talk the red-flag screen must never fire on (docs/content.md).
ORDINARY_TRAINING_TALK = (
    "my glutes are sore after training",
    "my hamstrings are tight after deadlifts",
    "my legs feel tired after squats",
    "i feel a burn in my glutes during bridges",
    "my lower back is doing the work in hip thrusts",
    "my hip drops when i stand on one leg",
    "my knees cave in when i squat",
)

# The ids the product's issue promises; checked for the real content directory only.
REQUIRED_IDS: dict[str, tuple[str, ...]] = {
    "fault": ("lumbar_dominance", "hamstring_dominance", "no_glute_feel", "knee_valgus", "hip_drop",
              "anterior_pelvic_tilt", "tfl_dominance", "trunk_lean", "spine_flexion_hinge",
              "hip_flexor_tightness"),
    "cue": ("hips_drive", "pelvis_level", "knees_track_toes", "push_knees_out", "ribs_over_pelvis",
            "exhale_on_effort", "tuck_pelvis", "neutral_spine", "finish_with_glutes", "heels_down",
            "slow_tempo", "hinge_at_hips", "lead_with_heel"),
    "exercise": ("glute_bridge", "single_leg_glute_bridge", "banded_glute_bridge", "hip_thrust",
                 "single_leg_hip_thrust", "barbell_hip_thrust", "posterior_pelvic_tilt_hip_thrust",
                 "cook_hip_lift", "clamshell", "side_lying_hip_abduction", "side_plank",
                 "lateral_band_walk", "band_seated_abduction", "bird_dog", "quadruped_hip_extension",
                 "plank", "hip_hinge", "single_leg_romanian_deadlift", "kettlebell_swing",
                 "bulgarian_split_squat", "step_up", "sit_to_stand", "reverse_hyperextension",
                 "duck_walk", "kneeling_hip_flexor_stretch", "single_leg_stance"),
    "red_flag": ("cauda_equina", "progressive_neuro_deficit", "infection", "cancer", "fracture"),
    "assessment": ("single_leg_stance_test", "glute_squeeze_test", "single_leg_bridge_hold",
                   "single_leg_squat_tracking"),
}

USE_DEFAULT_REQUIRED: Any = object()


POSE_JOINTS = ("pelvis", "waist", "shoulders", "neck", "head", "near_elbow", "near_hand", "far_elbow", "far_hand",
               "near_knee", "near_ankle", "near_toe", "far_knee", "far_ankle", "far_toe")
POSE_FIELDS = ("label", "trunk", "head", "arms", "legs", "feet", "scale", "floor_at", "lift", "props")
PROP_KINDS = ("bench", "box", "band", "weight")


def _is_angle(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and -360 <= value <= 360


def position_problems(positions: object) -> list[str]:
    """What is wrong with an exercise's key positions (the data its picture is drawn from)."""
    if positions is None:
        return ["missing required field 'positions' (start and end, for the exercise's picture)"]
    if not isinstance(positions, dict) or set(positions) != {"start", "end"}:
        return ["'positions' must have exactly 'start' and 'end'"]
    problems = []
    for name, pose in positions.items():
        where = f"positions.{name}"
        if not isinstance(pose, dict):
            problems.append(f"{where} must be a mapping")
            continue
        unknown = sorted(set(pose) - set(POSE_FIELDS))
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
        if not _is_angle(pose.get("trunk")):
            problems.append(f"{where}.trunk must be an angle in degrees")
        if "head" in pose and not _is_angle(pose["head"]):
            problems.append(f"{where}.head must be an angle in degrees")
        for limbs in ("arms", "legs"):
            value = pose.get(limbs)
            if not (isinstance(value, list) and len(value) == 2 and all(
                isinstance(pair, list) and len(pair) == 2 and all(_is_angle(a) for a in pair) for pair in value
            )):
                problems.append(f"{where}.{limbs} must be [[upper, lower], [upper, lower]] angles, near side first")
        if "feet" in pose and not (isinstance(pose["feet"], list) and len(pose["feet"]) == 2
                                   and all(_is_angle(a) for a in pose["feet"])):
            problems.append(f"{where}.feet must be two angles")
        for joint in pose.get("floor_at") or ():
            if joint not in POSE_JOINTS:
                problems.append(f"{where}.floor_at: unknown joint {joint!r}")
        for prop in pose.get("props") or ():
            if not isinstance(prop, dict) or prop.get("kind") not in PROP_KINDS:
                problems.append(f"{where}.props: each prop needs a kind, one of {', '.join(PROP_KINDS)}")
                continue
            for field in ("under", "at"):
                if field in prop and prop[field] not in POSE_JOINTS:
                    problems.append(f"{where}.props: unknown joint {prop[field]!r}")
            for joint in prop.get("between") or ():
                if joint not in POSE_JOINTS:
                    problems.append(f"{where}.props: unknown joint {joint!r}")
    return problems


# ----------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class ContentSet:
    """The parsed content: items per kind in file order, whole documents, and a fingerprint."""

    content_dir: Path
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    fingerprint: str = ""

    def count(self) -> int:
        return sum(len(items) for items in self.items.values())


@dataclass
class ValidationResult:
    content: ContentSet
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def content_fingerprint(content_dir: Path) -> str:
    """SHA-256 over the names and bytes of every content file, in name order."""
    digest = hashlib.sha256()
    for path in sorted(content_dir.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


# ----------------------------------------------------------------------------- the checker

@dataclass
class _Ref:
    kind: str
    target: str
    doc: LocatedDocument
    key: PathKey
    owner: str  # "fault 'lumbar_dominance'"


class _Validator:
    def __init__(self, content_dir: Path) -> None:
        self.content_dir = content_dir
        self.problems: list[Problem] = []
        self.refs: list[_Ref] = []
        self.ids: dict[str, dict[str, tuple[LocatedDocument, PathKey]]] = {k: {} for k in KIND_FILES}
        self.aliases: dict[str, tuple[str, str, LocatedDocument, PathKey]] = {}
        # Activity names are their own namespace ("hip thrust" is an exercise and a lift).
        self.activity_aliases: dict[str, tuple[str, LocatedDocument, PathKey]] = {}
        self.content = ContentSet(content_dir=content_dir, items={k: [] for k in KIND_FILES})
        # exercise id -> [(harder-than edge target, doc, key)] for the cycle check
        self.harder_edges: dict[str, list[tuple[str, LocatedDocument, PathKey]]] = {}
        # Kinds whose file could not be read: their ids are unknown, not missing.
        self.unreadable: set[str] = set()

    # -- reporting -------------------------------------------------------------------------------
    def err(self, doc: LocatedDocument, key: PathKey, message: str) -> None:
        self.problems.append(Problem(doc.display, doc.line(key), message))

    # -- field helpers ---------------------------------------------------------------------------
    def text(self, doc: LocatedDocument, item: dict, key: PathKey, name: str, owner: str,
             required: bool = True) -> None:
        if name not in item:
            if required:
                self.err(doc, key, f"{owner}: missing required field '{name}'")
            return
        value = item[name]
        if value is None and not required:
            return
        if not isinstance(value, str) or not value.strip():
            self.err(doc, key + (name,), f"{owner}: '{name}' must be a non-empty string")

    def text_list(self, doc: LocatedDocument, item: dict, key: PathKey, name: str, owner: str,
                  minimum: int = 0, what: str | None = None, lower: bool = False) -> list[str]:
        if name not in item:
            self.err(doc, key, f"{owner}: missing required field '{name}'")
            return []
        value = item[name]
        if not isinstance(value, list):
            self.err(doc, key + (name,), f"{owner}: '{name}' must be a list")
            return []
        good: list[str] = []
        for index, entry in enumerate(value):
            if not isinstance(entry, str) or not entry.strip():
                self.err(doc, key + (name, index), f"{owner}: every entry of '{name}' must be a non-empty string")
                continue
            if lower and entry != entry.lower():
                self.err(doc, key + (name, index), f"{owner}: {what or name} '{entry}' must be lower case")
            good.append(entry)
        if len(value) < minimum:
            noun = what or name
            noun = noun if minimum == 1 or noun.endswith("s") else noun + "s"
            self.err(doc, key + (name,), f"{owner}: needs at least {minimum} {noun} (has {len(value)})")
        return good

    def id_list(self, doc: LocatedDocument, item: dict, key: PathKey, name: str, owner: str,
                target_kind: str, minimum: int = 0, what: str | None = None) -> list[str]:
        ids = self.text_list(doc, item, key, name, owner, minimum=minimum, what=what)
        for index, target in enumerate(item.get(name) or []):
            if isinstance(target, str) and target.strip():
                self.refs.append(_Ref(target_kind, target, doc, key + (name, index), owner))
        return ids

    def enum(self, doc: LocatedDocument, item: dict, key: PathKey, name: str, owner: str,
             allowed: Iterable[str], nullable: bool = False) -> None:
        if name not in item:
            self.err(doc, key, f"{owner}: missing required field '{name}'")
            return
        value = item[name]
        if value is None and nullable:
            return
        if value not in allowed:
            self.err(doc, key + (name,), f"{owner}: {name} '{value}' is not one of {', '.join(allowed)}")

    def known_fields(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str,
                     allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in item:
            if name not in allowed:
                self.problems.append(Problem(doc.display, doc.key_lines.get(key + (name,), doc.line(key)),
                                             f"{owner}: unknown field '{name}'"))

    def mapping(self, doc: LocatedDocument, item: dict, key: PathKey, name: str, owner: str) -> dict | None:
        if name not in item:
            self.err(doc, key, f"{owner}: missing required field '{name}'")
            return None
        value = item[name]
        if not isinstance(value, dict):
            self.err(doc, key + (name,), f"{owner}: '{name}' must be a mapping")
            return None
        return value

    def aliases_of(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str, kind: str,
                   item_id: str, required: bool = True) -> None:
        if "aliases" not in item and not required:
            return
        for index, alias in enumerate(self.text_list(doc, item, key, "aliases", owner, what="alias", lower=True)):
            normal = normalise(alias)
            if not normal:
                continue
            seen = self.aliases.get(normal)
            if seen is None:
                self.aliases[normal] = (kind, item_id, doc, key + ("aliases", index))
            elif (seen[0], seen[1]) != (kind, item_id):
                other = seen[2]
                self.err(doc, key + ("aliases", index),
                         f"{owner}: alias '{alias}' also names {KIND_LABEL[seen[0]]} '{seen[1]}' "
                         f"({other.display}:{other.line(seen[3])})")

    def sources(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str) -> None:
        self.id_list(doc, item, key, "sources", owner, "reference", minimum=1, what="source")

    # -- files -----------------------------------------------------------------------------------
    def load_file(self, file_name: str, top_key: str | None) -> LocatedDocument | None:
        path = self.content_dir / file_name
        if not path.exists():
            self.problems.append(Problem(display_path(path), 1, "file is missing"))
            return None
        doc = load_located(path)
        for problem in doc.problems:
            self.problems.append(Problem(doc.display, problem.line, problem.message))
        if doc.data is None and not doc.problems:
            self.err(doc, (), "file is empty")
            return None
        if doc.data is None:
            return None
        if not isinstance(doc.data, dict):
            self.err(doc, (), "the file must be a mapping" + (f" with the key '{top_key}'" if top_key else ""))
            return None
        if top_key is not None:
            for name in doc.data:
                if name != top_key:
                    self.problems.append(Problem(doc.display, doc.key_lines.get((name,), 1),
                                                 f"unknown top-level key '{name}' (expected '{top_key}')"))
            if top_key not in doc.data:
                self.err(doc, (), f"missing top-level key '{top_key}'")
                return None
            if not isinstance(doc.data[top_key], list):
                self.err(doc, (top_key,), f"'{top_key}' must be a list")
                return None
        return doc

    def items(self, kind: str) -> None:
        file_name, top_key = KIND_FILES[kind]
        doc = self.load_file(file_name, top_key)
        if doc is None:
            self.unreadable.add(kind)
            return
        label = KIND_LABEL[kind]
        for index, item in enumerate(doc.data[top_key]):
            key: PathKey = (top_key, index)
            if not isinstance(item, dict):
                self.err(doc, key, f"{label} #{index + 1}: must be a mapping")
                continue
            item_id = item.get("id")
            if not isinstance(item_id, str):
                self.err(doc, key, f"{label} #{index + 1}: missing required field 'id'" if "id" not in item
                         else f"{label} #{index + 1}: id must be a string")
                continue
            owner = f"{label} '{item_id}'"
            if not ID_RE.match(item_id):
                self.err(doc, key + ("id",), f"{owner}: id must be lower_snake_case")
            first = self.ids[kind].get(item_id)
            if first is not None:
                self.err(doc, key + ("id",),
                         f"duplicate {label} id '{item_id}' (first defined at line {first[0].line(first[1])})")
                continue
            self.ids[kind][item_id] = (doc, key + ("id",))
            getattr(self, f"check_{kind}")(doc, item, key, owner, item_id)
            self.content.items[kind].append(item)

    # -- kinds -----------------------------------------------------------------------------------
    def check_reference(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str, item_id: str) -> None:
        self.known_fields(doc, item, key, owner, ("id", "authors", "year", "title", "published_in", "doi", "url"))
        self.text(doc, item, key, "authors", owner)
        self.text(doc, item, key, "title", owner)
        self.text(doc, item, key, "published_in", owner, required=False)
        self.text(doc, item, key, "doi", owner, required=False)
        self.text(doc, item, key, "url", owner, required=False)
        if "year" not in item:
            self.err(doc, key, f"{owner}: missing required field 'year'")
        elif not isinstance(item["year"], int) or isinstance(item["year"], bool) or not 1800 < item["year"] < 2200:
            self.err(doc, key + ("year",), f"{owner}: year must be a four-digit number")
        if not item.get("doi") and not item.get("url"):
            self.err(doc, key, f"{owner}: needs a doi or a url")

    def check_fault(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str, item_id: str) -> None:
        self.known_fields(doc, item, key, owner, ("id", "title", "aliases", "phrasings", "summary", "mechanism",
                                                  "self_check", "cues", "exercises", "see_a_professional", "sources"))
        for name in ("title", "summary", "mechanism", "see_a_professional"):
            self.text(doc, item, key, name, owner)
        self.aliases_of(doc, item, key, owner, "fault", item_id)
        self.text_list(doc, item, key, "phrasings", owner, minimum=MIN_FAULT_PHRASINGS, what="phrasing")
        check = self.mapping(doc, item, key, "self_check", owner)
        if check is not None:
            check_key = key + ("self_check",)
            self.known_fields(doc, check, check_key, owner, ("steps", "positive_if"))
            self.text_list(doc, check, check_key, "steps", owner, minimum=1, what="self-check step")
            self.text(doc, check, check_key, "positive_if", owner)
        self.id_list(doc, item, key, "cues", owner, "cue", minimum=MIN_FAULT_CUES, what="cue")
        exercises = item.get("exercises")
        if "exercises" not in item:
            self.err(doc, key, f"{owner}: missing required field 'exercises'")
        elif not isinstance(exercises, list):
            self.err(doc, key + ("exercises",), f"{owner}: 'exercises' must be a list")
        else:
            seen: set[str] = set()
            for index, entry in enumerate(exercises):
                entry_key = key + ("exercises", index)
                if not isinstance(entry, dict):
                    self.err(doc, entry_key, f"{owner}: every exercise must be a mapping with 'id' and 'why'")
                    continue
                self.known_fields(doc, entry, entry_key, owner, ("id", "why"))
                if not isinstance(entry.get("id"), str):
                    self.err(doc, entry_key, f"{owner}: exercise #{index + 1} is missing 'id'")
                    continue
                if entry["id"] in seen:
                    self.err(doc, entry_key + ("id",), f"{owner}: exercise '{entry['id']}' is listed twice")
                seen.add(entry["id"])
                self.refs.append(_Ref("exercise", entry["id"], doc, entry_key + ("id",), owner))
                self.text(doc, entry, entry_key, "why", f"{owner}, exercise '{entry['id']}'")
            if len(exercises) < MIN_FAULT_EXERCISES:
                self.err(doc, key + ("exercises",),
                         f"{owner}: needs at least {MIN_FAULT_EXERCISES} exercises (has {len(exercises)})")
        self.sources(doc, item, key, owner)

    def check_cue(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str, item_id: str) -> None:
        self.known_fields(doc, item, key, owner, ("id", "title", "say", "aliases", "why", "feels_like",
                                                  "exercises", "faults", "sources"))
        for name in ("title", "say", "why", "feels_like"):
            self.text(doc, item, key, name, owner)
        self.aliases_of(doc, item, key, owner, "cue", item_id)
        self.id_list(doc, item, key, "exercises", owner, "exercise")
        self.id_list(doc, item, key, "faults", owner, "fault")
        self.sources(doc, item, key, owner)

    def check_exercise(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str, item_id: str) -> None:
        self.known_fields(doc, item, key, owner, ("id", "title", "aliases", "targets", "phase", "level", "equipment",
                                                  "dosage", "steps", "positions", "cues", "mistakes", "easier",
                                                  "harder", "cautions", "sources"))
        self.text(doc, item, key, "title", owner)
        self.aliases_of(doc, item, key, owner, "exercise", item_id)
        self.check_targets(doc, item, key, owner)
        self.enum(doc, item, key, "phase", owner, PHASES)
        level = item.get("level")
        if "level" not in item:
            self.err(doc, key, f"{owner}: missing required field 'level'")
        elif not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            self.err(doc, key + ("level",), f"{owner}: level must be a whole number from 1 to 5")
        equipment = self.text_list(doc, item, key, "equipment", owner, minimum=1, what="equipment item")
        for index, name in enumerate(item.get("equipment") or []):
            if isinstance(name, str) and name in equipment and name not in EQUIPMENT:
                self.err(doc, key + ("equipment", index),
                         f"{owner}: equipment '{name}' is not one of {', '.join(EQUIPMENT)}")
        self.check_dosage(doc, item, key, owner)
        self.text_list(doc, item, key, "steps", owner, minimum=1, what="step")
        for problem in position_problems(item.get("positions")):
            self.err(doc, key + ("positions",), f"{owner}: {problem}")
        self.id_list(doc, item, key, "cues", owner, "cue", minimum=1, what="cue")
        self.id_list(doc, item, key, "mistakes", owner, "fault")
        for direction in ("easier", "harder"):
            for index, other in enumerate(self.id_list(doc, item, key, direction, owner, "exercise")):
                edge_key = key + (direction, index)
                # Edges always point from the easier exercise to the harder one.
                if direction == "harder":
                    self.harder_edges.setdefault(item_id, []).append((other, doc, edge_key))
                else:
                    self.harder_edges.setdefault(other, []).append((item_id, doc, edge_key))
        self.text_list(doc, item, key, "cautions", owner)
        self.sources(doc, item, key, owner)

    def check_targets(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str) -> None:
        if "targets" not in item:
            self.err(doc, key, f"{owner}: missing required field 'targets'")
            return
        targets = item["targets"]
        if not isinstance(targets, list) or not targets:
            self.err(doc, key + ("targets",), f"{owner}: 'targets' must be a list of at least 1 muscle")
            return
        for index, target in enumerate(targets):
            target_key = key + ("targets", index)
            if not isinstance(target, dict):
                self.err(doc, target_key, f"{owner}: every target must be a mapping with 'muscle'")
                continue
            self.known_fields(doc, target, target_key, owner, ("muscle", "emg_mvic", "source"))
            self.enum(doc, target, target_key, "muscle", owner, MUSCLES)
            figure = target.get("emg_mvic")
            if figure is not None:
                if isinstance(figure, bool) or not FIGURE_RE.match(str(figure).strip()):
                    self.err(doc, target_key + ("emg_mvic",),
                             f"{owner}: emg_mvic '{figure}' must be a number or a range such as \"34-53\"")
                if not target.get("source"):
                    self.err(doc, target_key + ("emg_mvic",),
                             f"{owner}: emg_mvic {figure} for {target.get('muscle')} has no source")
            if target.get("source") is not None:
                if isinstance(target["source"], str):
                    self.refs.append(_Ref("reference", target["source"], doc, target_key + ("source",), owner))
                else:
                    self.err(doc, target_key + ("source",), f"{owner}: 'source' must be a reference id")

    def check_dosage(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str) -> None:
        dosage = self.mapping(doc, item, key, "dosage", owner)
        if dosage is None:
            return
        dkey = key + ("dosage",)
        self.known_fields(doc, dosage, dkey, owner,
                          ("sets", "reps", "hold_seconds", "per_side", "tempo", "rest_seconds"))

        def count(name: str, nullable: bool) -> None:
            if name not in dosage:
                self.err(doc, dkey, f"{owner}: dosage is missing '{name}'")
                return
            value = dosage[name]
            if value is None and nullable:
                return
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                self.err(doc, dkey + (name,), f"{owner}: dosage {name} must be a whole number"
                         + (" or null" if nullable else ""))

        count("sets", False)
        count("reps", True)
        count("hold_seconds", True)
        count("rest_seconds", False)
        if "per_side" not in dosage:
            self.err(doc, dkey, f"{owner}: dosage is missing 'per_side'")
        elif not isinstance(dosage["per_side"], bool):
            self.err(doc, dkey + ("per_side",), f"{owner}: dosage per_side must be true or false")
        if dosage.get("tempo") is not None and not isinstance(dosage["tempo"], str):
            self.err(doc, dkey + ("tempo",), f"{owner}: dosage tempo must be a string such as \"2-1-2\" or null")
        if dosage.get("reps") is None and dosage.get("hold_seconds") is None:
            self.err(doc, dkey, f"{owner}: dosage needs reps or hold_seconds")

    def check_red_flag(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str, item_id: str) -> None:
        self.known_fields(doc, item, key, owner, ("id", "title", "aliases", "urgency", "phrasings",
                                                  "advice", "sources"))
        self.text(doc, item, key, "title", owner)
        self.text(doc, item, key, "advice", owner)
        self.aliases_of(doc, item, key, owner, "red_flag", item_id, required=False)
        self.enum(doc, item, key, "urgency", owner, URGENCIES)
        self.text_list(doc, item, key, "phrasings", owner, minimum=MIN_RED_FLAG_PHRASINGS, what="phrasing")
        self.sources(doc, item, key, owner)

    def check_assessment(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str, item_id: str) -> None:
        self.known_fields(doc, item, key, owner, ("id", "title", "aliases", "picture", "steps", "scoring", "results", "sources"))
        self.text(doc, item, key, "title", owner)
        self.text(doc, item, key, "scoring", owner)
        if item.get("picture") is not None:
            self.text(doc, item, key, "picture", owner)
            if isinstance(item["picture"], str) and item["picture"].strip():
                self.refs.append(_Ref("exercise", str(item["picture"]), doc, key + ("picture",), owner))
        self.aliases_of(doc, item, key, owner, "assessment", item_id)
        self.text_list(doc, item, key, "steps", owner, minimum=1, what="step")
        results = item.get("results")
        if "results" not in item:
            self.err(doc, key, f"{owner}: missing required field 'results'")
        elif not isinstance(results, list) or not results:
            self.err(doc, key + ("results",), f"{owner}: 'results' must be a list of at least 1 result")
        else:
            for index, result in enumerate(results):
                result_key = key + ("results", index)
                if not isinstance(result, dict):
                    self.err(doc, result_key, f"{owner}: every result must be a mapping")
                    continue
                self.known_fields(doc, result, result_key, owner, ("result", "label", "says", "meaning", "faults", "starting_phase"))
                self.text(doc, result, result_key, "result", owner)
                self.text(doc, result, result_key, "label", owner, required=False)
                self.text(doc, result, result_key, "meaning", owner)
                if "says" in result:
                    self.text_list(doc, result, result_key, "says", owner, minimum=1, what="phrase")
                self.id_list(doc, result, result_key, "faults", owner, "fault")
                if "starting_phase" in result:
                    self.enum(doc, result, result_key, "starting_phase", owner, PHASES, nullable=True)
        self.sources(doc, item, key, owner)

    def check_activity(self, doc: LocatedDocument, item: dict, key: PathKey, owner: str, item_id: str) -> None:
        self.known_fields(doc, item, key, owner, ("id", "title", "kind", "aliases", "summary", "cues", "faults",
                                                  "primer", "evidence", "sources"))
        if not item_id.startswith(ACTIVITY_ID_PREFIXES):
            self.err(doc, key + ("id",), f"{owner}: id must start with {' or '.join(ACTIVITY_ID_PREFIXES)}")
        self.text(doc, item, key, "title", owner)
        self.text(doc, item, key, "summary", owner)
        self.enum(doc, item, key, "kind", owner, ACTIVITY_KINDS)
        for index, alias in enumerate(self.text_list(doc, item, key, "aliases", owner, minimum=1, what="alias", lower=True)):
            normal = normalise(alias)
            seen = self.activity_aliases.get(normal)
            if seen is None:
                self.activity_aliases[normal] = (item_id, doc, key + ("aliases", index))
            elif seen[0] != item_id:
                self.err(doc, key + ("aliases", index),
                         f"{owner}: alias '{alias}' also names activity '{seen[0]}' ({seen[1].display}:{seen[1].line(seen[2])})")
        cues = self.id_list(doc, item, key, "cues", owner, "cue", minimum=MIN_ACTIVITY_CUES, what="cue")
        if len(cues) > MAX_ACTIVITY_CUES:
            self.err(doc, key + ("cues",), f"{owner}: at most {MAX_ACTIVITY_CUES} cues to carry into the lift (has {len(cues)})")
        self.id_list(doc, item, key, "faults", owner, "fault", minimum=1, what="fault")
        self.id_list(doc, item, key, "primer", owner, "exercise", minimum=MIN_ACTIVITY_PRIMER, what="primer drill")
        self.enum(doc, item, key, "evidence", owner, EVIDENCE)
        # Published claims need a reference; coaching practice says so instead and may cite none.
        minimum = 1 if item.get("evidence") == "published" else 0
        self.id_list(doc, item, key, "sources", owner, "reference", minimum=minimum, what="source")

    # -- documents -------------------------------------------------------------------------------
    def document(self, name: str, file_name: str) -> None:
        doc = self.load_file(file_name, None)
        if doc is None:
            return

        def walk(value: Any, key: PathKey) -> None:
            if isinstance(value, dict):
                for child_name, child in value.items():
                    if child_name == "sources":
                        if not isinstance(child, list):
                            self.err(doc, key + (child_name,), f"{name}: 'sources' must be a list of reference ids")
                        else:
                            for index, target in enumerate(child):
                                self.refs.append(_Ref("reference", str(target), doc, key + (child_name, index), name))
                    else:
                        walk(child, key + (child_name,))
            elif isinstance(value, list):
                for index, child in enumerate(value):
                    walk(child, key + (index,))

        walk(doc.data, ())
        for top_name in doc.data:
            if not isinstance(top_name, str):
                self.problems.append(Problem(doc.display, doc.key_lines.get((top_name,), 1),
                                             f"{name}: top-level keys must be names"))
        if name == "safety_screen":
            from knowledge.safety.screen import check_document

            for path, message in check_document(doc.data, self.ids["red_flag"], ORDINARY_TRAINING_TALK):
                line = next((doc.key_lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in doc.key_lines), 1)
                self.problems.append(Problem(doc.display, line, f"{name}: {message}"))
        self.content.documents[name] = doc.data

    # -- cross-file checks -----------------------------------------------------------------------
    def check_refs(self) -> None:
        for ref in self.refs:
            if ref.kind not in self.unreadable and ref.target not in self.ids[ref.kind]:
                self.err(ref.doc, ref.key, f"{ref.owner}: unknown {KIND_LABEL[ref.kind]} '{ref.target}'")

    def check_cycles(self) -> None:
        known = self.ids["exercise"]
        reported: set[tuple[str, ...]] = set()
        edges: dict[tuple[str, str], tuple[LocatedDocument, PathKey]] = {}
        for source, targets in self.harder_edges.items():
            for target, doc, edge_key in targets:
                edges.setdefault((source, target), (doc, edge_key))
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        stack: list[str] = []

        def visit(node: str) -> None:
            state[node] = 1
            stack.append(node)
            for target, _doc, _key in self.harder_edges.get(node, []):
                if target not in known:
                    continue  # already reported as an unknown exercise
                if state.get(target) == 1:
                    cycle = stack[stack.index(target):]
                    # One error per cycle however it is entered, named from its smallest id and
                    # reported where that exercise's link into the cycle is written.
                    start = cycle.index(min(cycle))
                    canonical = tuple(cycle[start:] + cycle[:start])
                    if canonical not in reported:
                        reported.add(canonical)
                        chain = " -> ".join(canonical + (canonical[0],))
                        doc, edge_key = edges[(canonical[0], canonical[1 % len(canonical)])]
                        self.err(doc, edge_key, f"easier/harder cycle: {chain} (each is listed as harder than the one before)")
                elif state.get(target) is None:
                    visit(target)
            stack.pop()
            state[node] = 2

        for node in sorted(self.harder_edges):
            if node in known and state.get(node) is None:
                visit(node)

    def check_required(self, required: Mapping[str, Iterable[str]]) -> None:
        for kind, wanted in required.items():
            if kind in self.unreadable:
                continue
            file_name, _ = KIND_FILES[kind]
            path = display_path(self.content_dir / file_name)
            missing = [item_id for item_id in wanted if item_id not in self.ids[kind]]
            for item_id in missing:
                self.problems.append(Problem(path, 1, f"required {KIND_LABEL[kind]} '{item_id}' is missing"))


def validate(content_dir: Path | str = DEFAULT_CONTENT_DIR,
             required_ids: Mapping[str, Iterable[str]] | None = USE_DEFAULT_REQUIRED) -> ValidationResult:
    """Check every content file in ``content_dir`` and return the parsed content and ALL problems.

    ``required_ids`` defaults to :data:`REQUIRED_IDS` for the real content directory and to
    nothing for any other directory (test fixtures); pass ``None`` or a mapping to override.
    """
    content_dir = Path(content_dir)
    if required_ids is USE_DEFAULT_REQUIRED:
        required_ids = REQUIRED_IDS if content_dir.resolve() == DEFAULT_CONTENT_DIR.resolve() else None
    validator = _Validator(content_dir)
    if not content_dir.is_dir():
        problem = Problem(display_path(content_dir), 1, "content directory does not exist")
        return ValidationResult(validator.content, [problem])
    for kind in KIND_FILES:
        validator.items(kind)
    for name, file_name in DOCUMENT_FILES.items():
        validator.document(name, file_name)
    validator.check_refs()
    validator.check_cycles()
    if required_ids:
        validator.check_required(required_ids)
    validator.content.fingerprint = content_fingerprint(content_dir)
    # File by file, top to bottom (a stable sort keeps same-line problems in check order).
    problems = sorted(validator.problems, key=lambda problem: (problem.path, problem.line))
    return ValidationResult(validator.content, problems)

