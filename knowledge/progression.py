"""The progression engine: progress, hold or regress each slot of the plan by the rules in
``knowledge/content/progression.yaml``.

Plain inputs, plain outputs: the engine never touches the database. ``knowledge.coaching``
gathers the history, calls the ``decide_*`` functions and stores the decisions.

This module also holds the small views of the content files that the engine and the session
builder share (:class:`ExerciseInfo`, :class:`Catalogue`, :class:`ProgressionRules`), read
directly with PyYAML so that nothing here depends on the knowledge-base query layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

CONTENT_DIR = Path(__file__).resolve().parent / "content"
ATTEMPTED_RESULTS = frozenset({"done", "too_hard", "hurt"})


# --------------------------------------------------------------------------- content views


@dataclass(frozen=True)
class ExerciseInfo:
    id: str
    title: str
    phase: str
    level: int
    equipment: frozenset[str]
    dosage: Mapping[str, Any]
    cues: tuple[str, ...]
    mistakes: tuple[str, ...] = ()
    easier: tuple[str, ...] = ()
    harder: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()  # muscles, primary first
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultInfo:
    id: str
    title: str
    cues: tuple[str, ...]
    exercises: tuple[str, ...]  # recommended exercise ids, most important first


def exercise_info_from_mapping(entry: Mapping[str, Any]) -> ExerciseInfo:
    """One ``exercises.yaml`` entry → :class:`ExerciseInfo` (unknown keys are ignored)."""
    targets = tuple(
        t["muscle"] if isinstance(t, Mapping) else str(t) for t in (entry.get("targets") or ())
    )
    return ExerciseInfo(
        id=str(entry["id"]),
        title=str(entry.get("title") or entry["id"]),
        phase=str(entry.get("phase") or "activation"),
        level=int(entry.get("level") or 1),
        equipment=frozenset(entry.get("equipment") or ("none",)),
        dosage=dict(entry.get("dosage") or {}),
        cues=tuple(entry.get("cues") or ()),
        mistakes=tuple(entry.get("mistakes") or ()),
        easier=tuple(entry.get("easier") or ()),
        harder=tuple(entry.get("harder") or ()),
        targets=targets,
        steps=tuple(entry.get("steps") or ()),
    )


def _read_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def exercise_infos_from_content(content_dir: Path | str | None = None) -> tuple[ExerciseInfo, ...]:
    """The exercise catalogue from ``exercises.yaml`` (empty when the file does not exist yet)."""
    path = Path(content_dir or CONTENT_DIR) / "exercises.yaml"
    if not path.exists():
        return ()
    data = _read_yaml(path) or {}
    return tuple(exercise_info_from_mapping(e) for e in data.get("exercises") or ())


def cue_texts_from_content(content_dir: Path | str | None = None) -> dict[str, str]:
    """Cue id → what the coach says (``say``, else ``title``) from ``cues.yaml``."""
    path = Path(content_dir or CONTENT_DIR) / "cues.yaml"
    if not path.exists():
        return {}
    data = _read_yaml(path) or {}
    return {
        str(c["id"]): str(c.get("say") or c.get("title") or c["id"])
        for c in data.get("cues") or ()
    }


def fault_infos_from_content(content_dir: Path | str | None = None) -> dict[str, FaultInfo]:
    path = Path(content_dir or CONTENT_DIR) / "faults.yaml"
    if not path.exists():
        return {}
    data = _read_yaml(path) or {}
    faults: dict[str, FaultInfo] = {}
    for f in data.get("faults") or ():
        exercises = tuple(
            e["id"] if isinstance(e, Mapping) else str(e) for e in (f.get("exercises") or ())
        )
        faults[str(f["id"])] = FaultInfo(
            id=str(f["id"]),
            title=str(f.get("title") or f["id"]),
            cues=tuple(f.get("cues") or ()),
            exercises=exercises,
        )
    return faults


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class PainZone:
    id: str
    min: int
    max: int
    advice: str
    sources: tuple[str, ...]
    after_session: str = ""  # the check-in's answer; falls back to ``advice``

    @property
    def checkin_advice(self) -> str:
        return self.after_session or self.advice


@dataclass(frozen=True)
class SlotRule:
    id: str
    title: str
    targets: tuple[str, ...]
    exercises: tuple[str, ...] = ()


class _SafeFormat(dict):
    # A placeholder the caller did not supply stays visible instead of raising KeyError.
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Encouragement:
    after_session: tuple[str, ...] = ()
    streak_milestones: Mapping[int, str] = field(default_factory=dict)
    first_weeks_days: int = 14
    first_weeks_target: int = 6
    first_weeks_progress: str = ""
    first_weeks_reached: str = ""

    def line(self, checkins: int, streak: int, first_weeks_done: int | None) -> str:
        """What to add after the ``checkins``-th check-in (1-based) with a ``streak`` of days in a
        row; ``first_weeks_done`` is the count within the first weeks, None after them."""
        parts = []
        if streak in self.streak_milestones:
            parts.append(self.streak_milestones[streak])
        elif self.after_session:
            parts.append(self.after_session[(checkins - 1) % len(self.after_session)])
        if first_weeks_done is not None and first_weeks_done <= self.first_weeks_target:
            template = self.first_weeks_reached if first_weeks_done == self.first_weeks_target else self.first_weeks_progress
            if template:
                parts.append(template.format(done=first_weeks_done, target=self.first_weeks_target))
        return " ".join(parts)


def _encouragement(data: Mapping[str, Any], problems: list[str]) -> Encouragement:
    e = data.get("encouragement") or {}
    lines = tuple(str(x) for x in e.get("after_session") or ())
    if e and len(lines) < 2:
        problems.append("encouragement.after_session needs at least two lines, so none repeats")
    if len(set(lines)) != len(lines):
        problems.append("encouragement.after_session has the same line twice")
    first = e.get("first_weeks") or {}
    return Encouragement(
        after_session=lines,
        streak_milestones={int(k): str(v) for k, v in (e.get("streak_milestones") or {}).items()},
        first_weeks_days=int(first.get("days", 14)),
        first_weeks_target=int(first.get("target", 6)),
        first_weeks_progress=str(first.get("progress") or ""),
        first_weeks_reached=str(first.get("reached") or ""),
    )


@dataclass(frozen=True)
class WeeklyRules:
    """The weekly check-in's measures and what counts as a meaningful change (progression.yaml,
    ``weekly_checkin``)."""

    every_days: int = 7
    pain_change: int = 2  # points on the 0-10 scale
    pain_percent: int = 30  # of the starting figure
    psfs_change: int = 2
    max_tasks: int = 3
    change_options: tuple[tuple[int, str], ...] = ()  # (value, label), best first
    plan: Mapping[str, str] = field(default_factory=dict)  # better | same | worse | first

    def change_label(self, value: int) -> str:
        return next((label for v, label in self.change_options if v == value), str(value))


def _weekly(data: Mapping[str, Any], problems: list[str]) -> WeeklyRules:
    w = data.get("weekly_checkin") or {}
    if not w:
        return WeeklyRules()
    options = tuple((int(o["value"]), str(o["label"])) for o in (w.get("change") or {}).get("options") or ())
    values = [v for v, _ in options]
    if values != sorted(values, reverse=True) or len(set(values)) != len(values) or not values:
        problems.append("weekly_checkin.change.options need distinct values, best first")
    plan = {str(k): str(v) for k, v in (w.get("plan") or {}).items()}
    missing = {"better", "same", "worse", "first"} - set(plan)
    if missing:
        problems.append(f"weekly_checkin.plan is missing {', '.join(sorted(missing))}")
    pain = w.get("pain") or {}
    psfs = w.get("psfs") or {}
    return WeeklyRules(
        every_days=int(w.get("every_days", 7)),
        pain_change=int(pain.get("min_important_change", 2)),
        pain_percent=int(pain.get("min_important_percent", 30)),
        psfs_change=int(psfs.get("min_important_change", 2)),
        max_tasks=int(psfs.get("max_tasks", 3)),
        change_options=options,
        plan=plan,
    )


@dataclass(frozen=True)
class ProgressionRules:
    sources: tuple[str, ...]
    phases: tuple[str, ...]
    zones: tuple[PainZone, ...]
    next_morning: Mapping[str, Any]
    slots: tuple[SlotRule, ...]
    session: Mapping[str, Any]
    groups: Mapping[str, tuple[Mapping[str, Any], ...]]
    encouragement: Encouragement = field(default_factory=Encouragement)
    weekly: WeeklyRules = field(default_factory=WeeklyRules)

    def zone_for(self, pain: int) -> PainZone:
        for z in self.zones:
            if z.min <= pain <= z.max:
                return z
        raise ValueError(f"pain must be between 0 and 10, got {pain}")

    def group(self, name: str) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.groups.get(name) or ())

    def rule(self, rule_id: str) -> Mapping[str, Any]:
        for rules in self.groups.values():
            for r in rules:
                if r["id"] == rule_id:
                    return r
        raise KeyError(f"no rule with id {rule_id!r} in progression.yaml")

    def reason(self, rule_id: str, key: str = "reason", **fields: Any) -> str:
        return str(self.rule(rule_id)[key]).format_map(_SafeFormat(fields))

    def phase_rank(self, phase: str) -> int:
        return self.phases.index(phase) if phase in self.phases else 0

    def next_phase(self, phase: str) -> str | None:
        rank = self.phase_rank(phase)
        return self.phases[rank + 1] if rank + 1 < len(self.phases) else None


def progression_rules_from_mapping(data: Mapping[str, Any]) -> ProgressionRules:
    """Build and check the rules; a broken file fails loudly with what is wrong."""
    problems: list[str] = []
    pm = data.get("pain_monitoring") or {}
    zones = tuple(
        PainZone(
            id=str(z["id"]),
            min=int(z["min"]),
            max=int(z["max"]),
            advice=str(z["advice"]),
            sources=tuple(z.get("sources") or pm.get("sources") or ()),
            after_session=str(z.get("after_session") or ""),
        )
        for z in pm.get("zones") or ()
    )
    expected = 0
    for z in zones:
        if z.min != expected or z.max < z.min:
            problems.append(f"pain zone {z.id} must start at {expected} and not end before it")
        expected = z.max + 1
    if expected != 11:
        problems.append("pain zones must cover 0 to 10")
    groups: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for name, rules in (data.get("rules") or {}).items():
        for r in rules or ():
            if not r.get("id") or not r.get("reason"):
                problems.append(f"every rule in {name} needs an id and a reason")
        groups[name] = tuple(rules or ())
    for required in ("progress", "hold", "regress", "deload", "phase_gates"):
        if not groups.get(required):
            problems.append(f"rules.{required} is missing")
    if not data.get("sources"):
        problems.append("the file needs sources")
    encouragement = _encouragement(data, problems)
    weekly = _weekly(data, problems)
    if problems:
        raise ValueError("progression.yaml: " + "; ".join(problems))
    slots = tuple(
        SlotRule(
            id=str(s["id"]),
            title=str(s.get("title") or s["id"]),
            targets=tuple(s.get("targets") or ()),
            exercises=tuple(s.get("exercises") or ()),
        )
        for s in data.get("slots") or ()
    )
    return ProgressionRules(
        sources=tuple(data["sources"]),
        phases=tuple(data.get("phases") or ("activation", "integration", "loading")),
        zones=zones,
        next_morning=dict(pm.get("next_morning") or {}),
        slots=slots,
        session=dict(data.get("session") or {}),
        groups=groups,
        encouragement=encouragement,
        weekly=weekly,
    )


@lru_cache(maxsize=8)
def _load_rules_cached(path: str, mtime: float) -> ProgressionRules:
    return progression_rules_from_mapping(_read_yaml(Path(path)) or {})


def load_progression_rules(path: Path | str | None = None) -> ProgressionRules:
    path = Path(path or CONTENT_DIR / "progression.yaml")
    return _load_rules_cached(str(path), path.stat().st_mtime)


# --------------------------------------------------------------------------- catalogue


class Catalogue:
    """The exercises arranged by plan slot, with easier / harder navigation."""

    def __init__(self, exercises: Iterable[ExerciseInfo], rules: ProgressionRules) -> None:
        self.rules = rules
        self.by_id: dict[str, ExerciseInfo] = {e.id: e for e in exercises}
        explicit = {ex_id: s.id for s in rules.slots for ex_id in s.exercises}
        self._slot_of: dict[str, str] = {}
        for e in self.by_id.values():
            slot = explicit.get(e.id)
            if slot is None and e.targets:
                slot = next((s.id for s in rules.slots if e.targets[0] in s.targets), None)
            if slot is not None:
                self._slot_of[e.id] = slot

    def get(self, exercise_id: str | None) -> ExerciseInfo | None:
        return self.by_id.get(exercise_id) if exercise_id else None

    def title(self, exercise_id: str | None) -> str:
        ex = self.get(exercise_id)
        return ex.title if ex else (exercise_id or "")

    def slot_of(self, exercise_id: str) -> str | None:
        return self._slot_of.get(exercise_id)

    def _rank(self, ex: ExerciseInfo) -> tuple[int, int]:
        return (self.rules.phase_rank(ex.phase), ex.level)

    def in_slot(self, slot: str) -> list[ExerciseInfo]:
        """The slot's exercises, easiest first (phase, then level, then id)."""
        return sorted(
            (e for e in self.by_id.values() if self._slot_of.get(e.id) == slot),
            key=lambda e: (*self._rank(e), e.id),
        )

    @staticmethod
    def usable(ex: ExerciseInfo, equipment: Iterable[str]) -> bool:
        """True when the trainee owns everything the exercise needs ("none" needs nothing)."""
        return set(ex.equipment) - {"none"} <= set(equipment)

    def entry_exercise(
        self, slot: str, phase: str, equipment: Iterable[str], prefer: Iterable[str] = ()
    ) -> ExerciseInfo | None:
        """Where a slot starts in ``phase``: the easiest usable exercise of that phase (preferred
        ones first); failing that, the hardest usable one from an earlier phase."""
        equipment = set(equipment)
        preferred = set(prefer)
        candidates = [e for e in self.in_slot(slot) if self.usable(e, equipment)]
        same = [e for e in candidates if e.phase == phase]
        if same:
            return min(same, key=lambda e: (e.id not in preferred, e.level, e.id))
        rank = self.rules.phase_rank(phase)
        earlier = [e for e in candidates if self.rules.phase_rank(e.phase) < rank]
        return earlier[-1] if earlier else None

    def harder(self, exercise_id: str, equipment: Iterable[str], max_phase: str) -> ExerciseInfo | None:
        """The next harder usable exercise in the same slot, not beyond ``max_phase``."""
        return self._step(exercise_id, equipment, max_phase, harder=True)

    def easier(self, exercise_id: str, equipment: Iterable[str]) -> ExerciseInfo | None:
        return self._step(exercise_id, equipment, None, harder=False)

    def _step(
        self, exercise_id: str, equipment: Iterable[str], max_phase: str | None, harder: bool
    ) -> ExerciseInfo | None:
        current = self.get(exercise_id)
        if current is None:
            return None
        equipment = set(equipment)
        max_rank = self.rules.phase_rank(max_phase) if max_phase else len(self.rules.phases)
        slot = self.slot_of(exercise_id)

        def fits(e: ExerciseInfo | None) -> bool:
            return (
                e is not None
                and e.id != current.id
                and self.usable(e, equipment)
                and self.rules.phase_rank(e.phase) <= max_rank
            )

        # The content's own chain first: the author ordered it deliberately.
        for ex_id in current.harder if harder else current.easier:
            e = self.get(ex_id)
            if fits(e):
                return e
        if slot is None:
            return None
        here = self._rank(current)
        others = [e for e in self.in_slot(slot) if fits(e)]
        if harder:
            above = [e for e in others if self._rank(e) > here]
            return above[0] if above else None
        below = [e for e in others if self._rank(e) < here]
        return below[-1] if below else None


@dataclass(frozen=True)
class CoachContent:
    """Everything the builder and engine read from content, loaded once."""

    catalogue: Catalogue
    faults: Mapping[str, FaultInfo] = field(default_factory=dict)
    cue_texts: Mapping[str, str] = field(default_factory=dict)

    @property
    def rules(self) -> ProgressionRules:
        return self.catalogue.rules


def load_coach_content(content_dir: Path | str | None = None) -> CoachContent:
    content_dir = Path(content_dir or CONTENT_DIR)
    rules = load_progression_rules(content_dir / "progression.yaml")
    return CoachContent(
        catalogue=Catalogue(exercise_infos_from_content(content_dir), rules),
        faults=fault_infos_from_content(content_dir),
        cue_texts=cue_texts_from_content(content_dir),
    )


# --------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class ItemOutcome:
    slot: str
    exercise_id: str
    result: str | None  # done | skipped | too_hard | hurt | None (never reached)


@dataclass(frozen=True)
class SessionOutcome:
    """One checked-in session as the engine sees it."""

    local_date: date
    items: tuple[ItemOutcome, ...]
    pain: int | None = None
    glute_feel: int | None = None
    effort: str | None = None

    def item_for(self, slot: str) -> ItemOutcome | None:
        return next((i for i in self.items if i.slot == slot), None)


@dataclass(frozen=True)
class ProgressionState:
    phase: str
    equipment: frozenset[str]
    slot_levels: Mapping[str, str]  # slot → current exercise id
    history: tuple[SessionOutcome, ...] = ()  # checked-in sessions, oldest first
    phase_since: date | None = None


@dataclass(frozen=True)
class Decision:
    kind: str  # progress | hold | regress | deload | phase
    slot: str  # a plan slot, or "phase"
    from_id: str | None
    to_id: str | None
    rule_id: str
    reason: str
    count: int = 0  # a building hold: good sessions in a row so far

    @property
    def changes(self) -> bool:
        return self.from_id != self.to_id


@dataclass(frozen=True)
class MissedDaysOutcome:
    missed_days: int
    decisions: tuple[Decision, ...]
    offer_short_version: bool
    reduce_sets_by: int


def apply_decisions(
    slot_levels: Mapping[str, str], phase: str, decisions: Iterable[Decision]
) -> tuple[dict[str, str], str]:
    """The slot levels and phase after ``decisions`` (later decisions win)."""
    levels = dict(slot_levels)
    for d in decisions:
        if d.slot == "phase":
            phase = d.to_id or phase
        elif d.to_id:
            levels[d.slot] = d.to_id
    return levels, phase


def _good_session(s: SessionOutcome, max_pain: int, min_glute: int, effort_not: Sequence[str]) -> bool:
    return (
        s.pain is not None
        and s.glute_feel is not None
        and s.pain <= max_pain
        and s.glute_feel >= min_glute
        and s.effort not in effort_not
    )


def _regress_or_floor(
    state: ProgressionState, catalogue: Catalogue, slot: str, current: str, rule_id: str, **fields: Any
) -> Decision:
    rules = catalogue.rules
    easier = catalogue.easier(current, state.equipment)
    from_title = catalogue.title(current)
    if easier is None:
        return Decision(
            "hold", slot, current, current, "hold_at_easiest",
            rules.reason("hold_at_easiest", from_title=from_title),
        )
    return Decision(
        "regress", slot, current, easier.id, rule_id,
        rules.reason(rule_id, from_title=from_title, to_title=easier.title, **fields),
    )


def _hold(
    rules: ProgressionRules, latest: SessionOutcome, slot: str, current: str, title: str, streak: int,
    progress: Mapping[str, Any],
) -> Decision:
    """Staying on the current exercise. When today's session was done but did not count, say why
    (a plain "0 of 3 good sessions" after a session rated "about right" reads as a contradiction)."""
    needed = int(progress["sessions_in_a_row"])
    max_pain, min_glute = int(progress["max_pain"]), int(progress["min_glute_feel"])
    effort_not = tuple(progress.get("effort_not") or ())
    item = latest.item_for(slot)
    misses = []
    if latest.pain is not None and latest.pain > max_pain:
        misses.append(f"pain {latest.pain}")
    if latest.glute_feel is not None and latest.glute_feel < min_glute:
        misses.append(f"glute feel {latest.glute_feel} of 10")
    if latest.effort in effort_not:
        misses.append("effort " + latest.effort.replace("_", " "))
    if streak == 0 and item is not None and item.result == "done" and misses and any(
        r["id"] == "hold_not_counted" for r in rules.group("hold")
    ):
        return Decision("hold", slot, current, current, "hold_not_counted", rules.reason(
            "hold_not_counted", from_title=title, what=", ".join(misses), needed=needed,
            max_pain=max_pain, min_glute_feel=min_glute,
        ))
    return Decision("hold", slot, current, current, "hold_building",
                    rules.reason("hold_building", from_title=title, count=streak, needed=needed), streak)


def decide_after_checkin(state: ProgressionState, catalogue: Catalogue) -> tuple[Decision, ...]:
    """Decisions for every slot of the latest session in ``state.history``, plus a phase gate.

    Per slot: regress (pain during above the limit; flagged "hurts"/"too hard" N times in a row)
    beats progress (N good sessions in a row on the current exercise) beats hold.
    """
    if not state.history:
        return ()
    rules = catalogue.rules
    latest = state.history[-1]
    regress_pain = rules.rule("regress_pain_during")
    flagged_rule = rules.rule("regress_flagged_twice")
    flags = frozenset(flagged_rule.get("flags") or ("hurt", "too_hard"))
    progress = rules.group("progress")[0]
    needed = int(progress["sessions_in_a_row"])

    attempted = [i for i in latest.items if i.result in ATTEMPTED_RESULTS]
    flagged_now = [i for i in attempted if i.result in flags]
    pain_too_high = latest.pain is not None and latest.pain > int(regress_pain["pain_above"])
    # When the trainee flagged particular exercises, those are the likely culprits of the pain.
    pain_culprits = {i.slot for i in (flagged_now or attempted)} if pain_too_high else set()

    decisions: list[Decision] = []
    for item in latest.items:
        if item.result is None:
            continue
        slot = item.slot
        current = state.slot_levels.get(slot, item.exercise_id)
        if slot in pain_culprits:
            decisions.append(
                _regress_or_floor(state, catalogue, slot, current, regress_pain["id"], pain=latest.pain)
            )
            continue
        same_exercise = [
            s.item_for(slot) for s in state.history
            if s.item_for(slot) is not None and s.item_for(slot).exercise_id == current  # type: ignore[union-attr]
        ]
        times = int(flagged_rule.get("times_in_a_row") or 2)
        recent = same_exercise[-times:]
        if len(recent) == times and all(i.result in flags for i in recent):  # type: ignore[union-attr]
            decisions.append(_regress_or_floor(state, catalogue, slot, current, flagged_rule["id"]))
            continue
        streak = 0
        for s in reversed(state.history):
            it = s.item_for(slot)
            if it is None or it.result is None:
                continue  # the slot was not in that session: neither counts nor breaks the run
            if it.exercise_id != current or it.result != "done":
                break
            if not _good_session(
                s, int(progress["max_pain"]), int(progress["min_glute_feel"]),
                tuple(progress.get("effort_not") or ()),
            ):
                break
            streak += 1
        title = catalogue.title(current)
        if streak >= needed:
            harder = catalogue.harder(current, state.equipment, state.phase)
            if harder is not None:
                decisions.append(Decision(
                    "progress", slot, current, harder.id, progress["id"],
                    rules.reason(progress["id"], from_title=title, to_title=harder.title, count=streak),
                ))
            else:
                decisions.append(Decision(
                    "hold", slot, current, current, "hold_top_of_phase",
                    rules.reason("hold_top_of_phase", from_title=title),
                ))
        else:
            decisions.append(_hold(rules, latest, slot, current, title, streak, progress))

    if not any(d.kind == "regress" for d in decisions):
        decisions = _apply_phase_gate(state, catalogue, decisions)
    return tuple(decisions)


def _apply_phase_gate(
    state: ProgressionState, catalogue: Catalogue, decisions: list[Decision]
) -> list[Decision]:
    rules = catalogue.rules
    gate = next((g for g in rules.group("phase_gates") if g.get("from") == state.phase), None)
    if gate is None:
        return decisions
    in_phase = [
        s for s in state.history
        if (state.phase_since is None or s.local_date >= state.phase_since)
        and any(i.result == "done" for i in s.items)
        and _good_session(s, int(gate["max_pain"]), int(gate["min_glute_feel"]), ())
    ]
    needed = int(gate["sessions_in_phase"])
    if len(in_phase) < needed:
        return decisions
    new_phase = str(gate["to"])
    fields = {"from_phase": state.phase, "to_phase": new_phase, "count": len(in_phase)}
    by_slot = {d.slot: d for d in decisions}
    levels, _ = apply_decisions(state.slot_levels, state.phase, decisions)
    for slot in [s.id for s in rules.slots]:
        current = catalogue.get(levels.get(slot))
        entry = catalogue.entry_exercise(slot, new_phase, state.equipment)
        if entry is None or entry.phase != new_phase:
            continue  # nothing new for this slot in the next phase: keep what it has
        if current is not None and rules.phase_rank(current.phase) >= rules.phase_rank(new_phase):
            continue
        from_id = state.slot_levels.get(slot)
        by_slot[slot] = Decision(
            "progress", slot, from_id, entry.id, gate["id"],
            rules.reason(gate["id"], key="slot_reason", to_title=entry.title,
                         from_title=catalogue.title(from_id), **fields),
        )
    phase = Decision("phase", "phase", state.phase, new_phase, gate["id"], rules.reason(gate["id"], **fields))
    return [phase, *by_slot.values()]


def decide_next_morning(
    state: ProgressionState, morning_pain: int, reference_pain: int, catalogue: Catalogue
) -> tuple[Decision, ...]:
    """Pain worse next morning than the reference (previous morning, or baseline) by the rule's
    margin → regress every slot worked in the latest session."""
    rule = catalogue.rules.rule("regress_next_morning")
    increase = morning_pain - reference_pain
    if increase < int(rule["worse_by"]) or not state.history:
        return ()
    latest = state.history[-1]
    decisions = []
    for item in latest.items:
        if item.result not in ATTEMPTED_RESULTS:
            continue
        current = state.slot_levels.get(item.slot, item.exercise_id)
        decisions.append(
            _regress_or_floor(state, catalogue, item.slot, current, rule["id"], increase=increase)
        )
    return tuple(decisions)


def decide_after_missed_days(
    state: ProgressionState, missed_days: int, catalogue: Catalogue
) -> MissedDaysOutcome:
    """After enough missed days in a row: one level easier in every slot, fewer sets, and the
    offer of a 5-minute version."""
    rule = catalogue.rules.group("deload")[0]
    if missed_days < int(rule["missed_days_at_least"]):
        return MissedDaysOutcome(missed_days, (), False, 0)
    decisions: list[Decision] = []
    for slot, current in sorted(state.slot_levels.items()):
        target = catalogue.get(current)
        for _ in range(int(rule.get("levels_down") or 1)):
            easier = catalogue.easier(target.id, state.equipment) if target else None
            target = easier or target
        to_id = target.id if target else current
        decisions.append(Decision(
            "deload", slot, current, to_id, rule["id"],
            catalogue.rules.reason(rule["id"], missed_days=missed_days,
                                   from_title=catalogue.title(current), to_title=catalogue.title(to_id)),
        ))
    return MissedDaysOutcome(
        missed_days,
        tuple(decisions),
        bool(rule.get("offer_short_version", True)),
        int(rule.get("sets_minus") or 0),
    )
