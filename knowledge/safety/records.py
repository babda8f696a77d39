"""What the coach records about red flags: each stop (which flag, when; never the message text),
each question the screen asked and its answer, and the person's return after a doctor's check.

While a stop is open, coaching is paused in every process: the front end, the actions and the
reminder scheduler all ask :func:`open_stop`. The one question waiting for an answer (a
possible red flag, or "has a doctor checked you?") is kept in ``safety_checks`` together with the
message that raised it, so that a "no" resumes the conversation exactly where it was; that text
is erased as soon as the question is answered, and by /delete.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Column, Integer, String, Text, select
from sqlalchemy.orm import Session

from knowledge.db import Base
from knowledge.trainee_models import UTCDateTime

STOP, CHECK_ASKED, CHECK_YES, CHECK_NO, CHECK_UNANSWERED = "stop", "check_asked", "check_yes", "check_no", "check_unanswered"
CLEARED, CLEARANCE_DECLINED = "cleared", "clearance_declined"
EVENT_KINDS = (STOP, CHECK_ASKED, CHECK_YES, CHECK_NO, CHECK_UNANSWERED, CLEARED, CLEARANCE_DECLINED)
RED_FLAG_QUESTION, CLEARANCE_QUESTION = "red_flag", "clearance"


class SafetyEvent(Base):
    """One step of the safety path for one person (append-only)."""

    __tablename__ = "safety_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), nullable=False, index=True)
    kind = Column(String(20), nullable=False)  # one of EVENT_KINDS
    flag_id = Column(String(64), nullable=True)  # the red flag's knowledge-base id
    at = Column(UTCDateTime, nullable=False)


class SafetyCheck(Base):
    """The question the screen is waiting for an answer to (at most one per person)."""

    __tablename__ = "safety_checks"

    user_id = Column(String(128), primary_key=True)
    kind = Column(String(16), nullable=False)  # red_flag | clearance
    flag_id = Column(String(64), nullable=True)
    asked_at = Column(UTCDateTime, nullable=False)
    held_text = Column(Text, nullable=True)  # the message that raised a red_flag question
    misses = Column(Integer, nullable=False, default=0)  # replies that were neither yes nor no


@dataclass(frozen=True)
class Stop:
    flag_id: str | None
    at: datetime


def _add(db: Session, user_id: str, kind: str, flag_id: str | None, at: datetime) -> None:
    db.add(SafetyEvent(user_id=user_id, kind=kind, flag_id=flag_id, at=at))


def record_stop(db: Session, user_id: str, flag_id: str | None, at: datetime) -> None:
    """A red flag stopped coaching (the caller commits; an error here must reach the caller)."""
    _add(db, user_id, STOP, flag_id, at)
    db.query(SafetyCheck).filter(SafetyCheck.user_id == user_id).delete()


def open_stop(db: Session, user_id: str) -> Stop | None:
    """The stop that pauses coaching for ``user_id``, or None: the latest stop with no
    ``cleared`` after it."""
    last = db.execute(
        select(SafetyEvent.kind, SafetyEvent.flag_id, SafetyEvent.at)
        .where(SafetyEvent.user_id == user_id, SafetyEvent.kind.in_((STOP, CLEARED)))
        .order_by(SafetyEvent.id.desc()).limit(1)
    ).first()
    if last is None or last.kind != STOP:
        return None
    return Stop(last.flag_id, last.at)


def pending_check(db: Session, user_id: str) -> SafetyCheck | None:
    return db.get(SafetyCheck, user_id)


def ask(db: Session, user_id: str, kind: str, flag_id: str | None, held_text: str | None, at: datetime) -> None:
    """Remember the question just asked (replacing any earlier one)."""
    db.query(SafetyCheck).filter(SafetyCheck.user_id == user_id).delete()
    db.add(SafetyCheck(user_id=user_id, kind=kind, flag_id=flag_id, asked_at=at, held_text=held_text, misses=0))
    _add(db, user_id, CHECK_ASKED, flag_id if kind == RED_FLAG_QUESTION else None, at)


def answered(db: Session, check: SafetyCheck, answer: bool | None, at: datetime) -> None:
    """The question was answered (True yes, False no, None given up on): it and its held text go."""
    if check.kind == RED_FLAG_QUESTION:
        kind = CHECK_YES if answer else CHECK_NO if answer is False else CHECK_UNANSWERED
    else:
        kind = CLEARED if answer else CLEARANCE_DECLINED
    _add(db, check.user_id, kind, check.flag_id, at)
    db.delete(check)


def missed(db: Session, check: SafetyCheck) -> int:
    check.misses = (check.misses or 0) + 1
    return check.misses


def paused_user_clause(user_id_column: object) -> object:
    """A SQL condition: ``user_id_column`` belongs to someone with an open stop (a stop with no
    ``cleared`` after it). For queries that must leave paused people out, e.g. reminders."""
    from sqlalchemy import and_, exists
    from sqlalchemy.orm import aliased

    later = aliased(SafetyEvent)
    open_stops = select(SafetyEvent.user_id).where(
        SafetyEvent.kind == STOP,
        ~exists().where(and_(later.user_id == SafetyEvent.user_id, later.kind == CLEARED, later.id > SafetyEvent.id)),
    )
    return user_id_column.in_(open_stops)  # type: ignore[attr-defined]


FAILURE_MARKER = "safety-record-failed.json"


def failure_marker_path() -> "Path":
    """Where a failed stop record is marked for ``python -m bot health`` (one file per var/)."""
    from knowledge.db import VAR_DIR

    return VAR_DIR / FAILURE_MARKER


def mark_record_failure(path: "Path", flag_id: str | None, error: BaseException, correlation_id: str | None) -> None:
    """Leave the marker that turns the health check red: when, which flag, the correlation id and
    the error's type (never the message). Raises OSError if even that cannot be written."""
    import json
    from datetime import timezone as tz

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "at": datetime.now(tz.utc).isoformat(), "flag_id": flag_id,
        "correlation_id": correlation_id, "error": type(error).__name__,
    }), encoding="utf-8")
