"""Daily reminders: when each trainee's reminder is due, and who sends it (exactly once).

The scheduling rule is pure (:func:`due_instant`); the rest works on the ``reminder_deliveries``
log (:mod:`knowledge.reminder_models`), whose unique (user, local date, kind) key is the
idempotency key. A worker *claims* due rows under a lease, sends them, then marks them sent or
failed; a crashed worker's lease expires and its rows become claimable again.

Claiming is safe with several workers: on PostgreSQL with ``SELECT … FOR UPDATE SKIP LOCKED``,
on SQLite inside a ``BEGIN IMMEDIATE`` transaction (one writer at a time).
Every function takes the current instant (``now``, timezone-aware) instead of reading a clock.

A scheduler round records the due rows once (:func:`record_due`, one pass over the trainees),
then claims batch after batch (``claim_due(..., record=False)``: an indexed query, no re-scan)
and marks each batch's sent rows in one statement (:func:`mark_sent_many`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from knowledge.clock import parse_hhmm, zone
from knowledge.db import Base, in_chunks
from knowledge.reminder_models import (
    CLAIMED,
    FAILED,
    KIND_DAILY,
    KIND_SNOOZE,
    SCHEDULED,
    SENT,
    SKIPPED,
    ReminderDelivery,
)

DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_MAX_ATTEMPTS = 8
# After this many failures the row stays "failed" for good (kept, visible, not retried forever).


@dataclass(frozen=True)
class DueReminder:
    """A reminder whose time has come and which has not been sent yet."""

    user_id: str
    local_date: date
    kind: str
    due_at: datetime  # aware UTC


@dataclass(frozen=True)
class ClaimedReminder:
    """A delivery row a worker now holds; send it, then :func:`mark_sent` or :func:`mark_failed`."""

    delivery_id: int
    user_id: str
    local_date: date
    kind: str
    attempts: int


# --- the scheduling rule (pure) -------------------------------------------------------------


def due_instant(local_day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which a reminder set for ``at`` fires on ``local_day`` in ``tz``.

    A wall time that does not exist (skipped by a spring-forward change) fires at the first
    valid instant after it, i.e. the moment of the change; a wall time that occurs twice (the
    autumn change) fires at its first occurrence.
    """
    wall = datetime.combine(local_day, at)
    first = wall.replace(tzinfo=tz, fold=0)
    as_utc = first.astimezone(timezone.utc)
    if as_utc.astimezone(tz).replace(tzinfo=None) == wall:
        return as_utc  # exists (fold=0 is the earlier of two occurrences)
    # In a gap, fold=0 maps with the offset before the change and fold=1 with the one after:
    # the change itself lies between the two; find it (changes fall on whole seconds).
    low = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    high = as_utc
    if low > high:
        low, high = high, low
    after_offset = wall.replace(tzinfo=tz, fold=1).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def daily_due(
    now: datetime, tz_name: str | None, reminder_time: str | None
) -> tuple[date, datetime] | None:
    """(local date, due instant) of today's daily reminder if it is due at ``now``, else None."""
    if not reminder_time:
        return None
    try:
        at = parse_hhmm(reminder_time)
    except ValueError:
        return None
    tz = zone(tz_name)
    today = _aware(now).astimezone(tz).date()
    due = due_instant(today, at, tz)
    return (today, due) if due <= now else None


# --- queries --------------------------------------------------------------------------------


def trainees_table() -> Table:
    """The ``trainees`` table (owned by :mod:`knowledge.trainee_models`), looked up by name."""
    import knowledge.models  # noqa: F401  (registers every table)

    try:
        return Base.metadata.tables["trainees"]
    except KeyError as exc:  # pragma: no cover - only before the trainee model exists
        raise RuntimeError("the trainees table is not defined (knowledge.trainee_models)") from exc


def due_reminders(session: Session, now: datetime) -> list[DueReminder]:
    """Every reminder due at ``now`` that is neither sent nor skipped nor held under a live lease:
    today's daily reminder of trainees with reminders on, and snoozed reminders whose hour came."""
    now = _aware(now)
    trainees = trainees_table()
    daily = _daily_due(session, now)
    if not daily:
        settled: set[tuple[str, date]] = set()
    else:
        days = {key[1] for key in daily}
        settled = {
            (user_id, day)
            for user_id, day, state, claimed_at in session.execute(
                select(
                    ReminderDelivery.user_id,
                    ReminderDelivery.local_date,
                    ReminderDelivery.state,
                    ReminderDelivery.claimed_at,
                ).where(ReminderDelivery.kind == KIND_DAILY, ReminderDelivery.local_date.in_(days))
            )
            if not _claimable_state(state, claimed_at, now)
        }
    result = [r for key, r in daily.items() if key not in settled]
    enabled = select(trainees.c.user_id).where(trainees.c.reminders_enabled.is_(True))
    snoozed = session.execute(
        select(ReminderDelivery).where(
            ReminderDelivery.kind == KIND_SNOOZE,
            ReminderDelivery.due_at <= _naive(now),
            ReminderDelivery.user_id.in_(enabled),
            _claimable_clause(now, DEFAULT_MAX_ATTEMPTS),
        )
    ).scalars()
    result += [
        DueReminder(row.user_id, row.local_date, row.kind, _from_db(row.due_at))
        for row in snoozed
    ]
    return sorted(result, key=lambda r: (r.due_at, r.user_id))


def record_due(session: Session, now: datetime) -> int:
    """Create the delivery rows of every daily reminder due at ``now`` that has none yet (one pass
    over the trainees; rows that exist, whatever their state, are left alone) and commit.
    Returns how many rows were missing. Safe with concurrent workers: the idempotency key
    turns a row another worker inserted meanwhile into a no-op."""
    now = _aware(now)
    daily = _daily_due(session, now)
    existing: set[tuple[str, date]] = set()
    if daily:
        days = {key[1] for key in daily}
        existing = {
            (user_id, day)
            for user_id, day in session.execute(
                select(ReminderDelivery.user_id, ReminderDelivery.local_date).where(
                    ReminderDelivery.kind == KIND_DAILY, ReminderDelivery.local_date.in_(days)
                )
            )
        }
    missing = [r for key, r in daily.items() if key not in existing]
    _record_due(session, missing)
    return len(missing)


def claim_due(
    session: Session,
    now: datetime,
    worker_id: str,
    limit: int = 100,
    *,
    lease: timedelta = DEFAULT_LEASE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    record: bool = True,
) -> list[ClaimedReminder]:
    """Claim up to ``limit`` due reminders for ``worker_id`` and commit; safe with concurrent
    workers. Rows whose lease expired (their worker crashed) are claimed again.

    ``record``: first create the rows of reminders that fell due (:func:`record_due`, a pass over
    every trainee). A scheduler does that once per round and then claims with ``record=False``."""
    now = _aware(now)
    if record:
        record_due(session, now)
    trainees = trainees_table()
    enabled = select(trainees.c.user_id).where(trainees.c.reminders_enabled.is_(True))
    _skip_paused(session, now)
    query = (
        select(
            ReminderDelivery.id,
            ReminderDelivery.user_id,
            ReminderDelivery.local_date,
            ReminderDelivery.kind,
            ReminderDelivery.attempts,
        )
        .where(
            ReminderDelivery.due_at <= _naive(now),
            _claimable_clause(now, max_attempts, lease),
            ReminderDelivery.user_id.in_(enabled),
        )
        .order_by(ReminderDelivery.due_at, ReminderDelivery.id)
        .limit(limit)
    )
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        _begin_immediate(session)
    elif dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=ReminderDelivery)
    else:
        query = query.with_for_update()
    rows = session.execute(query).all()
    if rows:
        # The rows are locked (FOR UPDATE, or SQLite's write lock): one statement claims them all.
        session.execute(
            update(ReminderDelivery)
            .where(ReminderDelivery.id.in_([row.id for row in rows]))
            .values(
                state=CLAIMED,
                claimed_by=worker_id,
                claimed_at=_naive(now),
                attempts=func.coalesce(ReminderDelivery.attempts, 0) + 1,
            )
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return [
        ClaimedReminder(row.id, row.user_id, row.local_date, row.kind, (row.attempts or 0) + 1)
        for row in rows
    ]


def _skip_paused(session: Session, now: datetime) -> None:
    """Due reminders of people whose coaching a red flag paused are skipped, never sent (not
    kept for later either: a reminder from the day of the stop means nothing after a doctor's
    check). Part of the claim's transaction, so no worker can claim one in between."""
    from knowledge.safety.records import paused_user_clause

    session.execute(
        update(ReminderDelivery)
        .where(
            ReminderDelivery.due_at <= _naive(now),
            ReminderDelivery.state.in_((SCHEDULED, FAILED)),
            paused_user_clause(ReminderDelivery.user_id),
        )
        .values(state=SKIPPED, last_error="coaching paused after a red flag")
        .execution_options(synchronize_session=False)
    )


def mark_sent(session: Session, delivery_id: int, worker_id: str, now: datetime) -> bool:
    """Record a successful send; False if this worker no longer held the row."""
    return mark_sent_many(session, [delivery_id], worker_id, now) == 1


def mark_sent_many(
    session: Session, delivery_ids: Iterable[int], worker_id: str, now: datetime
) -> int:
    """Record the successful sends of a batch in one UPDATE (and one commit); returns how many
    rows this worker still held (a row whose lease ran out and was taken over is not touched)."""
    ids = list(delivery_ids)
    marked = 0
    for chunk in in_chunks(ids):
        result = session.execute(
            update(ReminderDelivery)
            .where(
                ReminderDelivery.id.in_(chunk),
                ReminderDelivery.claimed_by == worker_id,
            )
            .values(
                state=SENT, sent_at=_naive(now), claimed_by=None, claimed_at=None, last_error=None
            )
            .execution_options(synchronize_session=False)
        )
        marked += result.rowcount
    if ids:
        session.commit()
    return marked


def mark_failed(
    session: Session,
    delivery_id: int,
    worker_id: str,
    now: datetime,
    error: str,
    *,
    retry_in: timedelta = timedelta(minutes=1),
    permanent: bool = False,
) -> bool:
    """Record a failed send. The row goes back to the pool after ``retry_in``; a ``permanent``
    failure (e.g. the chat no longer exists) is recorded as skipped and never retried."""
    values: dict[str, Any] = {
        "state": SKIPPED if permanent else FAILED,
        "claimed_by": None,
        "claimed_at": None,
        "retry_at": None if permanent else _naive(_aware(now) + retry_in),
        "last_error": error[:200],
    }
    result = session.execute(
        update(ReminderDelivery)
        .where(ReminderDelivery.id == delivery_id, ReminderDelivery.claimed_by == worker_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def release(session: Session, worker_id: str, delivery_ids: Iterable[int] | None = None) -> int:
    """Give back rows claimed by ``worker_id`` and not sent (on shutdown); returns how many.
    The claim did not count as an attempt."""
    query = update(ReminderDelivery).where(
        ReminderDelivery.claimed_by == worker_id, ReminderDelivery.state == CLAIMED
    )
    if delivery_ids is not None:
        query = query.where(ReminderDelivery.id.in_(list(delivery_ids)))
    result = session.execute(
        query.values(
            state=SCHEDULED,
            claimed_by=None,
            claimed_at=None,
            attempts=ReminderDelivery.attempts - 1,
        ).execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount


def snooze(session: Session, user_id: str, now: datetime, minutes: int = 60) -> datetime:
    """Remind ``user_id`` once more in ``minutes``; asking again moves that one reminder
    (it never makes two). Returns the new due instant (UTC)."""
    now = _aware(now)
    due = now + timedelta(minutes=minutes)
    local_day = _local_today(session, user_id, now)
    _upsert(session, user_id, local_day, KIND_SNOOZE, due_at=due, state=SCHEDULED, reset=True)
    session.commit()
    return due


def skip_today(session: Session, user_id: str, now: datetime) -> None:
    """No more reminders for ``user_id`` today (daily and snoozed); tomorrow as usual."""
    now = _aware(now)
    local_day = _local_today(session, user_id, now)
    for kind in (KIND_DAILY, KIND_SNOOZE):
        _upsert(session, user_id, local_day, kind, due_at=now, state=SKIPPED, reset=False)
    session.commit()


def disable_for_user(session: Session, user_id: str) -> None:
    """Turn reminders off for ``user_id`` (e.g. Telegram answered 403: the user blocked the bot)
    and drop whatever was still waiting to be sent."""
    trainees = trainees_table()
    session.execute(
        update(trainees).where(trainees.c.user_id == user_id).values(reminders_enabled=False)
    )
    session.execute(
        update(ReminderDelivery)
        .where(
            ReminderDelivery.user_id == user_id,
            ReminderDelivery.state.in_((SCHEDULED, FAILED, CLAIMED)),
        )
        .values(state=SKIPPED, claimed_by=None, claimed_at=None, last_error="reminders disabled")
        .execution_options(synchronize_session=False)
    )
    session.commit()


def delete_for_user(session: Session, user_id: str) -> int:
    """Erase the delivery log of ``user_id`` (for data deletion); the caller commits."""
    result = session.execute(
        delete(ReminderDelivery)
        .where(ReminderDelivery.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- helpers --------------------------------------------------------------------------------


def _daily_due(session: Session, now: datetime) -> dict[tuple[str, date], DueReminder]:
    """Today's daily reminder of every trainee with reminders on whose time has come, by
    (user, local date): one pass over the trainees."""
    trainees = trainees_table()
    rows = session.execute(
        select(trainees.c.user_id, trainees.c.timezone, trainees.c.reminder_time).where(
            trainees.c.reminders_enabled.is_(True), trainees.c.reminder_time.isnot(None)
        )
    ).all()
    daily: dict[tuple[str, date], DueReminder] = {}
    for user_id, tz_name, reminder_time in rows:
        due = daily_due(now, tz_name, reminder_time)
        if due is not None:
            daily[(user_id, due[0])] = DueReminder(user_id, due[0], KIND_DAILY, due[1])
    return daily


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("reminders need timezone-aware datetimes")
    return at.astimezone(timezone.utc)


def _from_db(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def _naive(at: datetime) -> datetime:
    return _aware(at).replace(tzinfo=None)


def _claimable_state(state: str, claimed_at: datetime | None, now: datetime) -> bool:
    if state in (SCHEDULED, FAILED):
        return True
    if state == CLAIMED:
        return claimed_at is None or claimed_at + DEFAULT_LEASE <= _naive(now)
    return False


def _claimable_clause(now: datetime, max_attempts: int, lease: timedelta = DEFAULT_LEASE) -> Any:
    naive_now = _naive(now)
    return or_(
        ReminderDelivery.state == SCHEDULED,
        and_(
            ReminderDelivery.state == FAILED,
            ReminderDelivery.attempts < max_attempts,
            or_(ReminderDelivery.retry_at.is_(None), ReminderDelivery.retry_at <= naive_now),
        ),
        # A lease that ran out: its worker died mid-send.
        and_(ReminderDelivery.state == CLAIMED, ReminderDelivery.claimed_at <= naive_now - lease),
    )


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(ReminderDelivery).on_conflict_do_nothing(
            index_elements=["user_id", "local_date", "kind"]
        )
    if dialect == "sqlite":
        return sqlite.insert(ReminderDelivery).on_conflict_do_nothing(
            index_elements=["user_id", "local_date", "kind"]
        )
    raise NotImplementedError(f"reminders do not support the {dialect} database")


def _record_due(session: Session, due: list[DueReminder]) -> None:
    """Create the missing delivery rows of due daily reminders (in their own short transaction,
    so concurrent workers do not hold each other's inserts while claiming)."""
    rows = [
        {
            "user_id": r.user_id,
            "local_date": r.local_date,
            "kind": r.kind,
            "state": SCHEDULED,
            "due_at": _naive(r.due_at),
            "attempts": 0,
        }
        for r in sorted(due, key=lambda r: (r.user_id, r.local_date, r.kind))  # one lock order
        if r.kind == KIND_DAILY
    ]
    for chunk in in_chunks(rows):
        session.execute(_insert_ignoring_duplicates(session), chunk)
    session.commit()


def _begin_immediate(session: Session) -> None:
    """Start the session's transaction as SQLite's BEGIN IMMEDIATE: the write lock is taken
    before reading, so two workers cannot claim the same row."""
    session.commit()  # the driver must not be inside a transaction already
    connection = session.connection()
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _local_today(session: Session, user_id: str, now: datetime) -> date:
    trainees = trainees_table()
    tz_name = session.execute(
        select(trainees.c.timezone).where(trainees.c.user_id == user_id)
    ).scalar_one_or_none()
    return now.astimezone(zone(tz_name)).date()


def _upsert(
    session: Session,
    user_id: str,
    local_day: date,
    kind: str,
    *,
    due_at: datetime,
    state: str,
    reset: bool,
) -> None:
    """Create or update one delivery row. ``reset`` re-arms a row whatever its state; otherwise a
    row already sent is left as it is."""
    session.execute(
        _insert_ignoring_duplicates(session).values(
            user_id=user_id,
            local_date=local_day,
            kind=kind,
            state=state,
            due_at=_naive(due_at),
            attempts=0,
        )
    )
    key = and_(
        ReminderDelivery.user_id == user_id,
        ReminderDelivery.local_date == local_day,
        ReminderDelivery.kind == kind,
    )
    query = update(ReminderDelivery).where(key)
    if not reset:
        query = query.where(ReminderDelivery.state != SENT)
    values: dict[str, Any] = {"state": state, "claimed_by": None, "claimed_at": None}
    if reset:
        values.update(due_at=_naive(due_at), attempts=0, retry_at=None, sent_at=None)
    session.execute(query.values(**values).execution_options(synchronize_session=False))
