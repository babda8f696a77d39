"""Today's session: 3-5 exercises chosen by rule from the trainee's state.

Deterministic: the same :class:`TraineeState` always gives the same :class:`SessionPlan`. Where
a choice needs variety (which cue today, which slot when two tie) it uses a stable hash of
(user, date), never ``random``. All numbers (counts, minutes, the high-pain threshold) come from
``progression.yaml``.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

from knowledge.progression import (  # re-exported: the builder's inputs
    Catalogue,
    CoachContent,
    ExerciseInfo,
    exercise_infos_from_content,
    load_coach_content,
)

__all__ = [
    "ExerciseInfo",
    "PlannedItem",
    "SessionPlan",
    "TraineeState",
    "build_session",
    "dosage_text",
    "estimate_seconds",
    "exercise_infos_from_content",
]


@dataclass(frozen=True)
class TraineeState:
    user_id: str
    local_date: date
    phase: str = "activation"
    equipment: frozenset[str] = frozenset({"none"})
    faults: tuple[str, ...] = ()  # fault ids, first reported first
    slot_levels: Mapping[str, str] = field(default_factory=dict)  # slot → current exercise id
    pain_today: int | None = None  # latest pain reported today, 0-10
    recent_sessions: tuple[tuple[str, ...], ...] = ()  # exercise ids, most recent session first
    short_version: bool = False  # the 5-minute version (after missed days)
    reduce_volume: bool = False  # deload: one set fewer
    missed_days: int = 0


@dataclass(frozen=True)
class PlannedItem:
    slot: str
    exercise_id: str
    title: str
    dosage: Mapping[str, Any]
    cue_id: str | None
    cue_text: str | None
    seconds: int


@dataclass(frozen=True)
class SessionPlan:
    user_id: str
    local_date: date
    items: tuple[PlannedItem, ...]
    estimated_minutes: int
    why: str
    short_version: bool = False
    easy_day: bool = False  # pain high today: only easier activation work


def _stable_int(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _rep_seconds(dosage: Mapping[str, Any], default: float) -> float:
    tempo = dosage.get("tempo")
    if isinstance(tempo, str):
        try:
            return float(sum(int(p) for p in tempo.split("-")))
        except ValueError:
            return default
    return default


def estimate_seconds(dosage: Mapping[str, Any], settings: Mapping[str, Any]) -> int:
    """Time for one exercise: work per set (reps x tempo, or the hold; both sides if per side),
    rest between sets, and a transition to get set up."""
    sets = max(1, int(dosage.get("sets") or 1))
    if dosage.get("reps"):
        work = int(dosage["reps"]) * _rep_seconds(dosage, float(settings.get("seconds_per_rep", 4)))
    else:
        work = float(dosage.get("hold_seconds") or 30)
    if dosage.get("per_side"):
        work *= 2
    rest = float(dosage.get("rest_seconds") or 0)
    return int(round(sets * work + (sets - 1) * rest + float(settings.get("transition_seconds", 30))))


def dosage_text(dosage: Mapping[str, Any]) -> str:
    """``{"sets": 2, "reps": 12, "per_side": True}`` → ``"2 x 12 per side"``."""
    sets = int(dosage.get("sets") or 1)
    if dosage.get("reps"):
        amount = f"{dosage['reps']}"
    elif dosage.get("hold_seconds"):
        amount = f"{dosage['hold_seconds']} s hold"
    else:
        amount = "as shown"
    text = f"{sets} x {amount}"
    if dosage.get("per_side"):
        text += " per side"
    if dosage.get("rest_seconds"):
        text += f", rest {dosage['rest_seconds']} s"
    return text


def _slot_exercise(
    state: TraineeState, content: CoachContent, slot: str, prefer: set[str], easy: bool
) -> ExerciseInfo | None:
    catalogue: Catalogue = content.catalogue
    if easy:
        # Only activation-phase work, and never harder than what the slot holds now.
        current = catalogue.get(state.slot_levels.get(slot))
        gentle = [
            e for e in catalogue.in_slot(slot)
            if e.phase == catalogue.rules.phases[0] and catalogue.usable(e, state.equipment)
        ]
        if current is not None and current.phase == catalogue.rules.phases[0]:
            gentle = [e for e in gentle if e.level <= current.level]
        return gentle[0] if gentle else None
    current = catalogue.get(state.slot_levels.get(slot))
    if current is not None and catalogue.usable(current, state.equipment):
        return current
    return catalogue.entry_exercise(slot, state.phase, state.equipment, prefer)


def _choose_cue(state: TraineeState, content: CoachContent, ex: ExerciseInfo) -> str | None:
    if not ex.cues:
        return None
    # A cue that also answers one of the trainee's own faults beats a generic one.
    for fault_id in state.faults:
        fault = content.faults.get(fault_id)
        for cue in fault.cues if fault else ():
            if cue in ex.cues:
                return cue
    return ex.cues[_stable_int(state.user_id, state.local_date, ex.id) % len(ex.cues)]


def build_session(state: TraineeState, content: CoachContent | None = None) -> SessionPlan:
    """Today's session for ``state`` (content defaults to the files in knowledge/content)."""
    content = content or load_coach_content()
    rules = content.rules
    settings = rules.session
    easy = state.pain_today is not None and state.pain_today >= int(settings.get("high_pain_at_least", 6))
    short = state.short_version
    min_n = int(settings.get("exercises_min", 3))
    max_n = int(settings.get("exercises_max", 5))
    if easy:
        max_n = min(max_n, int(settings.get("high_pain_max_exercises", 3)))
    short_cfg = settings.get("short_version") or {}
    if short:
        max_n = min(max_n, int(short_cfg.get("exercises", 3)))
        min_n = min(max_n, int(short_cfg.get("exercises_min", 2)))
    minutes_min = float(short_cfg.get("minutes", 5) if short else settings.get("minutes_min", 10))
    minutes_max = float(short_cfg.get("minutes", 5) if short else settings.get("minutes_max", 15))

    prefer: set[str] = set()
    for fault_id in state.faults:
        fault = content.faults.get(fault_id)
        prefer.update(fault.exercises if fault else ())
    fault_slots = {content.catalogue.slot_of(e) for e in prefer}
    recent = [set(s) for s in state.recent_sessions[:2]]

    candidates: list[tuple[tuple[int, int, int], ExerciseInfo, str]] = []
    for slot in rules.slots:
        ex = _slot_exercise(state, content, slot.id, prefer, easy)
        if ex is None:
            continue
        priority = (
            0 if slot.id in fault_slots else 1,  # the trainee's own fault first
            sum(ex.id in s for s in recent),  # variety: what was not done lately comes first
            _stable_int(state.user_id, state.local_date, slot.id) % 1000,
        )
        candidates.append((priority, ex, slot.id))
    candidates.sort(key=lambda c: c[0])

    def dosed(ex: ExerciseInfo) -> dict[str, Any]:
        dosage = dict(ex.dosage)
        sets = int(dosage.get("sets") or 1)
        if short:
            sets = int(short_cfg.get("sets", 1))
        elif state.reduce_volume:
            deload = rules.group("deload")[0]
            sets = max(1, sets - int(deload.get("sets_minus") or 1))
        dosage["sets"] = sets
        return dosage

    chosen: list[tuple[ExerciseInfo, str, dict[str, Any], int]] = []
    total = 0
    for _, ex, slot_id in candidates:
        if len(chosen) >= max_n:
            break
        if len(chosen) >= min_n and total >= minutes_min * 60:
            break
        dosage = dosed(ex)
        seconds = estimate_seconds(dosage, settings)
        chosen.append((ex, slot_id, dosage, seconds))
        total += seconds
    while len(chosen) > min_n and total > minutes_max * 60:
        total -= chosen.pop()[3]

    # Hardest work first, while the trainee is fresh.
    chosen.sort(key=lambda c: (-rules.phase_rank(c[0].phase), -c[0].level, c[1]))
    items = tuple(
        PlannedItem(
            slot=slot_id,
            exercise_id=ex.id,
            title=ex.title,
            dosage=dosage,
            cue_id=(cue := _choose_cue(state, content, ex)),
            cue_text=content.cue_texts.get(cue, cue.replace("_", " ").capitalize()) if cue else None,
            seconds=seconds,
        )
        for ex, slot_id, dosage, seconds in chosen
    )
    minutes = max(1, math.ceil(total / 60)) if items else 0
    return SessionPlan(
        user_id=state.user_id,
        local_date=state.local_date,
        items=items,
        estimated_minutes=minutes,
        why=_why(state, content, items, minutes, easy, short),
        short_version=short,
        easy_day=easy,
    )


def _why(
    state: TraineeState, content: CoachContent, items: tuple[PlannedItem, ...],
    minutes: int, easy: bool, short: bool,
) -> str:
    if not items:
        return "No exercise in the catalogue fits your equipment yet."
    count = f"{len(items)} exercises, about {minutes} minutes"
    if easy:
        return f"Pain is high today, so only gentle activation work: {count}."
    if short:
        after = f" after {state.missed_days} days off" if state.missed_days else ""
        return f"A short version to ease back in{after}: {count}."
    fault = content.faults.get(state.faults[0]) if state.faults else None
    focus = f" aimed at {fault.title.lower()}" if fault else ""
    return f"{state.phase.capitalize()} work{focus}, hardest first while you are fresh: {count}."
