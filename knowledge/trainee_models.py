"""What the coach remembers about each trainee: profile, plan, sessions, check-ins, pain, changes.

Everything that matters between two messages lives here (nothing only in memory). Instants are
stored as UTC; local dates (the trainee's calendar day) are stored as dates so that "today",
streaks and missed days do not depend on the server's zone. Works on SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship
from sqlalchemy.types import TypeDecorator

from knowledge.db import Base

EXPERIENCE_LEVELS = ("beginner", "some", "experienced")
PHASES = ("activation", "integration", "loading")
ITEM_RESULTS = ("done", "skipped", "too_hard", "hurt")
EFFORTS = ("too_easy", "about_right", "too_hard")
PAIN_SOURCES = ("checkin", "report", "morning")
SESSION_STATUSES = ("planned", "in_progress", "paused", "completed")


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which drops zones) too."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store timezone-aware datetimes only")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Trainee(Base):
    __tablename__ = "trainees"

    user_id = Column(String(128), primary_key=True)  # the channel's sender id, e.g. a chat id
    created_at = Column(UTCDateTime, nullable=False)
    consented_at = Column(UTCDateTime, nullable=True)
    onboarded_at = Column(UTCDateTime, nullable=True)
    goal = Column(Text, nullable=True)  # the person's own words
    goal_category = Column(String(32), nullable=True)  # knowledge.parsing.GOAL_CATEGORIES
    equipment = Column(JSON, nullable=False, default=list)  # equipment ids, e.g. ["none", "band"]
    experience = Column(String(16), nullable=False, default="beginner")
    baseline_pain = Column(Integer, nullable=False, default=0)  # 0-10 at onboarding
    timezone = Column(String(64), nullable=False, default="UTC")  # IANA name
    reminder_time = Column(String(5), nullable=True)  # "HH:MM" local
    reminders_enabled = Column(Boolean, nullable=False, default=True)
    faults = Column(JSON, nullable=False, default=list)  # fault ids reported, first reported first
    phase = Column(String(16), nullable=False, default="activation")
    phase_since = Column(Date, nullable=True)  # local date the current phase started
    last_contact_on = Column(Date, nullable=True)  # local date of the latest first-contact check
    start_short_next = Column(Boolean, nullable=False, default=False)  # offered 5-minute version
    reduce_volume_next = Column(Boolean, nullable=False, default=False)  # deload: one set fewer
    # Up to three everyday tasks the person rates each week (the Patient-Specific Functional
    # Scale); None until asked, [] when the person chose to name none.
    psfs_tasks = Column(JSON, nullable=True)

    slot_levels = relationship("SlotLevel", back_populates="trainee", cascade="all, delete-orphan")


class SlotLevel(Base):
    """Which exercise currently fills one slot of the trainee's plan."""

    __tablename__ = "trainee_slot_levels"
    __table_args__ = (UniqueConstraint("user_id", "slot", name="uq_slot_level_user_slot"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), ForeignKey("trainees.user_id", ondelete="CASCADE"), nullable=False)
    slot = Column(String(64), nullable=False)
    exercise_id = Column(String(128), nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    trainee = relationship("Trainee", back_populates="slot_levels")


class PlannedSession(Base):
    """Today's session for one trainee (one per local date)."""

    __tablename__ = "planned_sessions"
    __table_args__ = (UniqueConstraint("user_id", "local_date", name="uq_planned_session_day"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), ForeignKey("trainees.user_id", ondelete="CASCADE"), nullable=False)
    local_date = Column(Date, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    phase = Column(String(16), nullable=False)
    short_version = Column(Boolean, nullable=False, default=False)
    why = Column(Text, nullable=False, default="")
    estimated_minutes = Column(Integer, nullable=False, default=0)
    status = Column(String(16), nullable=False, default="planned")
    current_index = Column(Integer, nullable=False, default=0)
    started_at = Column(UTCDateTime, nullable=True)
    completed_at = Column(UTCDateTime, nullable=True)
    # The incoming message that last moved this session on (see knowledge.coaching.session_event):
    # the same message handled again after a crash, or the same button pressed twice, finds its
    # own key here and does not advance a second time.
    turn_key = Column(String(64), nullable=True)

    items = relationship(
        "SessionItem",
        back_populates="session",
        order_by="SessionItem.position",
        cascade="all, delete-orphan",
    )


class SessionItem(Base):
    """One exercise of a planned session and what happened to it."""

    __tablename__ = "session_items"
    __table_args__ = (UniqueConstraint("session_id", "position", name="uq_session_item_position"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    session_id = Column(
        Integer, ForeignKey("planned_sessions.id", ondelete="CASCADE"), nullable=False
    )
    position = Column(Integer, nullable=False)
    slot = Column(String(64), nullable=False)
    exercise_id = Column(String(128), nullable=False)
    title = Column(String(200), nullable=False)
    dosage = Column(JSON, nullable=False, default=dict)
    cue_id = Column(String(128), nullable=True)
    cue_text = Column(Text, nullable=True)
    minutes = Column(Integer, nullable=False, default=0)
    result = Column(String(16), nullable=True)  # done | skipped | too_hard | hurt
    result_at = Column(UTCDateTime, nullable=True)

    session = relationship("PlannedSession", back_populates="items")


class CheckIn(Base):
    """How a session went, asked right after it; next-morning pain is filled in the next day."""

    __tablename__ = "checkins"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), ForeignKey("trainees.user_id", ondelete="CASCADE"), nullable=False)
    session_id = Column(
        Integer, ForeignKey("planned_sessions.id", ondelete="SET NULL"), nullable=True
    )
    local_date = Column(Date, nullable=False)
    at = Column(UTCDateTime, nullable=False)
    pain = Column(Integer, nullable=False)  # 0-10 during / right after the session
    glute_feel = Column(Integer, nullable=False)  # 0-10: how much the glutes did the work
    effort = Column(String(16), nullable=False)  # too_easy | about_right | too_hard
    next_morning_pain = Column(Integer, nullable=True)
    next_morning_at = Column(UTCDateTime, nullable=True)


class PainEntry(Base):
    """Every pain figure the trainee gives, whatever asked for it."""

    __tablename__ = "pain_log"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), ForeignKey("trainees.user_id", ondelete="CASCADE"), nullable=False)
    at = Column(UTCDateTime, nullable=False)
    local_date = Column(Date, nullable=False)
    value = Column(Integer, nullable=False)
    source = Column(String(16), nullable=False)  # checkin | report | morning
    zone = Column(String(32), nullable=True)  # pain-monitoring zone id at the time


class ProgressionChange(Base):
    """A change of exercise in a slot (or of phase, slot "phase"), with the rule that made it."""

    __tablename__ = "progression_changes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), ForeignKey("trainees.user_id", ondelete="CASCADE"), nullable=False)
    kind = Column(String(16), nullable=False)  # progress | regress | deload | phase
    slot = Column(String(64), nullable=False)
    from_id = Column(String(128), nullable=True)
    to_id = Column(String(128), nullable=True)
    rule_id = Column(String(64), nullable=False)
    reason = Column(Text, nullable=False)
    at = Column(UTCDateTime, nullable=False)
    local_date = Column(Date, nullable=False)


class WeeklyCheckIn(Base):
    """The weekly outcome measures: average and worst pain over the week (0-10), each PSFS task
    (0-10), the person's global rating of change (-3 much worse .. +3 much better), the red-flag
    re-check, and what the summary said the plan does (better | same | worse | first)."""

    __tablename__ = "weekly_checkins"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), ForeignKey("trainees.user_id", ondelete="CASCADE"), nullable=False)
    local_date = Column(Date, nullable=False)
    at = Column(UTCDateTime, nullable=False)
    week = Column(Integer, nullable=False)  # 1 = the first seven days since the start
    pain_average = Column(Integer, nullable=False)
    pain_worst = Column(Integer, nullable=False)
    psfs = Column(JSON, nullable=False, default=list)  # [{"task": "...", "score": 0-10}, ...]
    change = Column(Integer, nullable=False)
    screen_clear = Column(Boolean, nullable=False)
    outcome = Column(String(16), nullable=False)


class SelfTestResult(Base):
    """A self-assessment the person did (assessments.yaml) and the result they reported; its
    faults lead the plan from then on."""

    __tablename__ = "self_test_results"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), ForeignKey("trainees.user_id", ondelete="CASCADE"), nullable=False)
    local_date = Column(Date, nullable=False)
    at = Column(UTCDateTime, nullable=False)
    assessment_id = Column(String(80), nullable=False)
    result = Column(String(80), nullable=False)
    faults = Column(JSON, nullable=False, default=list)


__all__ = [
    "CheckIn",
    "PainEntry",
    "PlannedSession",
    "ProgressionChange",
    "SelfTestResult",
    "SessionItem",
    "SlotLevel",
    "Trainee",
    "UTCDateTime",
    "WeeklyCheckIn",
]
