"""What a reminder says: composed from the trainee's record, read-only.

A plain nudge; a note when today's session is done or half done; after a missed day, a question
about what got in the way and the 5-minute way back in. Every scheduler (in the bot's process or
a worker of its own) sends these texts.
"""
from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.clock import Clock, local_date_of, local_today
from knowledge.reminder_models import KIND_SNOOZE

log = logging.getLogger(__name__)


def plain_reminder(kind: str) -> str:
    """The reminder when the record has nothing more to say (or there is no record)."""
    if kind == KIND_SNOOZE:
        return "Here's the reminder you asked for: ready for today's glute session?"
    return "Time for today's glute session: a few minutes now keeps your back out of the work."


@lru_cache(maxsize=1)
def short_version_after() -> int:
    """Missed days in a row after which the coach offers the 5-minute version (content rule)."""
    from knowledge.progression import load_coach_content

    try:
        rule = load_coach_content().catalogue.rules.group("deload")[0]
        if rule.get("offer_short_version", True):
            return int(rule["missed_days_at_least"])
    except Exception:  # noqa: BLE001 - unreadable content: never offer what may not come
        log.warning("could not read the deload rule; reminders will not promise the 5-minute version")
    return 10**6


def reminder_text(session: Session, user_id: str, kind: str, clock: Clock) -> str:
    """The reminder for ``user_id`` now. Reads the trainee's record, writes nothing.

    After a missed day it asks what got in the way and offers the 5-minute version: the one the
    coach builds by itself after enough missed days (then "Start now" gets it), otherwise by
    skipping what does not fit (five minutes with one exercise done still counts as a day).
    """
    from knowledge.adherence import done_dates, missed_in_a_row, missed_yesterday
    from knowledge.trainee_models import PlannedSession, ProgressionChange, Trainee

    trainee = session.get(Trainee, user_id)
    if trainee is None or trainee.onboarded_at is None or kind == KIND_SNOOZE:
        return plain_reminder(kind)
    today = local_today(clock, trainee.timezone)
    planned = session.execute(
        select(PlannedSession).where(PlannedSession.user_id == user_id, PlannedSession.local_date == today)
    ).scalar_one_or_none()
    if planned is not None and planned.completed_at is not None:
        return "Today's session is already done: nice work. Nothing more today, see you tomorrow."
    if planned is not None and planned.items:
        left = len(planned.items) - (planned.current_index or 0)
        return (
            f"Today's session is waiting where you left off: {left} exercise{'s' if left != 1 else ''} "
            "to go. Tap Start now to pick it up."
        )
    # Only the missed days matter here, not the whole adherence report (the scheduler composes
    # thousands of these in a row).
    done = done_dates(session, user_id)
    start = local_date_of(trainee.onboarded_at, trainee.timezone)
    if not missed_yesterday(done, start, today):
        return plain_reminder(kind)
    missed = missed_in_a_row(done, start, today)
    gap = "Yesterday's session didn't happen" if missed == 1 else f"No session for {missed} days"
    # The coach shortens the next session by itself once the gap is long enough, unless this
    # gap was already handled (a deload recorded since the last done day, its offer used up).
    short_next = bool(trainee.start_short_next)
    if not short_next and missed >= short_version_after():
        last_done = max(done, default=None)
        query = select(ProgressionChange.id).where(
            ProgressionChange.user_id == user_id, ProgressionChange.kind == "deload"
        )
        if last_done is not None:
            query = query.where(ProgressionChange.local_date > last_done)
        short_next = session.execute(query).first() is None
    if short_next:
        offer = "Today there's a 5-minute version to get going again: tap Start now."
    else:
        offer = (
            "Short on time? Tap Start now and skip what doesn't fit: a 5-minute version with one "
            "exercise done still counts."
        )
    return f"{gap}. What got in the way? No judgement, it happens. {offer}"
