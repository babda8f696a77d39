"""Adherence figures: streak, this week vs plan, 7- and 28-day completion, missed days, the chart
series and the weekly summary text.

The plan is one session a day. A day counts as *done* when that day's session was completed with
at least one exercise done. The pure functions take local dates; :func:`load_adherence` reads
them from the database with the trainee's zone and an injected clock. Days before the trainee's
first day never count as missed, and today only counts once it is done (it is not missed yet).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.clock import Clock, local_date_of, local_today, week_start
from knowledge.db import in_chunks
from knowledge.trainee_models import PainEntry, PlannedSession, SessionItem, Trainee


@dataclass(frozen=True)
class SeriesPoint:
    local_date: date
    done: int  # 1 when the day's session was done, else 0
    pain: int | None  # the highest pain reported that day, if any


@dataclass(frozen=True)
class AdherenceReport:
    today: date
    streak: int
    week_done: int
    week_planned: int
    completion_7: float | None  # percent, None when no day counts yet
    completion_28: float | None
    missed_yesterday: bool
    missed_in_a_row: int
    series: tuple[SeriesPoint, ...]
    summary: str


def streak(done: set[date], today: date) -> int:
    """Days done in a row, ending today (or yesterday while today is still open)."""
    day = today if today in done else today - timedelta(days=1)
    count = 0
    while day in done:
        count += 1
        day -= timedelta(days=1)
    return count


def _counted_days(start: date, first: date, today: date, done: set[date]) -> list[date]:
    days = []
    day = max(first, start)
    while day <= today:
        if day < today or day in done:
            days.append(day)
        day += timedelta(days=1)
    return days


def completion_percent(done: set[date], start: date, today: date, window_days: int) -> float | None:
    """Share of counted days done within the ``window_days`` ending today, in percent."""
    first = today - timedelta(days=window_days - 1)
    days = _counted_days(start, first, today, done)
    if not days:
        return None
    return 100.0 * sum(d in done for d in days) / len(days)


def week_figures(done: set[date], start: date, today: date) -> tuple[int, int]:
    """(sessions done this ISO week, sessions planned this week: one per day from the start)."""
    monday = week_start(today)
    week = [monday + timedelta(days=i) for i in range(7)]
    planned = sum(d >= start for d in week)
    return sum(d in done and d <= today for d in week), planned


def missed_yesterday(done: set[date], start: date, today: date) -> bool:
    yesterday = today - timedelta(days=1)
    return yesterday >= start and yesterday not in done


def missed_in_a_row(done: set[date], start: date, today: date) -> int:
    """Days in a row without a session, counting back from yesterday to the last done day."""
    count = 0
    day = today - timedelta(days=1)
    while day >= start and day not in done:
        count += 1
        day -= timedelta(days=1)
    return count


def daily_series(
    done: set[date], pain_by_date: Mapping[date, int], start: date, today: date, days: int = 28
) -> tuple[SeriesPoint, ...]:
    """One point per local date from max(start, today - days + 1) to today."""
    day = max(start, today - timedelta(days=days - 1))
    points = []
    while day <= today:
        points.append(SeriesPoint(day, 1 if day in done else 0, pain_by_date.get(day)))
        day += timedelta(days=1)
    return tuple(points)


def _pct(value: float | None) -> str:
    return "no days yet" if value is None else f"{value:.0f}%"


def summary_text(r: AdherenceReport | dict) -> str:
    get = r.__getitem__ if isinstance(r, dict) else lambda k: getattr(r, k)
    lines = [
        f"This week: {get('week_done')} of {get('week_planned')} sessions.",
        f"Streak: {get('streak')} day{'s' if get('streak') != 1 else ''} in a row.",
        f"Completion: {_pct(get('completion_7'))} of the last 7 days, "
        f"{_pct(get('completion_28'))} of the last 28.",
    ]
    pains = [p.pain for p in get("series")[-7:] if p.pain is not None]
    if pains:
        spread = f"{max(pains)}" if min(pains) == max(pains) else f"between {min(pains)} and {max(pains)}"
        lines.append(f"Pain this past week: {spread} out of 10.")
    today_done = bool(get("series")) and get("series")[-1].done == 1
    if get("missed_yesterday") and not today_done:
        lines.append("Yesterday's session is still open: today is a good day to pick it up again.")
    return " ".join(lines)


def adherence_report(
    done: Iterable[date], pain_by_date: Mapping[date, int], start: date, today: date
) -> AdherenceReport:
    done_set = set(done)
    week_done, week_planned = week_figures(done_set, start, today)
    fields = dict(
        today=today,
        streak=streak(done_set, today),
        week_done=week_done,
        week_planned=week_planned,
        completion_7=completion_percent(done_set, start, today, 7),
        completion_28=completion_percent(done_set, start, today, 28),
        missed_yesterday=missed_yesterday(done_set, start, today),
        missed_in_a_row=missed_in_a_row(done_set, start, today),
        series=daily_series(done_set, pain_by_date, start, today),
    )
    return AdherenceReport(**fields, summary=summary_text(fields))


def done_dates(db: Session, user_id: str) -> set[date]:
    """Local dates whose session was completed with at least one exercise done."""
    return done_dates_by_user(db, [user_id])[user_id]


def done_dates_by_user(db: Session, user_ids: Iterable[str]) -> dict[str, set[date]]:
    """:func:`done_dates` of many trainees in one query per 500 (every id gets a set)."""
    ids = sorted(set(user_ids))
    result: dict[str, set[date]] = {user: set() for user in ids}
    for chunk in in_chunks(ids):
        rows = db.execute(
            select(PlannedSession.user_id, PlannedSession.local_date)
            .join(SessionItem, SessionItem.session_id == PlannedSession.id)
            .where(
                PlannedSession.user_id.in_(chunk),
                PlannedSession.completed_at.is_not(None),
                SessionItem.result == "done",
            )
            .distinct()
        )
        for user, day in rows:
            result[user].add(day)
    return result


def pain_by_date(db: Session, user_id: str) -> dict[date, int]:
    result: dict[date, int] = {}
    for entry in db.execute(select(PainEntry).where(PainEntry.user_id == user_id)).scalars():
        result[entry.local_date] = max(entry.value, result.get(entry.local_date, 0))
    return result


def load_adherence(db: Session, user_id: str, clock: Clock) -> AdherenceReport:
    trainee = db.get(Trainee, user_id)
    if trainee is None:
        raise LookupError(f"no trainee {user_id!r}")
    today = local_today(clock, trainee.timezone)
    start = local_date_of(trainee.onboarded_at or trainee.created_at, trainee.timezone)
    return adherence_report(done_dates(db, user_id), pain_by_date(db, user_id), start, today)
