"""Read-only access to the knowledge base, answered from memory.

:meth:`KnowledgeBase.load` reads every ``kb_`` table once into immutable views and builds the
lookup indexes (names and aliases with typo tolerance, char n-grams of fault phrasings, compiled
red-flag screens), so each query afterwards is a few dictionary look-ups: far under 5 ms.
Reload (build a new instance) after ``kb load``; :attr:`KnowledgeBase.fingerprint` tells which
content an instance holds.
"""
from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from types import MappingProxyType
from typing import Any, Iterable, Mapping, NamedTuple

from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from knowledge.kb_models import (
    KbActivity, KbActivityCue, KbActivityFault, KbActivityPrimer, KbAssessment, KbCue, KbCueExercise, KbCueFault, KbDocument, KbExercise, KbExerciseCue,
    KbExerciseMistake, KbExerciseStep, KbFault, KbFaultCue, KbFaultExercise, KbItemReference, KbMeta,
    KbRedFlag, KbReference,
)
from knowledge.english import english_words, normalise
from knowledge.validate import PHASES

KINDS = ("fault", "cue", "exercise", "red_flag", "assessment")
URGENCY_ORDER = {"emergency": 0, "urgent": 1, "soon": 2}


if TYPE_CHECKING:
    from knowledge.safety.screen import Screen


class KnowledgeBaseNotLoaded(RuntimeError):
    """The ``kb_`` tables are missing or empty: run ``kb load`` first."""


# ----------------------------------------------------------------------------- views

@dataclass(frozen=True)
class ReferenceView:
    id: str
    authors: str
    year: int
    title: str
    published_in: str | None
    doi: str | None
    url: str | None

    @property
    def citation(self) -> str:
        """``Distefano et al. 2009, Gluteal muscle activation ...``"""
        names = [name.strip() for name in self.authors.split(",") if name.strip()]
        first = names[0] if names else self.authors
        # "Distefano LJ" -> "Distefano"; an organisation keeps its full name.
        parts = first.split()
        if len(parts) == 2 and parts[1].isupper() and len(parts[1]) <= 3:
            first = parts[0]
        author = f"{first} et al." if len(names) > 1 else first
        return f"{author} {self.year}, {self.title}"


@dataclass(frozen=True)
class SelfCheck:
    steps: tuple[str, ...]
    positive_if: str


@dataclass(frozen=True)
class FaultView:
    id: str
    title: str
    aliases: tuple[str, ...]
    phrasings: tuple[str, ...]
    summary: str
    mechanism: str
    self_check: SelfCheck
    see_a_professional: str
    cues: tuple[str, ...]  # cue ids, most important first
    exercises: tuple[str, ...]  # exercise ids in order (the why: exercises_for_fault)
    sources: tuple[str, ...]


@dataclass(frozen=True)
class CueView:
    id: str
    title: str
    say: str
    aliases: tuple[str, ...]
    why: str
    feels_like: str
    exercises: tuple[str, ...]  # exercise ids
    faults: tuple[str, ...]  # fault ids
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Target:
    muscle: str
    emg_mvic: str | None
    source: str | None


@dataclass(frozen=True)
class ExerciseView:
    id: str
    title: str
    aliases: tuple[str, ...]
    targets: tuple[Target, ...]
    phase: str
    level: int
    equipment: tuple[str, ...]
    dosage: Mapping[str, Any]  # read-only: sets, reps, hold_seconds, per_side, tempo, rest_seconds
    steps: tuple[str, ...]
    cues: tuple[str, ...]  # cue ids, key cue first
    mistakes: tuple[str, ...]  # fault ids
    easier: tuple[str, ...]  # exercise ids as declared in the file (KnowledgeBase.easier adds the reverse links)
    harder: tuple[str, ...]
    cautions: tuple[str, ...]
    sources: tuple[str, ...]
    positions: Mapping[str, Any] = MappingProxyType({})  # start and end poses: what its picture shows

    @property
    def muscles(self) -> tuple[str, ...]:
        return tuple(target.muscle for target in self.targets)

    def usable_with(self, equipment: set[str] | frozenset[str] | None) -> bool:
        """``equipment`` None means anything is at hand; ``none`` listed means no kit is needed."""
        if equipment is None or "none" in self.equipment:
            return True
        return set(self.equipment) <= set(equipment)


class FaultExercise(NamedTuple):
    """An exercise for a fault and why it helps; unpacks as ``exercise, why``."""

    exercise: ExerciseView
    why: str


@dataclass(frozen=True)
class RedFlagView:
    id: str
    title: str
    aliases: tuple[str, ...]
    urgency: str
    phrasings: tuple[str, ...]
    advice: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class AssessmentResult:
    result: str
    meaning: str
    faults: tuple[str, ...]
    starting_phase: str | None
    label: str = ""  # the result's button
    says: tuple[str, ...] = ()  # words people type for it


@dataclass(frozen=True)
class AssessmentView:
    id: str
    title: str
    aliases: tuple[str, ...]
    steps: tuple[str, ...]
    scoring: str
    results: tuple[AssessmentResult, ...]
    sources: tuple[str, ...]
    picture: str | None = None  # an exercise id whose positions show the set-up


@dataclass(frozen=True)
class ActivityView:
    id: str
    title: str
    kind: str  # lift | activity
    aliases: tuple[str, ...]
    summary: str
    evidence: str  # published | coaching_practice
    cues: tuple[str, ...]  # cue ids to carry into it, most important first
    faults: tuple[str, ...]  # fault ids that usually show up in it
    primer: tuple[str, ...]  # exercise ids of the drills that suit it, best first
    sources: tuple[str, ...]

    @property
    def coaching_practice(self) -> bool:
        return self.evidence == "coaching_practice"


@dataclass(frozen=True)
class Match:
    kind: str  # fault | cue | exercise | red_flag | assessment
    id: str
    score: float  # 1.0 = the whole text is exactly a name or alias


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(child) for key, child in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(child) for child in value)
    return value


# ----------------------------------------------------------------------------- text helpers

_STOP_WORDS = frozenset("a an and at do does for from how i in is it me my of on or the to what when with you your".split())


def _deletes(word: str, depth: int) -> set[str]:
    """All strings reachable from ``word`` by deleting up to ``depth`` characters."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _allowed_edits(word: str) -> int:
    return 0 if len(word) < 4 else 1 if len(word) < 7 else 2


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (a swap of neighbours counts once)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _char_grams(text: str) -> Counter[str]:
    padded = f" {normalise(text)} "
    grams: Counter[str] = Counter()
    for size in (3, 4):
        grams.update(padded[i:i + size] for i in range(len(padded) - size + 1))
    return grams


# ----------------------------------------------------------------------------- the knowledge base

class KnowledgeBase:
    """An immutable in-memory snapshot of the knowledge base with fast lookups."""

    def __init__(self, *, references: Iterable[ReferenceView], faults: Iterable[FaultView],
                 fault_whys: Mapping[tuple[str, str], str], cues: Iterable[CueView],
                 exercises: Iterable[ExerciseView], red_flags: Iterable[RedFlagView],
                 assessments: Iterable[AssessmentView], documents: Mapping[str, Any], fingerprint: str,
                 activities: Iterable[ActivityView] = ()) -> None:
        self.fingerprint = fingerprint
        self._references = {r.id: r for r in references}
        self._faults = {f.id: f for f in faults}
        self._cues = {c.id: c for c in cues}
        self._exercises = {e.id: e for e in exercises}
        self._red_flags = {r.id: r for r in red_flags}
        self._assessments = {a.id: a for a in assessments}
        self._activities = {a.id: a for a in activities}
        self._documents = MappingProxyType({name: _freeze(data) for name, data in documents.items()})
        self._fault_whys = dict(fault_whys)
        self._by_kind: dict[str, Mapping[str, Any]] = {
            "fault": self._faults, "cue": self._cues, "exercise": self._exercises,
            "red_flag": self._red_flags, "assessment": self._assessments, "reference": self._references,
            "activity": self._activities}
        self._screen: Any = None
        self._build_easier_harder()
        self._build_name_index()
        self._build_fault_grams()
        self._build_activity_index()

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, engine: Engine) -> "KnowledgeBase":
        """Read all ``kb_`` tables once. Raises :class:`KnowledgeBaseNotLoaded` when they are absent."""
        if not inspect(engine).has_table(KbMeta.__tablename__):
            raise KnowledgeBaseNotLoaded("the knowledge base is not loaded yet: run `kb load` first")
        with engine.connect() as conn:
            def rows(model: Any, *order: Any) -> list[Any]:
                return list(conn.execute(select(model.__table__).order_by(*order)).mappings())

            meta = {row["key"]: row["value"] for row in rows(KbMeta, KbMeta.key)}
            if "fingerprint" not in meta:
                raise KnowledgeBaseNotLoaded("the knowledge base is empty: run `kb load` first")

            def linked(model: Any, owner: str, other: str) -> dict[str, tuple[str, ...]]:
                grouped: dict[str, list[str]] = {}
                for row in rows(model, getattr(model, owner), model.position):
                    grouped.setdefault(row[owner], []).append(row[other])
                return {key: tuple(values) for key, values in grouped.items()}

            sources: dict[tuple[str, str], list[str]] = {}
            for row in rows(KbItemReference, KbItemReference.kind, KbItemReference.item_id, KbItemReference.position):
                sources.setdefault((row["kind"], row["item_id"]), []).append(row["reference_id"])

            def src(kind: str, item_id: str) -> tuple[str, ...]:
                return tuple(sources.get((kind, item_id), ()))

            fault_cues = linked(KbFaultCue, "fault_id", "cue_id")
            fault_exercises = linked(KbFaultExercise, "fault_id", "exercise_id")
            fault_whys = {(row["fault_id"], row["exercise_id"]): row["why"] for row in rows(KbFaultExercise)}
            cue_exercises = linked(KbCueExercise, "cue_id", "exercise_id")
            cue_faults = linked(KbCueFault, "cue_id", "fault_id")
            exercise_cues = linked(KbExerciseCue, "exercise_id", "cue_id")
            mistakes = linked(KbExerciseMistake, "exercise_id", "fault_id")
            steps: dict[tuple[str, str], list[str]] = {}
            for row in rows(KbExerciseStep, KbExerciseStep.exercise_id, KbExerciseStep.direction, KbExerciseStep.position):
                steps.setdefault((row["exercise_id"], row["direction"]), []).append(row["other_id"])

            references = [ReferenceView(**dict(row)) for row in rows(KbReference, KbReference.id)]
            faults = [FaultView(
                id=r["id"], title=r["title"], aliases=tuple(r["aliases"]), phrasings=tuple(r["phrasings"]),
                summary=r["summary"], mechanism=r["mechanism"],
                self_check=SelfCheck(tuple(r["self_check"].get("steps") or ()), r["self_check"].get("positive_if") or ""),
                see_a_professional=r["see_a_professional"], cues=fault_cues.get(r["id"], ()),
                exercises=fault_exercises.get(r["id"], ()), sources=src("fault", r["id"]),
            ) for r in rows(KbFault, KbFault.position)]
            cues = [CueView(
                id=r["id"], title=r["title"], say=r["say"], aliases=tuple(r["aliases"]), why=r["why"],
                feels_like=r["feels_like"], exercises=cue_exercises.get(r["id"], ()),
                faults=cue_faults.get(r["id"], ()), sources=src("cue", r["id"]),
            ) for r in rows(KbCue, KbCue.position)]
            exercises = [ExerciseView(
                id=r["id"], title=r["title"], aliases=tuple(r["aliases"]),
                targets=tuple(Target(t["muscle"], t.get("emg_mvic"), t.get("source")) for t in r["targets"]),
                phase=r["phase"], level=r["level"], equipment=tuple(r["equipment"]),
                dosage=MappingProxyType(dict(r["dosage"])),
                steps=tuple(r["steps"]), cues=exercise_cues.get(r["id"], ()),
                mistakes=mistakes.get(r["id"], ()), easier=tuple(steps.get((r["id"], "easier"), ())),
                harder=tuple(steps.get((r["id"], "harder"), ())), cautions=tuple(r["cautions"]),
                sources=src("exercise", r["id"]), positions=MappingProxyType(dict(r.get("positions") or {})),
            ) for r in rows(KbExercise, KbExercise.position)]
            red_flags = [RedFlagView(
                id=r["id"], title=r["title"], aliases=tuple(r["aliases"]), urgency=r["urgency"],
                phrasings=tuple(r["phrasings"]), advice=r["advice"],
                sources=src("red_flag", r["id"]),
            ) for r in rows(KbRedFlag, KbRedFlag.position)]
            assessments = [AssessmentView(
                id=r["id"], title=r["title"], aliases=tuple(r["aliases"]), steps=tuple(r["steps"]),
                scoring=r["scoring"], sources=src("assessment", r["id"]),
                results=tuple(AssessmentResult(x["result"], x["meaning"], tuple(x.get("faults") or ()),
                                               x.get("starting_phase"), x.get("label") or x["result"],
                                               tuple(x.get("says") or ())) for x in r["results"]),
                picture=r.get("picture"),
            ) for r in rows(KbAssessment, KbAssessment.position)]
            documents = {row["name"]: row["data"] for row in rows(KbDocument, KbDocument.name)}
            activity_cues = linked(KbActivityCue, "activity_id", "cue_id")
            activity_faults = linked(KbActivityFault, "activity_id", "fault_id")
            activity_primers = linked(KbActivityPrimer, "activity_id", "exercise_id")
            activities = [ActivityView(
                id=r["id"], title=r["title"], kind=r["kind"], aliases=tuple(r["aliases"]), summary=r["summary"],
                evidence=r["evidence"], cues=activity_cues.get(r["id"], ()), faults=activity_faults.get(r["id"], ()),
                primer=activity_primers.get(r["id"], ()), sources=src("activity", r["id"]),
            ) for r in rows(KbActivity, KbActivity.position)]
        return cls(references=references, faults=faults, fault_whys=fault_whys, cues=cues, exercises=exercises,
                   red_flags=red_flags, assessments=assessments, documents=documents,
                   fingerprint=meta["fingerprint"], activities=activities)

    # -- single items (an unknown id raises KeyError, like a mapping) -------------------------------
    def _lookup(self, kind: str, id: str) -> Any:
        try:
            return self._by_kind[kind][id]
        except KeyError:
            raise KeyError(f"unknown {kind.replace('_', ' ')} '{id}'") from None

    def fault(self, id: str) -> FaultView:
        return self._lookup("fault", id)

    def cue(self, id: str) -> CueView:
        return self._lookup("cue", id)

    def exercise(self, id: str) -> ExerciseView:
        return self._lookup("exercise", id)

    def red_flag(self, id: str) -> RedFlagView:
        return self._lookup("red_flag", id)

    def assessment(self, id: str) -> AssessmentView:
        return self._lookup("assessment", id)

    def activity(self, id: str) -> ActivityView:
        return self._lookup("activity", id)

    def reference(self, id: str) -> ReferenceView:
        return self._lookup("reference", id)

    def get(self, kind: str, id: str) -> Any | None:
        """The view of ``id`` among items of ``kind`` (a :data:`KINDS` entry or "reference"), or None."""
        return self._by_kind.get(kind, {}).get(id)

    def kind_of(self, id: str) -> str | None:
        """The kind of the first item with this id (kinds in :data:`KINDS` order), or ``"reference"``."""
        for kind in KINDS:
            if id in self._by_kind[kind]:
                return kind
        if id in self._activities:
            return "activity"
        return "reference" if id in self._references else None

    def references(self, ids: Iterable[str]) -> list[ReferenceView]:
        """The references with these ids, in the given order; unknown ids are skipped."""
        return [self._references[i] for i in ids if i in self._references]

    def progression(self) -> Mapping[str, Any]:
        """``progression.yaml`` as a read-only mapping (lists become tuples)."""
        return self._documents.get("progression", MappingProxyType({}))

    def safety_screen(self) -> Mapping[str, Any]:
        """``safety_screen.yaml`` (the red-flag screen's concepts and rules), read-only."""
        return self._documents.get("safety_screen", MappingProxyType({}))

    # -- collections (file order) ----------------------------------------------------------------
    def faults(self) -> list[FaultView]:
        return list(self._faults.values())

    def cues(self) -> list[CueView]:
        return list(self._cues.values())

    def exercises(self) -> list[ExerciseView]:
        return list(self._exercises.values())

    def red_flags(self) -> list[RedFlagView]:
        return list(self._red_flags.values())

    def assessments(self) -> list[AssessmentView]:
        return list(self._assessments.values())

    def activities(self) -> list[ActivityView]:
        return list(self._activities.values())

    def all_ids(self) -> list[str]:
        return ([item_id for kind in KINDS for item_id in self._by_kind[kind]] + list(self._activities)
                + list(self._references))

    # -- relations -------------------------------------------------------------------------------
    def cues_for_fault(self, id: str) -> list[CueView]:
        """The fault's cues, most important first."""
        return [self._cues[c] for c in self.fault(id).cues if c in self._cues]

    def exercises_for_fault(self, id: str) -> list[FaultExercise]:
        """The fault's exercises in order, each with why it retrains the fault."""
        fault = self.fault(id)
        return [FaultExercise(self._exercises[e], self._fault_whys.get((id, e), ""))
                for e in fault.exercises if e in self._exercises]

    def _build_easier_harder(self) -> None:
        # Declared links first; then links declared the other way round, closest level first.
        easier: dict[str, list[str]] = {e: list(ex.easier) for e, ex in self._exercises.items()}
        harder: dict[str, list[str]] = {e: list(ex.harder) for e, ex in self._exercises.items()}
        for exercise in self._exercises.values():
            inferred_harder = [o for o in exercise.easier if exercise.id not in harder.get(o, [])]
            for other in inferred_harder:
                harder.setdefault(other, []).append(exercise.id)
            for other in exercise.harder:
                if exercise.id not in easier.get(other, []):
                    easier.setdefault(other, []).append(exercise.id)
        self._easier = {k: tuple(v) for k, v in easier.items()}
        self._harder = {k: tuple(v) for k, v in harder.items()}

    def easier(self, id: str) -> list[ExerciseView]:
        """Easier variations of ``id`` (declared on it or declaring it as harder)."""
        self.exercise(id)
        return [self._exercises[e] for e in self._easier.get(id, ()) if e in self._exercises]

    def harder(self, id: str) -> list[ExerciseView]:
        """Harder variations of ``id`` (declared on it or declaring it as easier)."""
        self.exercise(id)
        return [self._exercises[e] for e in self._harder.get(id, ()) if e in self._exercises]

    def alternatives(self, id: str, equipment: set[str] | None = None, painful: bool = False) -> list[ExerciseView]:
        """Swaps for ``id`` doable with ``equipment`` (None: anything at hand).

        Not painful: same phase, training the same main muscle, closest level first.
        Painful: only easier ones, first down its easier chain, then lower-level exercises for the
        same main muscle in the same or an earlier phase.
        """
        base = self.exercise(id)
        primary = base.targets[0].muscle if base.targets else None
        muscles = set(base.muscles)
        if painful:
            chain: list[str] = []
            frontier = [base.id]
            while frontier:
                nxt: list[str] = []
                for current in frontier:
                    for other in self._easier.get(current, ()):
                        if other != base.id and other not in chain:
                            chain.append(other)
                            nxt.append(other)
                frontier = nxt
            phase_rank = PHASES.index(base.phase) if base.phase in PHASES else len(PHASES)
            others = sorted(
                (e for e in self._exercises.values()
                 if e.id != base.id and e.id not in chain and e.level < base.level and primary in e.muscles
                 and (PHASES.index(e.phase) if e.phase in PHASES else 0) <= phase_rank),
                key=lambda e: (-e.level, -len(muscles & set(e.muscles))))
            candidates = [self._exercises[c] for c in chain] + others
        else:
            candidates = sorted(
                (e for e in self._exercises.values()
                 if e.id != base.id and e.phase == base.phase and primary in e.muscles),
                key=lambda e: (e.muscles[0] != primary, abs(e.level - base.level), -len(muscles & set(e.muscles))))
        return [e for e in candidates if e.usable_with(equipment)]

    # -- name lookup -----------------------------------------------------------------------------
    def _build_name_index(self) -> None:
        self._names: dict[str, set[tuple[str, str]]] = {}
        self._compact: dict[str, set[tuple[str, str]]] = {}
        for kind in KINDS:
            for item in self._by_kind[kind].values():
                names = [item.id.replace("_", " "), item.title, *item.aliases]
                for name in names:
                    normal = normalise(name)
                    if normal:
                        self._names.setdefault(normal, set()).add((kind, item.id))
                        self._compact.setdefault(normal.replace(" ", ""), set()).add((kind, item.id))
        # Word runs inside a longer name ("split squat" in "bulgarian split squat") that point at
        # exactly one item; single words are left out because they are too often ordinary words.
        partial_owners: dict[str, set[tuple[str, str]]] = {}
        for name, owners in self._names.items():
            tokens = name.split()
            for size in range(2, len(tokens)):
                for start in range(len(tokens) - size + 1):
                    partial_owners.setdefault(" ".join(tokens[start:start + size]), set()).update(owners)
        self._partial = {run: owners for run, owners in partial_owners.items()
                         if len(owners) == 1 and run not in self._names
                         and not set(run.split()) <= _STOP_WORDS}
        self._max_name_tokens = max((len(n.split()) for n in self._names), default=1)
        self._vocabulary = {token for name in self._names for token in name.split()}
        self._deletion_index: dict[str, set[str]] = {}
        for token in self._vocabulary:
            for variant in _deletes(token, _allowed_edits(token)):
                self._deletion_index.setdefault(variant, set()).add(token)
        self._name_list = sorted(self._names)

    def _correct(self, token: str) -> tuple[str, int]:
        """The vocabulary word ``token`` most likely means, and how many edits that took."""
        if token in self._vocabulary or token in _STOP_WORDS or len(token) < 4:
            return token, 0
        allowed = _allowed_edits(token)
        candidates: set[str] = set()
        for variant in _deletes(token, allowed):
            candidates |= self._deletion_index.get(variant, set())
        best: tuple[int, str] | None = None
        for candidate in candidates:
            distance = _edit_distance(token, candidate)
            if distance <= min(allowed, _allowed_edits(candidate)) and (best is None or (distance, candidate) < best):
                best = (distance, candidate)
        return (best[1], best[0]) if best else (token, 0)

    def find(self, text: str, kind: str | None = None, min_score: float = 0.5) -> list[Match]:
        """Items named in ``text`` by title, alias or id, best first.

        Tolerates case, plurals, hyphens and small typos, and finds names mentioned inside a
        longer sentence ("how do i do clams with a band"). Score 1.0 = the whole text is a name.
        """
        tokens = normalise(text).split()
        if not tokens:
            return []
        corrected = [self._correct(token) for token in tokens]
        words = [word for word, _ in corrected]
        edits = [cost for _, cost in corrected]
        total = len(words)
        best: dict[tuple[str, str], float] = {}
        claimed: list[tuple[int, int, set[tuple[str, str]]]] = []  # spans already matched
        for size in range(min(self._max_name_tokens, total), 0, -1):
            for start in range(total - size + 1):
                span = words[start:start + size]
                hits = self._names.get(" ".join(span))
                penalty, factor = 0.0, 1.0
                if not hits:
                    hits = self._compact.get("".join(span))
                    penalty = 0.02 if hits else 0.0
                if not hits:
                    hits = self._partial.get(" ".join(span))
                    factor = 0.8  # part of a name: likely, not certain
                if not hits:
                    continue
                if size == 1 and span[0] in _STOP_WORDS:
                    continue
                score = 1.0 if size == total else 0.7 + 0.2 * size / total
                score = score * factor - penalty - 0.1 * sum(edits[start:start + size])
                end = start + size
                for other_start, other_end, owners in claimed:
                    if other_start <= start and end <= other_end and not hits <= owners:
                        score *= 0.8  # a name inside a longer name that matched: "glute bridge" in "single leg glute bridge"
                        break
                claimed.append((start, end, set(hits)))
                for hit in hits:
                    if kind is None or hit[0] == kind:
                        best[hit] = max(best.get(hit, 0.0), round(score, 3))
        if not best and total <= self._max_name_tokens + 1:
            # A last resort for a garbled whole name: similar-looking strings.
            for name in difflib.get_close_matches(" ".join(words), self._name_list, n=3, cutoff=0.86):
                ratio = difflib.SequenceMatcher(None, " ".join(words), name).ratio()
                for hit in self._names[name]:
                    if kind is None or hit[0] == kind:
                        best[hit] = max(best.get(hit, 0.0), round(0.9 * ratio, 3))
        order = {k: i for i, k in enumerate(KINDS)}
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], order[kv[0][0]], kv[0][1]))
        return [Match(k, i, s) for (k, i), s in ranked if s >= min_score]

    # -- activity lookup (its own namespace: "hip thrust" is an exercise and a lift) -------------
    def _build_activity_index(self) -> None:
        self._activity_names: dict[str, str] = {}
        for activity in self._activities.values():
            for name in (activity.id.split("_", 1)[1].replace("_", " "), activity.title, *activity.aliases):
                normal = normalise(name)
                if normal:
                    self._activity_names.setdefault(normal, activity.id)
                    self._activity_names.setdefault(normal.replace(" ", ""), activity.id)
        self._activity_vocabulary = {token for name in self._activity_names for token in name.split()}
        self._activity_deletions: dict[str, set[str]] = {}
        for token in self._activity_vocabulary:
            for variant in _deletes(token, _allowed_edits(token)):
                self._activity_deletions.setdefault(variant, set()).add(token)
        self._max_activity_tokens = max((len(n.split()) for n in self._activity_names), default=1)

    def _correct_activity_word(self, token: str) -> tuple[str, int]:
        if token in self._activity_vocabulary or token in _STOP_WORDS or len(token) < 4 or token in english_words():
            return token, 0  # a word English knows is no typo ("like" stays like, not bike)
        allowed = _allowed_edits(token)
        candidates = {c for v in _deletes(token, allowed) for c in self._activity_deletions.get(v, ())}
        best = min(((_edit_distance(token, c), c) for c in candidates
                    if _edit_distance(token, c) <= min(allowed, _allowed_edits(c))), default=None)
        return (best[1], best[0]) if best else (token, 0)

    def find_activities(self, text: str) -> list[Match]:
        """Lifts and activities named in ``text``, in the order they are mentioned (a longer name
        wins over a name inside it; small typos are tolerated and cost a little score)."""
        corrected = [self._correct_activity_word(t) for t in normalise(text).split()]
        words = [w for w, _ in corrected]
        taken = [False] * len(words)
        found: list[tuple[int, Match]] = []
        for size in range(min(self._max_activity_tokens, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                if any(taken[start:start + size]):
                    continue
                span = words[start:start + size]
                activity_id = self._activity_names.get(" ".join(span)) or self._activity_names.get("".join(span))
                if activity_id is None or (size == 1 and span[0] in _STOP_WORDS):
                    continue
                taken[start:start + size] = [True] * size
                score = round(1.0 - 0.1 * sum(cost for _, cost in corrected[start:start + size]), 3)
                found.append((start, Match("activity", activity_id, score)))
        ordered: list[Match] = []
        for _, match in sorted(found, key=lambda pair: pair[0]):
            if match.id not in [m.id for m in ordered]:
                ordered.append(match)
        return ordered

    # -- free-text fault matching ----------------------------------------------------------------
    def _build_fault_grams(self) -> None:
        documents: list[tuple[str, Counter[str]]] = []
        for fault in self._faults.values():
            for phrase in (fault.title, *fault.aliases, *fault.phrasings):
                documents.append((fault.id, _char_grams(phrase)))
        frequency: Counter[str] = Counter()
        for _, grams in documents:
            frequency.update(grams.keys())
        count = len(documents)
        self._gram_idf = {gram: math.log((1 + count) / (1 + df)) + 1.0 for gram, df in frequency.items()}
        self._unseen_idf = math.log(1 + count) + 1.0  # what a gram no phrasing has would weigh
        self._fault_docs = [fault_id for fault_id, _ in documents]
        self._postings: dict[str, list[tuple[int, float]]] = {}
        self._doc_norms: list[float] = []
        for index, (_, grams) in enumerate(documents):
            weights = {gram: n * self._gram_idf[gram] for gram, n in grams.items()}
            self._doc_norms.append(math.sqrt(sum(w * w for w in weights.values())) or 1.0)
            for gram, weight in weights.items():
                self._postings.setdefault(gram, []).append((index, weight))

    def fault_scores(self, text: str) -> list[Match]:
        """Every fault with its best cosine similarity (char 3- and 4-grams, tf-idf) to ``text``."""
        grams = _char_grams(text)
        query = {gram: n * self._gram_idf[gram] for gram, n in grams.items() if gram in self._gram_idf}
        # Unknown grams still count towards the length, so gibberish does not score high.
        norm = math.sqrt(sum(w * w for w in query.values()) + sum(
            (n * self._unseen_idf) ** 2 for g, n in grams.items() if g not in self._gram_idf))
        if not norm:
            return []
        dots: dict[int, float] = {}
        for gram, weight in query.items():
            for index, doc_weight in self._postings[gram]:
                dots[index] = dots.get(index, 0.0) + weight * doc_weight
        best: dict[str, float] = {}
        for index, dot in dots.items():
            score = dot / (norm * self._doc_norms[index])
            fault_id = self._fault_docs[index]
            if score > best.get(fault_id, 0.0):
                best[fault_id] = score
        return [Match("fault", f, round(s, 3)) for f, s in sorted(best.items(), key=lambda kv: -kv[1])]

    def closest_fault(self, text: str, min_score: float = 0.25) -> Match | None:
        """The fault whose phrasings ``text`` resembles most, or None below ``min_score``."""
        scores = self.fault_scores(text)
        return scores[0] if scores and scores[0].score >= min_score else None

    # -- safety and NLU data ---------------------------------------------------------------------
    def red_flag_screen(self) -> "Screen":
        """The red-flag screen built from ``safety_screen.yaml``, with its classifier trained on
        ``safety_examples.yaml`` and the flags' and faults' phrasings (once per instance: about
        a second)."""
        from knowledge.safety.classifier import SafetyClassifier
        from knowledge.safety.screen import Screen, thaw

        if self._screen is None:
            examples = self._documents.get("safety_examples", MappingProxyType({}))
            classifier = None
            if examples.get("red") and examples.get("ordinary"):
                classifier = SafetyClassifier.from_content(examples, self.red_flags(), self.faults())
            self._screen = Screen(thaw(self.safety_screen()), classifier)
        return self._screen

    def phrasings(self) -> dict[str, dict[str, list[str]]]:
        """Examples for NLU training data: fault and red-flag phrasings, cue/exercise names."""
        return {
            "faults": {f.id: list(f.phrasings) for f in self._faults.values()},
            "cues": {c.id: [c.title, *c.aliases] for c in self._cues.values()},
            "exercises": {e.id: [e.title, *e.aliases] for e in self._exercises.values()},
            "red_flags": {r.id: list(r.phrasings) for r in self._red_flags.values()},
        }
