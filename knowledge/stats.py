"""Aggregate figures for the operator (/stats): counts only, never anything about one person."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.reminder_models import ReminderDelivery
from knowledge.trainee_models import PlannedSession, Trainee


@dataclass(frozen=True)
class OperatorStats:
    trainees: int
    onboarded: int
    active_7_days: int
    reminders_sent_24h: int

    def text(self) -> str:
        return (
            f"{self.trainees} trainees ({self.onboarded} onboarded), {self.active_7_days} active in the "
            f"last 7 days, {self.reminders_sent_24h} reminders sent in the last 24 hours."
        )


def operator_stats(session: Session, now: datetime) -> OperatorStats:
    week_ago = (now - timedelta(days=7)).date()
    day_ago = now - timedelta(hours=24)
    trainees = session.execute(select(func.count()).select_from(Trainee)).scalar_one()
    onboarded = session.execute(select(func.count()).select_from(Trainee).where(Trainee.onboarded_at.is_not(None))).scalar_one()
    active = session.execute(
        select(func.count(func.distinct(PlannedSession.user_id))).where(PlannedSession.local_date >= week_ago)
    ).scalar_one()
    sent = session.execute(
        select(func.count()).select_from(ReminderDelivery).where(
            ReminderDelivery.state == "sent", ReminderDelivery.sent_at >= day_ago.replace(tzinfo=None)
        )
    ).scalar_one()
    return OperatorStats(trainees, onboarded, active, sent)
