"""The coaching service: what the Rasa actions (and any other front end) call.

Every function takes a SQLAlchemy ``Session`` or ``Engine`` plus an injectable clock, stores what
it learns, commits, and returns plain data with ready-to-say text. Nothing here knows about Rasa
or Telegram. Bad input from the trainee raises :class:`CoachingError` with a message that can be
shown as is.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterator, Sequence, Union

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from knowledge.adherence import (
    AdherenceReport,
    SeriesPoint,
    days_since_last,
    days_word,
    done_dates,
    first_weeks_done,
    load_adherence,
    missed_in_a_row,
    streak,
)
from knowledge.clock import (
    SYSTEM_CLOCK,
    Clock,
    is_valid_timezone,
    local_date_of,
    local_today,
    parse_hhmm,
)
from knowledge.db import session_factory
from knowledge.progression import (
    CoachContent,
    Decision,
    ItemOutcome,
    ProgressionRules,
    ProgressionState,
    SessionOutcome,
    apply_decisions,
    decide_after_checkin,
    decide_after_missed_days,
    decide_next_morning,
    load_coach_content,
)
from knowledge.parsing import goal_category
from knowledge.session_builder import TraineeState, build_session, dosage_text
from knowledge.trainee_models import (
    EFFORTS,
    EXPERIENCE_LEVELS,
    PAIN_SOURCES,
    CheckIn,
    PainEntry,
    PlannedSession,
    ProgressionChange,
    SessionItem,
    SlotLevel,
    Trainee,
)

if TYPE_CHECKING:
    from knowledge.primer import Person, Primer

DbLike = Union[Session, Engine]
SESSION_EVENTS = ("next", "done", "skip", "too_hard", "hurts")
_EVENT_RESULT = {"next": "done", "done": "done", "skip": "skipped", "too_hard": "too_hard", "hurts": "hurt"}


class CoachingError(ValueError):
    """Invalid input from the trainee; ``str(error)`` is fit to show them."""


# --------------------------------------------------------------------------- plumbing


@contextmanager
def _session(db: DbLike) -> Iterator[Session]:
    if isinstance(db, Engine):
        with session_factory(db)() as session:
            yield session
            session.commit()
    else:
        yield db
        db.commit()


@lru_cache(maxsize=1)
def _default_content() -> CoachContent:
    return load_coach_content()


def _content(content: CoachContent | None) -> CoachContent:
    return content or _default_content()


def _trainee(db: Session, user_id: str, clock: Clock) -> Trainee:
    trainee = db.get(Trainee, user_id)
    if trainee is None:
        trainee = Trainee(
            user_id=user_id, created_at=clock.now(), equipment=["none"], faults=[],
            experience="beginner", baseline_pain=0, timezone="UTC", reminders_enabled=True,
            phase="activation", start_short_next=False, reduce_volume_next=False,
        )
        db.add(trainee)
        db.flush()
    return trainee


def _today(trainee: Trainee, clock: Clock) -> date:
    return local_today(clock, trainee.timezone)


def _start_date(trainee: Trainee) -> date:
    return local_date_of(trainee.onboarded_at or trainee.created_at, trainee.timezone)


def _check_score(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise CoachingError(f"{name} must be a whole number from 0 to 10, got {value!r}")
    return value


# --------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class TraineeProfile:
    user_id: str
    consented: bool
    onboarded: bool
    goal: str | None
    equipment: tuple[str, ...]
    experience: str
    baseline_pain: int
    timezone: str
    reminder_time: str | None
    reminders_enabled: bool
    faults: tuple[str, ...]
    phase: str
    slot_levels: dict[str, str]


def _profile(db: Session, t: Trainee) -> TraineeProfile:
    levels = {s.slot: s.exercise_id for s in _slot_rows(db, t.user_id)}
    return TraineeProfile(
        user_id=t.user_id, consented=t.consented_at is not None, onboarded=t.onboarded_at is not None,
        goal=t.goal, equipment=tuple(t.equipment or ()), experience=t.experience,
        baseline_pain=t.baseline_pain, timezone=t.timezone, reminder_time=t.reminder_time,
        reminders_enabled=bool(t.reminders_enabled), faults=tuple(t.faults or ()), phase=t.phase,
        slot_levels=levels,
    )


def _slot_rows(db: Session, user_id: str) -> list[SlotLevel]:
    return list(db.execute(select(SlotLevel).where(SlotLevel.user_id == user_id)).scalars())


def _slot_levels(db: Session, user_id: str) -> dict[str, str]:
    return {s.slot: s.exercise_id for s in _slot_rows(db, user_id)}


def _set_slot_levels(db: Session, trainee: Trainee, levels: dict[str, str], clock: Clock) -> None:
    rows = {s.slot: s for s in _slot_rows(db, trainee.user_id)}
    for slot, exercise_id in levels.items():
        row = rows.get(slot)
        if row is None:
            db.add(SlotLevel(user_id=trainee.user_id, slot=slot, exercise_id=exercise_id, updated_at=clock.now()))
        elif row.exercise_id != exercise_id:
            row.exercise_id = exercise_id
            row.updated_at = clock.now()


def get_or_create_trainee(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK) -> TraineeProfile:
    with _session(db) as s:
        return _profile(s, _trainee(s, user_id, clock))


def save_onboarding(
    db: DbLike,
    user_id: str,
    *,
    goal: str | None,
    equipment: Sequence[str],
    experience: str,
    baseline_pain: int,
    timezone: str = "UTC",
    faults: Sequence[str] = (),
    consent: bool = True,
    clock: Clock = SYSTEM_CLOCK,
    content: CoachContent | None = None,
) -> TraineeProfile:
    """Store the onboarding answers and seat every plan slot at its starting exercise."""
    if experience not in EXPERIENCE_LEVELS:
        raise CoachingError(f"experience must be one of {', '.join(EXPERIENCE_LEVELS)}")
    _check_score("baseline pain", baseline_pain)
    if not is_valid_timezone(timezone):
        raise CoachingError(f"unknown time zone '{timezone}'; use a name such as Europe/Berlin")
    content = _content(content)
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        now = clock.now()
        t.goal = goal
        t.goal_category = goal_category(goal) if goal else None
        t.equipment = sorted(set(equipment) | {"none"})
        t.experience = experience
        t.baseline_pain = baseline_pain
        t.timezone = timezone
        t.faults = list(dict.fromkeys([*(t.faults or ()), *faults]))
        if consent and t.consented_at is None:
            t.consented_at = now
        t.onboarded_at = t.onboarded_at or now
        t.phase = t.phase or "activation"
        t.phase_since = t.phase_since or local_today(clock, timezone)
        _set_slot_levels(s, t, _entry_levels(t, content), clock)
        s.flush()
        return _profile(s, t)


def _entry_levels(t: Trainee, content: CoachContent) -> dict[str, str]:
    prefer = {e for f in (t.faults or ()) if f in content.faults for e in content.faults[f].exercises}
    levels = {}
    for slot in content.rules.slots:
        entry = content.catalogue.entry_exercise(slot.id, t.phase, t.equipment or ["none"], prefer)
        if entry is not None:
            levels[slot.id] = entry.id
    return levels


def record_fault(db: DbLike, user_id: str, fault_id: str, *, clock: Clock = SYSTEM_CLOCK) -> tuple[str, ...]:
    """Remember a compensation pattern the trainee reported; returns all faults reported."""
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        if fault_id not in (t.faults or []):
            t.faults = [*(t.faults or []), fault_id]  # a new list, so the JSON column is saved
        return tuple(t.faults)


# --------------------------------------------------------------------------- the session


@dataclass(frozen=True)
class SessionStep:
    kind: str  # exercise | checkin | finished | empty
    text: str
    session_id: int | None = None
    position: int = 0  # 1-based
    total: int = 0
    exercise_id: str | None = None
    title: str | None = None
    dosage: dict[str, Any] = field(default_factory=dict)
    dosage_text: str | None = None
    cue_text: str | None = None
    why: str | None = None
    estimated_minutes: int = 0
    short_version: bool = False
    cue_id: str | None = None  # the knowledge-base id of the cue shown with this step


def _today_session(db: Session, t: Trainee, clock: Clock) -> PlannedSession | None:
    return db.execute(
        select(PlannedSession).where(
            PlannedSession.user_id == t.user_id, PlannedSession.local_date == _today(t, clock)
        )
    ).scalar_one_or_none()


def _has_checkin(db: Session, session_id: int) -> bool:
    return db.execute(select(CheckIn.id).where(CheckIn.session_id == session_id)).first() is not None


def _step(db: Session, ps: PlannedSession, note: str = "") -> SessionStep:
    prefix = f"{note} " if note else ""
    if ps.completed_at is not None:
        if _has_checkin(db, ps.id):
            return SessionStep("finished", prefix + "Today's session is done. See you tomorrow.", ps.id,
                               total=len(ps.items), why=ps.why, short_version=ps.short_version)
        return SessionStep(
            "checkin",
            prefix + "Session done. Three quick questions: pain right now (0-10), how much your "
            "glutes did the work (0-10), and was it too easy, about right or too hard?",
            ps.id, total=len(ps.items), why=ps.why, short_version=ps.short_version,
        )
    if not ps.items:
        return SessionStep("empty", prefix + ps.why, ps.id, why=ps.why)
    item = ps.items[ps.current_index]
    dose = dosage_text(item.dosage or {})
    text = f"{prefix}{ps.current_index + 1}/{len(ps.items)}: {item.title} — {dose}."
    if item.cue_text:
        text += f" Cue: {item.cue_text}"
    return SessionStep(
        "exercise", text, ps.id, ps.current_index + 1, len(ps.items), item.exercise_id, item.title,
        dict(item.dosage or {}), dose, item.cue_text, ps.why, ps.estimated_minutes, ps.short_version,
        item.cue_id,
    )


def _trainee_state(db: Session, t: Trainee, clock: Clock, short: bool) -> TraineeState:
    today = _today(t, clock)
    pains = db.execute(
        select(PainEntry.value)
        .where(PainEntry.user_id == t.user_id, PainEntry.local_date == today)
        .order_by(PainEntry.at.desc(), PainEntry.id.desc())
    ).scalars().first()
    recent = db.execute(
        select(PlannedSession)
        .where(PlannedSession.user_id == t.user_id, PlannedSession.local_date < today)
        .order_by(PlannedSession.local_date.desc())
        .limit(2)
    ).scalars()
    return TraineeState(
        user_id=t.user_id,
        local_date=today,
        phase=t.phase,
        equipment=frozenset(t.equipment or ("none",)),
        faults=tuple(t.faults or ()),
        slot_levels=_slot_levels(db, t.user_id),
        pain_today=pains,
        recent_sessions=tuple(tuple(i.exercise_id for i in ps.items) for ps in recent),
        short_version=short,
        reduce_volume=bool(t.reduce_volume_next),
        missed_days=missed_in_a_row(done_dates(db, t.user_id), _start_date(t), today),
    )


def start_or_resume_session(
    db: DbLike,
    user_id: str,
    *,
    short_version: bool | None = None,
    clock: Clock = SYSTEM_CLOCK,
    content: CoachContent | None = None,
) -> SessionStep:
    """Today's current step, building today's session first if there is none yet.

    ``short_version`` None takes the 5-minute version only when it was offered after missed days.
    """
    content = _content(content)
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        ps = _today_session(s, t, clock)
        if ps is None:
            short = bool(t.start_short_next) if short_version is None else short_version
            plan = build_session(_trainee_state(s, t, clock, short), content)
            ps = PlannedSession(
                user_id=t.user_id, local_date=plan.local_date, created_at=clock.now(), phase=t.phase,
                short_version=plan.short_version, why=plan.why,
                estimated_minutes=plan.estimated_minutes, status="planned", current_index=0,
            )
            ps.items = [
                SessionItem(position=n, slot=i.slot, exercise_id=i.exercise_id, title=i.title,
                            dosage=dict(i.dosage), cue_id=i.cue_id, cue_text=i.cue_text,
                            minutes=max(1, round(i.seconds / 60)))
                for n, i in enumerate(plan.items)
            ]
            s.add(ps)
            t.start_short_next = False
            t.reduce_volume_next = False
            s.flush()
            note = plan.why
        else:
            note = "Picking up where you left off." if ps.status == "paused" else ""
        if ps.completed_at is None and ps.items:
            ps.status = "in_progress"
            ps.started_at = ps.started_at or clock.now()
        return _step(s, ps, note)


def session_event(
    db: DbLike, user_id: str, event: str, *, clock: Clock = SYSTEM_CLOCK,
    content: CoachContent | None = None, turn_key: str | None = None,
) -> SessionStep:
    """Record what happened to the current exercise and move on; after the last one, the
    check-in. ``hurts`` stops that exercise and says so.

    ``turn_key`` names the incoming message (one Telegram update, or one button under one
    message). The message that last moved the session on is remembered, so the same message
    handled again (redelivered after a crash, or a button pressed twice) shows where the session
    stands instead of advancing it a second time."""
    if event not in SESSION_EVENTS:
        raise CoachingError(f"unknown session event '{event}'; expected one of {', '.join(SESSION_EVENTS)}")
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        ps = _today_session(s, t, clock)
        if ps is not None and turn_key is not None and ps.turn_key == turn_key:
            return _step(s, ps, "")  # already done for this message: the same answer again
        if ps is not None and ps.completed_at is None and ps.items:
            return _advance(s, ps, event, clock, turn_key)
    # No running session: the event starts (or shows) today's.
    return start_or_resume_session(db, user_id, clock=clock, content=content)


def _advance(s: Session, ps: PlannedSession, event: str, clock: Clock, turn_key: str | None = None) -> SessionStep:
    ps.turn_key = turn_key
    item = ps.items[ps.current_index]
    item.result = _EVENT_RESULT[event]
    item.result_at = clock.now()
    note = ""
    if event == "hurts":
        note = "Stop that one; pain is a signal to back off, not to push through. We'll make it easier."
    elif event == "too_hard":
        note = "Noted, I'll take that into account."
    if ps.current_index + 1 >= len(ps.items):
        ps.completed_at = clock.now()
        ps.status = "completed"
    else:
        ps.current_index += 1
        ps.status = "in_progress"
    s.flush()
    return _step(s, ps, note)


@dataclass(frozen=True)
class PauseResult:
    paused: bool  # False: nothing was running, so there is nothing to resume
    text: str


def pause_session(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK) -> PauseResult:
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        ps = _today_session(s, t, clock)
        if ps is None or ps.completed_at is not None or not ps.items:
            return PauseResult(False, "There is no session running right now.")
        ps.status = "paused"
        return PauseResult(
            True, f"Paused at exercise {ps.current_index + 1} of {len(ps.items)}. Say 'resume' when you are ready."
        )


# --------------------------------------------------------------------------- check-in & pain


@dataclass(frozen=True)
class CheckInResult:
    zone: str
    advice: str
    decisions: tuple[Decision, ...]
    text: str


@dataclass(frozen=True)
class PainAnswer:
    value: int
    source: str
    zone: str
    advice: str
    decisions: tuple[Decision, ...]
    text: str


def _history(db: Session, user_id: str, up_to: date | None = None) -> tuple[SessionOutcome, ...]:
    query = (
        select(CheckIn, PlannedSession)
        .join(PlannedSession, PlannedSession.id == CheckIn.session_id)
        .where(CheckIn.user_id == user_id)
        .order_by(PlannedSession.local_date, CheckIn.id)
    )
    if up_to is not None:
        query = query.where(PlannedSession.local_date <= up_to)
    outcomes = []
    for checkin, ps in db.execute(query).all():
        outcomes.append(SessionOutcome(
            local_date=ps.local_date,
            items=tuple(ItemOutcome(i.slot, i.exercise_id, i.result) for i in ps.items),
            pain=checkin.pain, glute_feel=checkin.glute_feel, effort=checkin.effort,
        ))
    return tuple(outcomes)


def _store_decisions(
    db: Session, t: Trainee, decisions: Sequence[Decision], clock: Clock
) -> None:
    changed = [d for d in decisions if d.changes]
    today = _today(t, clock)
    for d in changed:
        db.add(ProgressionChange(
            user_id=t.user_id, kind=d.kind, slot=d.slot, from_id=d.from_id, to_id=d.to_id,
            rule_id=d.rule_id, reason=d.reason, at=clock.now(), local_date=today,
        ))
    levels, phase = apply_decisions(_slot_levels(db, t.user_id), t.phase, changed)
    if phase != t.phase:
        t.phase = phase
        t.phase_since = today
    _set_slot_levels(db, t, levels, clock)


def _reason_lines(decisions: Sequence[Decision]) -> list[str]:
    changed = [d.reason for d in decisions if d.changes]
    if changed:
        return changed
    # One hold is said: the one that explains the most. A session that did not count says why;
    # otherwise the exercise closest to moving up ("2 of 3"), not a skipped one at "0 of 3".
    holds = [d for d in decisions if d.kind == "hold"]
    if not holds:
        return []
    return [max(holds, key=lambda d: (d.rule_id == "hold_not_counted", d.count)).reason]


def _log_pain(db: Session, t: Trainee, value: int, source: str, zone: str, clock: Clock) -> None:
    db.add(PainEntry(user_id=t.user_id, at=clock.now(), local_date=_today(t, clock), value=value,
                     source=source, zone=zone))


def check_in(
    db: DbLike, user_id: str, pain: int, glute_feel: int, effort: str, *,
    clock: Clock = SYSTEM_CLOCK, content: CoachContent | None = None,
) -> CheckInResult:
    """Store the after-session check-in and apply the progression rules to today's session."""
    _check_score("pain", pain)
    _check_score("glute feel", glute_feel)
    if effort not in EFFORTS:
        raise CoachingError(f"effort must be one of {', '.join(EFFORTS)}")
    content = _content(content)
    rules = content.rules
    zone = rules.zone_for(pain)
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        ps = _today_session(s, t, clock)
        if ps is not None and ps.completed_at is None:
            ps.completed_at = clock.now()  # checking in ends the session, unfinished items stay open
            ps.status = "completed"
        existing = (
            s.execute(select(CheckIn).where(CheckIn.session_id == ps.id)).scalar_one_or_none()
            if ps is not None else None
        )
        _log_pain(s, t, pain, "checkin", zone.id, clock)
        decisions: tuple[Decision, ...] = ()
        cheer = ""
        if existing is not None:
            # A corrected answer: keep the figures, but do not run the rules twice for one session.
            existing.pain, existing.glute_feel, existing.effort = pain, glute_feel, effort
        else:
            s.add(CheckIn(user_id=t.user_id, session_id=ps.id if ps else None,
                          local_date=_today(t, clock), at=clock.now(), pain=pain,
                          glute_feel=glute_feel, effort=effort))
            s.flush()
            if ps is not None:
                state = ProgressionState(
                    phase=t.phase, equipment=frozenset(t.equipment or ("none",)),
                    slot_levels=_slot_levels(s, t.user_id), history=_history(s, t.user_id),
                    phase_since=t.phase_since,
                )
                decisions = decide_after_checkin(state, content.catalogue)
                _store_decisions(s, t, decisions, clock)
                # No cheering over pain in the top zone.
                if zone.id != rules.zones[-1].id:
                    cheer = _encouragement(s, t, rules, clock)
        # Today's plan is finished by now: the zone's after-session answer, not "carry on".
        text = " ".join(p for p in [zone.checkin_advice, *_reason_lines(decisions), cheer] if p)
        return CheckInResult(zone.id, zone.checkin_advice, decisions, text)


def _encouragement(s: Session, t: Trainee, rules: ProgressionRules, clock: Clock) -> str:
    """The line after a check-in: a streak milestone or the next of the after-session lines, and
    the count towards the first two weeks' target while they last. Nothing when today's session
    had no exercise done (it does not count as a day)."""
    today = _today(t, clock)
    done = done_dates(s, t.user_id)
    if today not in done:
        return ""
    checkins = s.execute(
        select(func.count()).select_from(CheckIn).where(CheckIn.user_id == t.user_id, CheckIn.session_id.is_not(None))
    ).scalar_one()
    e = rules.encouragement
    first_weeks = first_weeks_done(done, _start_date(t), today, e.first_weeks_days)
    return e.line(checkins, streak(done, today), first_weeks)


def record_pain(
    db: DbLike, user_id: str, value: int, source: str = "report", *,
    clock: Clock = SYSTEM_CLOCK, content: CoachContent | None = None,
) -> PainAnswer:
    """Log a pain figure and answer by the pain-monitoring model. A ``morning`` figure is also
    compared with the previous morning (or the onboarding baseline): worse by the rule's margin
    → the slots of the latest session are made easier."""
    _check_score("pain", value)
    if source not in PAIN_SOURCES:
        raise CoachingError(f"pain source must be one of {', '.join(PAIN_SOURCES)}")
    content = _content(content)
    rules = content.rules
    zone = rules.zone_for(value)
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        today = _today(t, clock)
        decisions: tuple[Decision, ...] = ()
        advice = zone.advice
        if source == "morning":
            reference = s.execute(
                select(PainEntry.value)
                .where(PainEntry.user_id == t.user_id, PainEntry.source == "morning",
                       PainEntry.local_date < today)
                .order_by(PainEntry.local_date.desc(), PainEntry.id.desc())
            ).scalars().first()
            reference = t.baseline_pain if reference is None else reference
            checkin = s.execute(
                select(CheckIn)
                .where(CheckIn.user_id == t.user_id, CheckIn.local_date < today,
                       CheckIn.next_morning_pain.is_(None), CheckIn.session_id.is_not(None))
                .order_by(CheckIn.local_date.desc())
            ).scalars().first()
            if checkin is not None and checkin.local_date == today - timedelta(days=1):
                checkin.next_morning_pain = value
                checkin.next_morning_at = clock.now()
                state = ProgressionState(
                    phase=t.phase, equipment=frozenset(t.equipment or ("none",)),
                    slot_levels=_slot_levels(s, t.user_id),
                    history=_history(s, t.user_id, up_to=checkin.local_date),
                    phase_since=t.phase_since,
                )
                decisions = decide_next_morning(state, value, reference, content.catalogue)
                _store_decisions(s, t, decisions, clock)
            nm = rules.next_morning
            if decisions:
                advice = str(nm.get("worse_advice") or zone.advice)
            elif value <= reference:
                advice = str(nm.get("settled_advice") or zone.advice)
        _log_pain(s, t, value, source, zone.id, clock)
        text = " ".join([advice, *_reason_lines(decisions)])
        return PainAnswer(value, source, zone.id, advice, decisions, text)


# --------------------------------------------------------------------------- first contact


@dataclass(frozen=True)
class FirstContact:
    first_today: bool
    missed_days: int = 0
    missed_yesterday: bool = False
    question: str | None = None  # about missed days
    morning_prompt: str | None = None  # ask for next-morning pain
    decisions: tuple[Decision, ...] = ()
    offer_short_version: bool = False
    text: str = ""


def first_contact_of_day(
    db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK, content: CoachContent | None = None,
) -> FirstContact:
    """Run once per local day on the trainee's first message: ask for next-morning pain after
    yesterday's session, ask about missed days, and deload after a long enough gap."""
    content = _content(content)
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        today = _today(t, clock)
        if t.last_contact_on == today:
            return FirstContact(first_today=False)
        t.last_contact_on = today
        if t.onboarded_at is None:
            return FirstContact(first_today=True)
        done = done_dates(s, t.user_id)
        start = _start_date(t)
        missed = missed_in_a_row(done, start, today)
        morning_prompt = None
        yesterday_checkin = s.execute(
            select(CheckIn.id).where(
                CheckIn.user_id == t.user_id, CheckIn.local_date == today - timedelta(days=1),
                CheckIn.session_id.is_not(None), CheckIn.next_morning_pain.is_(None),
            )
        ).first()
        if yesterday_checkin is not None:
            morning_prompt = "Good morning! How does your lower back feel this morning, from 0 to 10?"
        question = None
        decisions: tuple[Decision, ...] = ()
        offer = False
        if missed:
            last_done = max(done) if done else None
            already = s.execute(
                select(ProgressionChange.id).where(
                    ProgressionChange.user_id == t.user_id, ProgressionChange.kind == "deload",
                    *( [ProgressionChange.local_date > last_done] if last_done else [] ),
                )
            ).first()
            if already is None:
                state = ProgressionState(
                    phase=t.phase, equipment=frozenset(t.equipment or ("none",)),
                    slot_levels=_slot_levels(s, t.user_id), phase_since=t.phase_since,
                )
                outcome = decide_after_missed_days(state, missed, content.catalogue)
                decisions = outcome.decisions
                offer = outcome.offer_short_version
                if decisions:
                    _store_decisions(s, t, decisions, clock)
                    # Sets still go down when no slot could go lower: record that as the
                    # "volume" change, which also marks this gap as handled.
                    if not any(d.changes for d in decisions):
                        d = decisions[0]
                        s.add(ProgressionChange(user_id=t.user_id, kind="deload", slot="volume",
                                                from_id=None, to_id=None, rule_id=d.rule_id,
                                                reason=d.reason, at=clock.now(), local_date=today))
                    t.reduce_volume_next = outcome.reduce_sets_by > 0
                    t.start_short_next = offer
            since = days_since_last(done, today)
            gap = (f"It's been {days_word(since)} since your last session." if since is not None
                   else f"No session yet in the {days_word(missed)} since you started.")
            if offer:
                question = f"{gap} Want the 5-minute version today to get going again, or the full session?"
            else:
                question = f"We missed {days_word(missed)}. Shall we do today's session now?"
        parts = [p for p in (morning_prompt, question) if p]
        parts += [d.reason for d in decisions if d.changes][:1]
        return FirstContact(True, missed, missed >= 1, question, morning_prompt, decisions, offer,
                            " ".join(parts))


# --------------------------------------------------------------------------- progress & reminders


@dataclass(frozen=True)
class ProgressSummary:
    text: str
    series: tuple[SeriesPoint, ...]
    report: AdherenceReport
    recent_changes: tuple[str, ...]
    pain_zones: tuple[tuple[str, int, int], ...] = ()  # (zone id, min, max), lowest first

    def chart_data(self) -> dict:
        """What the chart is drawn from, as plain data (the bot draws it)."""
        return {
            "series": [
                {"local_date": p.local_date.isoformat(), "done": p.done, "pain": p.pain, "glute_feel": p.glute_feel}
                for p in self.series
            ],
            "zones": [{"id": z, "min": lo, "max": hi} for z, lo, hi in self.pain_zones],
            "weeks": [
                {"week_start": w.week_start.isoformat(), "done": w.done, "counted": w.counted} for w in self.report.weeks
            ],
        }


def progress_summary(
    db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK, content: CoachContent | None = None
) -> ProgressSummary:
    zones = tuple((z.id, z.min, z.max) for z in _content(content).rules.zones)
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        report = load_adherence(s, t.user_id, clock)
        changes = tuple(s.execute(
            select(ProgressionChange.reason)
            .where(ProgressionChange.user_id == t.user_id)
            .order_by(ProgressionChange.at.desc(), ProgressionChange.id.desc())
            .limit(3)
        ).scalars())
        text = report.summary
        first_weeks = _first_weeks_text(t, report, _content(content).rules)
        if first_weeks:
            text += f" {first_weeks}"
        if changes:
            text += f" Latest change: {changes[0]}"
        return ProgressSummary(text, report.series, report, changes, zones)


def _first_weeks_text(t: Trainee, report: AdherenceReport, rules: ProgressionRules) -> str:
    """Where the person stands on the first two weeks' target, while those weeks last."""
    e = rules.encouragement
    start = _start_date(t)
    done_days = {p.local_date for p in report.series if p.done}
    done = first_weeks_done(done_days, start, report.today, e.first_weeks_days)
    if done is None or not e.first_weeks_target:
        return ""
    if done >= e.first_weeks_target:
        return f"First two weeks: {done} sessions, the target of {e.first_weeks_target} is reached."
    last_day = start + timedelta(days=e.first_weeks_days - 1)
    left = (last_day - report.today).days + (0 if report.today in done_days else 1)
    return (f"First two weeks: {done} of {e.first_weeks_target} sessions, "
            f"{days_word(left)} left to get there.")


@dataclass(frozen=True)
class ReminderSettings:
    reminder_time: str | None
    timezone: str
    enabled: bool
    text: str


def _reminder(t: Trainee, text: str) -> ReminderSettings:
    return ReminderSettings(t.reminder_time, t.timezone, bool(t.reminders_enabled), text)


def set_reminder(
    db: DbLike, user_id: str, hhmm: str, tz: str | None = None, *, clock: Clock = SYSTEM_CLOCK
) -> ReminderSettings:
    """Set the daily reminder time (local, "HH:MM") and optionally the zone; turns reminders on."""
    try:
        at = parse_hhmm(hhmm)
    except ValueError as exc:
        raise CoachingError(str(exc)) from None
    if tz is not None and not is_valid_timezone(tz):
        raise CoachingError(f"unknown time zone '{tz}'; use a name such as Europe/Berlin")
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        t.reminder_time = at.strftime("%H:%M")
        if tz is not None:
            t.timezone = tz
        t.reminders_enabled = True
        return _reminder(t, f"I'll remind you every day at {t.reminder_time} ({t.timezone}).")


def pause_reminders(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK) -> ReminderSettings:
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        t.reminders_enabled = False
        return _reminder(t, "Reminders are paused. Say 'resume reminders' to turn them back on.")


def resume_reminders(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK) -> ReminderSettings:
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        t.reminders_enabled = True
        when = f" at {t.reminder_time}" if t.reminder_time else "; set a time with 'remind me at 07:30'"
        return _reminder(t, f"Reminders are back on{when}.")


# --------------------------------------------------------------------------- the primer before a workout


def primer_person(db: DbLike, user_id: str, kb: Any, *, clock: Clock = SYSTEM_CLOCK) -> "Person | None":
    """Who the primer is for: level, equipment and own faults of a set-up trainee; None when
    the person has not been set up (the primer is then the default one)."""
    from knowledge.primer import Person, person_level

    with _session(db) as s:
        t = s.get(Trainee, user_id)
        if t is None or t.onboarded_at is None:
            return None
        return Person(level=person_level(kb, _slot_levels(s, user_id)),
                      equipment=frozenset(t.equipment or ()) | {"none"}, faults=tuple(t.faults or ()))


def record_primer(db: DbLike, user_id: str, primer: "Primer", *, clock: Clock = SYSTEM_CLOCK) -> int:
    """Store the primer given (the day's record); returns its id."""
    from knowledge.primer_models import PrimerRecord

    with _session(db) as s:
        t = s.get(Trainee, user_id)
        record = PrimerRecord(
            user_id=user_id, local_date=local_today(clock, t.timezone if t else "UTC"), created_at=clock.now(),
            activity_id=primer.activity_id, exercises=[d.exercise_id for d in primer.drills], cues=list(primer.cues),
            minutes=int(round(primer.minutes)),
        )
        s.add(record)
        s.flush()
        return int(record.id)


def _todays_primer(s: Session, user_id: str, clock: Clock) -> Any:
    from knowledge.primer_models import PrimerRecord

    t = s.get(Trainee, user_id)
    today = local_today(clock, t.timezone if t else "UTC")
    return s.execute(select(PrimerRecord).where(PrimerRecord.user_id == user_id, PrimerRecord.local_date == today)
                     .order_by(PrimerRecord.id.desc()).limit(1)).scalar_one_or_none()


def primer_done(db: DbLike, user_id: str, felt: str | None, *, clock: Clock = SYSTEM_CLOCK) -> str | None:
    """The person did today's primer drills and says where they felt them (one of ``FELT``, or
    None when they did not say); returns the primer's activity id, or None when there is no
    primer today to attach it to."""
    from knowledge.primer_models import FELT

    if felt is not None and felt not in FELT:
        raise CoachingError(f"felt must be one of {', '.join(FELT)}")
    with _session(db) as s:
        record = _todays_primer(s, user_id, clock)
        if record is None:
            return None
        record.drills_done = True
        record.felt = felt
        record.followed_up_at = clock.now()
        return str(record.activity_id)


def primer_fault(db: DbLike, user_id: str, fault_id: str, *, clock: Clock = SYSTEM_CLOCK) -> str | None:
    """A fault reported on a day with a primer goes with that day's record (how the lift went);
    returns the primer's activity id, or None when there was no primer today."""
    with _session(db) as s:
        record = _todays_primer(s, user_id, clock)
        if record is None:
            return None
        record.fault_id = fault_id
        record.followed_up_at = clock.now()
        return str(record.activity_id)
