"""What a reminder says: composed from the trainee's record, read-only.

A plain nudge; a note when today's session is done or half done; after a missed day, a question
about what got in the way and the 5-minute way back in. Every scheduler (in the bot's process or
a worker of its own) sends these texts.
"""
from __future__ import annotations

import logging
from datetime import date
from functools import lru_cache
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.clock import Clock, local_date_of, local_today
from knowledge.db import in_chunks
from knowledge.reminder_models import KIND_SNOOZE

log = logging.getLogger(__name__)


# Added to the daily reminder on the days the weekly check-in is due (knowledge/weekly.py).
WEEKLY_NOTE = " It's also time for your weekly check-in (about a minute): send /checkin."


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
    """The reminder for ``user_id`` now (see :func:`reminder_texts`)."""
    return reminder_texts(session, [(user_id, kind)], clock)[0]


def reminder_texts(session: Session, wanted: Sequence[tuple[str, str]], clock: Clock) -> list[str]:
    """The reminders for ``(user_id, kind)`` pairs now, in order. Reads the trainees' records,
    writes nothing; a handful of queries for the whole list (a scheduler composes thousands).

    Today's session done, or started: says so. After a missed day it asks what got in the way
    and offers the 5-minute version: the one the coach builds by itself after enough missed days
    (then "Start now" gets it), otherwise by skipping what does not fit (five minutes with one
    exercise done still counts as a day). Otherwise, and for snoozed reminders, the plain one.
    """
    from knowledge.adherence import done_dates_by_user, missed_in_a_row, missed_yesterday
    from knowledge.trainee_models import PlannedSession, ProgressionChange, Trainee

    wanted_users = sorted({user for user, kind in wanted if kind != KIND_SNOOZE})
    trainees = {
        t.user_id: t
        for chunk in in_chunks(wanted_users)
        for t in session.execute(select(Trainee).where(Trainee.user_id.in_(chunk))).scalars()
        if t.onboarded_at is not None
    }
    today = {user: local_today(clock, t.timezone) for user, t in trainees.items()}
    planned: dict[str, PlannedSession] = {}
    for chunk in in_chunks(sorted(trainees)):
        rows = session.execute(
            select(PlannedSession).where(
                PlannedSession.user_id.in_(chunk), PlannedSession.local_date.in_({today[u] for u in chunk})
            )
        ).scalars()
        planned.update((p.user_id, p) for p in rows if p.local_date == today[p.user_id])

    status: dict[str, str] = {}  # user -> text, for those the record already decides
    for user, p in planned.items():
        if p.completed_at is not None:
            status[user] = "Today's session is already done: nice work. Nothing more today, see you tomorrow."
        elif p.items:
            left = len(p.items) - (p.current_index or 0)
            status[user] = (
                f"Today's session is waiting where you left off: {left} exercise{'s' if left != 1 else ''} "
                "to go. Tap Start now to pick it up."
            )
    open_users = sorted(set(trainees) - set(status))
    done = done_dates_by_user(session, open_users)
    missed: dict[str, int] = {}
    for user in open_users:
        start = local_date_of(trainees[user].onboarded_at, trainees[user].timezone)
        if missed_yesterday(done[user], start, today[user]):
            missed[user] = missed_in_a_row(done[user], start, today[user])

    # The coach shortens the next session by itself once the gap is long enough, unless this
    # gap was already handled (a deload recorded since the last done day, its offer used up).
    short_next = {user: bool(trainees[user].start_short_next) for user in missed}
    undecided = sorted(u for u in missed if not short_next[u] and missed[u] >= short_version_after())
    deloads: dict[str, list[date]] = {user: [] for user in undecided}
    for chunk in in_chunks(undecided):
        for user, day in session.execute(
            select(ProgressionChange.user_id, ProgressionChange.local_date).where(
                ProgressionChange.user_id.in_(chunk), ProgressionChange.kind == "deload"
            )
        ):
            deloads[user].append(day)
    for user in undecided:
        last_done = max(done[user], default=None)
        short_next[user] = not any(last_done is None or day > last_done for day in deloads[user])

    for user, days in missed.items():
        gap = "Yesterday's session didn't happen" if days == 1 else f"No session for {days} days"
        if short_next[user]:
            offer = ("Today there's a 5-minute version to get going again: tap Start now, then choose it "
                     "or the full session.")
        else:
            offer = (
                "Short on time? Tap Start now and skip what doesn't fit: a 5-minute version with one "
                "exercise done still counts."
            )
        status[user] = f"{gap}. What got in the way? No judgement, it happens. {offer}"
    weekly = weekly_due_users(session, trainees, today)
    return [
        (status.get(user, plain_reminder(kind)) + (WEEKLY_NOTE if user in weekly else ""))
        if kind != KIND_SNOOZE else plain_reminder(kind)
        for user, kind in wanted
    ]


def weekly_due_users(session: Session, trainees: dict, today: dict[str, date]) -> set[str]:
    """The trainees whose weekly check-in is due today (one query per chunk of users)."""
    from sqlalchemy import func

    from knowledge.progression import load_progression_rules
    from knowledge.trainee_models import WeeklyCheckIn
    from knowledge.adherence import due_every

    every = load_progression_rules().weekly.every_days
    last: dict[str, date] = {}
    for chunk in in_chunks(sorted(trainees)):
        last.update(session.execute(
            select(WeeklyCheckIn.user_id, func.max(WeeklyCheckIn.local_date))
            .where(WeeklyCheckIn.user_id.in_(chunk)).group_by(WeeklyCheckIn.user_id)
        ).all())
    return {
        user for user, t in trainees.items()
        if due_every(local_date_of(t.onboarded_at, t.timezone), last.get(user), today[user], every)
    }

