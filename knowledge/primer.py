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


# ----------------------------------------------------------------------------- a request before the workout

# A message that names a lift or activity (the caller says whether it does) is a request for the
# primer or the lift's cues when it asks for a warm-up, activation, cues or technique, or says the
# workout is still ahead ("single leg rdl later, key points?", "bulgarians next, how do i make them
# more glute?") -- unless it complains about what happened or asks why, which the fault and cue
# answers handle ("my back takes over in squats", "squats today felt all in my quads").
_REQUEST = re.compile(
    r"\b(?:warm\s?-?\s?ups?|warmups?|warming up|primer|prime|priming|activat\w*|wake|waking|switch\w* on|"
    r"fire up|firing|turn\w* on|glutes on|cues?|cueing|technique|form|tips?|pointers?|key points?|"
    r"points|focus|think about|checklist|remind me|advice|prep|prepare|ready|"
    r"how should|(?:how|what) (?:do|should|can|shall) i)\b")
_AHEAD = re.compile(
    r"\b(?:later|today|tonight|tomorrow|tmrw|tmr|next|soon|shortly|about to|gonna|going to|heading|"
    r"off to|starts?|starting|before|b4|pre|upcoming|in (?:a|an|\d+) ?(?:min|mins|minutes?|hours?|hrs?|h)|"
    r"this (?:morning|afternoon|evening|arvo)|at \d+|\w+ day)\b")
_COMPLAINT = re.compile(
    r"\b(?:hurt\w*|pain\w*|ache\w*|aching|sore\w*|cramp\w*|never|always|keeps|i keep|takes? over|taking over|"
    r"(?:does|do|doing|did) (?:all|everything|the work|most)|reason|purpose|point of|benefit|can'?t feel|cannot feel|don'?t feel|doesn'?t feel|"
    r"didn'?t feel|not feel\w*|barely|cav\w+|collaps\w*|drifts?|drifting|why|felt|yesterday|"
    r"last (?:night|time|week|session)|was|were|tweak\w*|pulled|injur\w*)\b")


def _lowered(text: str) -> str:
    """Lower case, straight apostrophes, single spaces: what the patterns above are written for."""
    return " ".join(text.lower().replace("\u2019", "'").split())


# What the person wants the lift to be like is no complaint: "what do i focus on so glutes do the
# work", "tips so my back doesnt hurt", "how do i lift the bags w/o straining my back".
_PURPOSE = re.compile(r"\b(?:so that|(?<=\S )so (?=my|the|i |it|glute|your|that)|without|w/o|w/out|to stop|to keep|to avoid|"
                      r"to make sure|instead of|rather than|and not|not my)\b[^.?!,;]*")


def complains(text: str) -> bool:
    """Whether a message complains about what happened or asks why: never a pre-workout request,
    whatever the classifier made of it ("hamstrings r doing everything in hip thrusts")."""
    lowered = _lowered(text)
    return bool(_COMPLAINT.search(_PURPOSE.sub(" ", lowered)))


def only_complains(text: str) -> bool:
    """A complaint or a "why" that neither asks for a warm-up or the cues nor says the workout is
    ahead ("hamstrings r doing everything in hip thrusts"); a message that does both ("lunges after
    work, knee always drifts in, what cues") is left to the classifier."""
    lowered = _lowered(text)
    return complains(text) and not (_REQUEST.search(lowered) or _AHEAD.search(lowered))


_WARM_UP = re.compile(r"\b(?:warm\s?-?\s?ups?|warmups?|warming up|primer|prime|priming|activat\w*|wake (?:up )?my glutes?|"
                      r"glutes? (?:on|awake|firing))\b")


def asks_for_warm_up(text: str) -> bool:
    """Whether a message asks for a warm-up or glute activation, whatever it is for."""
    lowered = _lowered(text)
    return bool(_WARM_UP.search(lowered)) and not complains(text)


def asks_for_cues(text: str) -> bool:
    """Whether a message asks for a warm-up, a primer, the cues or the technique."""
    return bool(_REQUEST.search(_lowered(text)))


def reads_as_pre_workout(text: str, names_an_activity: bool, intent: str | None = None) -> bool:
    """Whether a message is a request before a workout rather than the intent it was given.

    Only a message that names a lift or activity can be one. A how-to question about an exercise
    of the same name ("how do i do hip thrusts?") stays a how-to unless it says the workout is
    ahead ("hip thrusts later, how do i do them?").

    >>> reads_as_pre_workout("single leg rdl later, key points?", True, "ask_howto")
    True
    >>> reads_as_pre_workout("my back takes over in squats, what should i do", True, "report_fault")
    False
    """
    if not names_an_activity:
        return False
    if complains(text):
        return False
    lowered = _lowered(text)
    if intent == "ask_howto":
        return bool(_AHEAD.search(lowered))
    return bool(_REQUEST.search(lowered) or _AHEAD.search(lowered))


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


# The least a shortened set keeps: fewer reps than this is not a set.
MIN_SHORT_REPS, MIN_SHORT_HOLD_S = 5, 10


def _shortened(dose: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    """``dose`` with fewer reps (or a shorter hold) so that it fits in ``seconds``, down to
    MIN_SHORT_REPS reps or a MIN_SHORT_HOLD_S hold."""
    short = dict(dose)
    sides = 2 if short.get("per_side") else 1
    work = max(0.0, seconds - TIMING["transition_seconds"]) / sides
    if short.get("reps"):
        per_rep = estimate_seconds({**short, "reps": 1, "per_side": False}, {**TIMING, "transition_seconds": 0})
        short["reps"] = max(MIN_SHORT_REPS, min(int(short["reps"]), int(work // max(per_rep, 1))))
    elif short.get("hold_seconds"):
        short["hold_seconds"] = max(MIN_SHORT_HOLD_S, min(int(short["hold_seconds"]), int(work)))
    return short


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
            continue
        if not drills and seconds > budget * 60:
            # The first drill always goes in (a primer of nothing helps nobody), cut to the time
            # they have: "one minute" gets a shorter set, not a two-minute primer.
            dose = _shortened(dose, budget * 60)
            seconds = estimate_seconds(dose, TIMING)
        drills.append(Drill(exercise.id, exercise.title, dose, seconds, for_fault.get(exercise.id)))
        used += seconds

    own_cues = [c for f in watch for c in kb.fault(f).cues if c in activity.cues]
    cues = tuple(_unique([*own_cues, *activity.cues]))
    return Primer(activity_id=activity.id, title=activity.title, drills=tuple(drills), cues=cues,
                  watch_faults=watch, minutes=budget, seconds=used, known_person=person is not None,
                  coaching_practice=activity.coaching_practice)
