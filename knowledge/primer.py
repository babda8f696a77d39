"""The primer before a workout: a few activation drills for the lift or activity ahead, and the
cues to carry into it.

Plain Python over a :class:`~knowledge.queries.KnowledgeBase`. What goes in is decided by the
content (``activities.yaml``: each lift's primer drills, cues and usual faults) and by the person:
never a drill above their current level or one that needs equipment they lack, their own faults
first, and no more drills than the time they say they have ("just 2 minutes"; 3-5 minutes when
they do not say). "Deadlifts in 20 min" says when the workout starts, not how long the primer
may be. Without a known person, the primer is built for a beginner with no equipment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from knowledge.session_builder import estimate_seconds

# The issue: 3-5 minutes unless the person says otherwise; a primer is a warm-up, not a session.
DEFAULT_MINUTES = 4.0
MIN_MINUTES, MAX_MINUTES = 1.0, 10.0
MAX_DRILLS = 3
# One purposeful set per drill, a little shorter than in the daily session (a warm-up must not
# tire the glutes before the lift): at most 10 reps or a 20 s hold.
PRIMER_SETS, PRIMER_MAX_REPS, PRIMER_MAX_HOLD_S = 1, 10, 20
TIMING = {"seconds_per_rep": 4, "transition_seconds": 15}
# Without a known person: the easiest level and nothing but the floor.
DEFAULT_LEVEL = 1
DEFAULT_EQUIPMENT = frozenset({"none"})


@dataclass(frozen=True)
class Person:
    """What the primer needs to know about someone: ``level`` is the highest exercise level of
    their current plan, ``equipment`` what they have (``none`` always), ``faults`` their own."""

    level: int = DEFAULT_LEVEL
    equipment: frozenset[str] = DEFAULT_EQUIPMENT
    faults: tuple[str, ...] = ()


@dataclass(frozen=True)
class Drill:
    exercise_id: str
    title: str
    dosage: Mapping[str, Any]  # the primer's dose (one set)
    seconds: int
    for_fault: str | None  # the person's own fault this drill retrains, if it was chosen for that


@dataclass(frozen=True)
class Primer:
    activity_id: str
    title: str
    drills: tuple[Drill, ...]
    cues: tuple[str, ...]  # cue ids, the one for the person's own fault first
    watch_faults: tuple[str, ...]  # the person's own faults that usually show up in this lift
    minutes: float  # the time it was built for
    seconds: int  # the drills' estimated time
    known_person: bool
    coaching_practice: bool  # no study of this activity: the primer says so


# ----------------------------------------------------------------------------- the time they have

_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30,
            "a couple of": 2, "a couple": 2, "couple of": 2, "couple": 2, "a few": 3, "few": 3}
_AMOUNT = r"(\d+(?:\.\d+)?|a couple of|a couple|couple of|couple|a few|few|an|a|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty)"
_MINUTES = re.compile(_AMOUNT + r"\s*-?\s*(?:min|mins|minute|minutes|m)\b")
# "in 20 min", "starts in about 10 minutes", "in a minute": when the workout begins.
_STARTS = re.compile(r"\b(?:in|within)\s+(?:about\s+|around\s+|like\s+|roughly\s+|~\s*)?$")


def available_minutes(text: str) -> float | None:
    """The minutes the person says they have for the primer, or None when they name none.

    >>> available_minutes("just 2 minutes before squats")
    2.0
    >>> available_minutes("deadlifts in 20 min") is None
    True
    """
    lowered = text.lower()
    for match in _MINUTES.finditer(lowered):
        if _STARTS.search(lowered[: match.start()]):
            continue  # when the workout starts, not how long the primer may be
        amount = match.group(1)
        value = float(_NUMBERS[amount]) if amount in _NUMBERS else float(amount)
        if value > 0:
            return value
    return None


# ----------------------------------------------------------------------------- the person

def person_level(kb: Any, slot_levels: Mapping[str, str]) -> int:
    """The highest level among the exercises the person's plan holds now (the easiest level when
    the plan is empty)."""
    levels = [kb.exercise(e).level for e in slot_levels.values() if kb.get("exercise", e) is not None]
    return max(levels, default=DEFAULT_LEVEL)


# ----------------------------------------------------------------------------- the primer

def _dose(dosage: Mapping[str, Any]) -> dict[str, Any]:
    dose = dict(dosage)
    dose["sets"] = PRIMER_SETS
    if dose.get("reps"):
        dose["reps"] = min(int(dose["reps"]), PRIMER_MAX_REPS)
    if dose.get("hold_seconds"):
        dose["hold_seconds"] = min(int(dose["hold_seconds"]), PRIMER_MAX_HOLD_S)
    return dose


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def build_primer(kb: Any, activity_id: str, person: Person | None = None, minutes: float | None = None) -> Primer:
    """The primer for ``activity_id``; ``person`` None means nobody known (the default primer)."""
    activity = kb.activity(activity_id)
    who = person or Person()
    budget = min(max(minutes if minutes is not None else DEFAULT_MINUTES, MIN_MINUTES), MAX_MINUTES)
    equipment = frozenset(who.equipment) | {"none"}

    def fits(exercise_id: str) -> bool:
        exercise = kb.get("exercise", exercise_id)
        return exercise is not None and exercise.level <= who.level and exercise.usable_with(equipment)

    # The person's own faults that show up in this lift come first: their drills, then the lift's.
    watch = tuple(f for f in who.faults if f in activity.faults and kb.get("fault", f) is not None)
    for_fault: dict[str, str] = {}
    for fault_id in watch:
        for exercise_id in kb.fault(fault_id).exercises:
            if exercise_id in activity.primer or kb.exercise(exercise_id).phase == "activation":
                for_fault.setdefault(exercise_id, fault_id)
    ordered = _unique([*for_fault, *activity.primer])
    candidates = [e for e in ordered if fits(e)]
    if not candidates:
        # Nothing of this lift's list fits: the easiest activation drills the person can do.
        candidates = [e.id for e in sorted(kb.exercises(), key=lambda e: e.level)
                      if e.phase == "activation" and fits(e.id)]

    drills: list[Drill] = []
    used = 0
    for exercise_id in candidates:
        exercise = kb.exercise(exercise_id)
        dose = _dose(exercise.dosage)
        seconds = estimate_seconds(dose, TIMING)
        if drills and (used + seconds > budget * 60 or len(drills) == MAX_DRILLS):
            continue  # the first drill always goes in: a primer of nothing helps nobody
        drills.append(Drill(exercise.id, exercise.title, dose, seconds, for_fault.get(exercise.id)))
        used += seconds

    own_cues = [c for f in watch for c in kb.fault(f).cues if c in activity.cues]
    cues = tuple(_unique([*own_cues, *activity.cues]))
    return Primer(activity_id=activity.id, title=activity.title, drills=tuple(drills), cues=cues,
                  watch_faults=watch, minutes=budget, seconds=used, known_person=person is not None,
                  coaching_practice=activity.coaching_practice)
