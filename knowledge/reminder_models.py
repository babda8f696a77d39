"""The delivery log of reminders: one row per (user, local date, kind), so a reminder is sent
at most once per day however many scheduler workers run and however often they restart."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, DateTime, Index, Integer, String, UniqueConstraint

from knowledge.db import Base

# Row states. A row is created when its reminder falls due (or when a snooze is asked for).
SCHEDULED = "scheduled"  # due (or due later: a snooze); no worker holds it
CLAIMED = "claimed"  # a worker holds a lease on it and is sending it
SENT = "sent"
FAILED = "failed"  # the last attempt failed; claimable again after retry_at
SKIPPED = "skipped"  # the user skipped today, or blocked the bot: never to be sent

KIND_DAILY = "daily"
KIND_SNOOZE = "snooze"


class ReminderDelivery(Base):
    __tablename__ = "reminder_deliveries"
    __table_args__ = (
        # The idempotency key: the same reminder cannot be recorded (nor sent) twice.
        UniqueConstraint("user_id", "local_date", "kind", name="uq_reminder_delivery_key"),
        Index("ix_reminder_deliveries_state_due", "state", "due_at"),
    )

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    user_id: str = Column(String(64), nullable=False, index=True)
    local_date: date = Column(Date, nullable=False)  # the trainee's calendar day
    kind: str = Column(String(16), nullable=False, default=KIND_DAILY)
    state: str = Column(String(16), nullable=False, default=SCHEDULED)
    # All instants are naive UTC: SQLite keeps no zone, so one convention for both databases.
    due_at: datetime = Column(DateTime, nullable=False)
    retry_at: datetime | None = Column(DateTime, nullable=True)  # backoff after a failure
    claimed_by: str | None = Column(String(128), nullable=True)
    claimed_at: datetime | None = Column(DateTime, nullable=True)  # start of the lease
    attempts: int = Column(Integer, nullable=False, default=0)
    sent_at: datetime | None = Column(DateTime, nullable=True)
    last_error: str | None = Column(String(200), nullable=True)

    def __repr__(self) -> str:
        return (
            f"ReminderDelivery({self.user_id!r}, {self.local_date}, {self.kind!r}, "
            f"state={self.state!r}, attempts={self.attempts})"
        )
