"""Adherence figures: streak, this week vs plan, 7- and 28-day completion, missed days, days since
the last session, the chart series (daily and weekly) and the summary text.

Every figure the bot states about adherence comes from one function here, so two sentences of
one reply cannot disagree.

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
from knowledge.trainee_models import CheckIn, PainEntry, PlannedSession, SessionItem, Trainee

# The chart spans the person's whole programme: twelve weeks, from day 1.
SERIES_DAYS = 84


@dataclass(frozen=True)
class SeriesPoint:
    local_date: date
    done: int  # 1 when the day's session was done, else 0
    pain: int | None  # the highest pain reported that day, if any
    glute_feel: int | None = None  # 0-10 from that day's latest check-in, if any


@dataclass(frozen=True)
class WeekPoint:
    """One calendar week (Monday first) of the series: what the weekly chart draws."""

    week_start: date
    done: int  # sessions done in the week
    counted: int  # days of the week that count: from the start, up to today (today once done)


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
    days_since_last: int | None  # None before the first session
    series: tuple[SeriesPoint, ...]
    weeks: tuple[WeekPoint, ...]
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


def days_since_last(done: set[date], today: date) -> int | None:
    """Whole days from the last done session to today (0 when done today); None before the first."""
    past = [d for d in done if d <= today]
    return (today - max(past)).days if past else None


def first_weeks_done(done: set[date], start: date, today: date, days: int) -> int | None:
    """Sessions done in the first ``days`` days since the start; None once they are over."""
    if today >= start + timedelta(days=days):
        return None
    return sum(1 for d in done if start <= d <= today)


def days_word(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def daily_series(
    done: set[date],
    pain_by_date: Mapping[date, int],
    start: date,
    today: date,
    days: int = SERIES_DAYS,
    glute_by_date: Mapping[date, int] | None = None,
) -> tuple[SeriesPoint, ...]:
    """One point per local date from max(start, today - days + 1) to today."""
    glute_by_date = glute_by_date or {}
    day = max(start, today - timedelta(days=days - 1))
    points = []
    while day <= today:
        points.append(SeriesPoint(day, 1 if day in done else 0, pain_by_date.get(day), glute_by_date.get(day)))
        day += timedelta(days=1)
    return tuple(points)


def weekly_series(series: Iterable[SeriesPoint], today: date) -> tuple[WeekPoint, ...]:
    """The daily points grouped by calendar week; today counts only once it is done."""
    weeks: dict[date, list[SeriesPoint]] = {}
    for p in series:
        weeks.setdefault(week_start(p.local_date), []).append(p)
    result = []
    for monday, points in sorted(weeks.items()):
        counted = [p for p in points if p.local_date < today or p.done]
        result.append(WeekPoint(week_start=monday, done=sum(p.done for p in points), counted=len(counted)))
    return tuple(result)


def _completion_text(done: set[date], start: date, today: date) -> str:
    """The completion sentence. Before a whole week has passed it counts the days since the start
    (a percentage of one day reads as a claim about a week that has not happened)."""
    since_start = _counted_days(start, start, today, done)
    if not since_start:
        return "Completion: nothing to count yet, today is day 1."
    hit = sum(d in done for d in since_start)
    if len(since_start) < 7:
        return f"Completion: {hit} of {days_word(len(since_start))} since you started."
    week = _counted_days(start, today - timedelta(days=6), today, done)
    text = f"Completion: {100.0 * sum(d in done for d in week) / len(week):.0f}% of the last 7 days"
    if len(since_start) > 28:
        month = _counted_days(start, today - timedelta(days=27), today, done)
        text += f", {100.0 * sum(d in done for d in month) / len(month):.0f}% of the last 28"
    elif len(since_start) > 7:
        text += f", {100.0 * hit / len(since_start):.0f}% since you started"
    return text + "."


def days_left_this_week(done: set[date], start: date, today: date) -> int:
    """Planned days still ahead this week: today while it is open, and the days after it."""
    monday = week_start(today)
    week = [monday + timedelta(days=i) for i in range(7)]
    return sum(1 for d in week if d >= start and (d > today or (d == today and d not in done)))


def summary_text(r: AdherenceReport | dict, done: set[date], start: date) -> str:
    get = r.__getitem__ if isinstance(r, dict) else lambda k: getattr(r, k)
    today = get("today")
    series = get("series")
    today_done = today in done
    left = days_left_this_week(done, start, today)
    week = f"This week: {get('week_done')} of {get('week_planned')} sessions done"
    week += f", {days_word(left)} to go." if left > 0 else "."
    lines = [week, f"Streak: {days_word(get('streak'))} in a row.", _completion_text(done, start, today)]
    pains = [p.pain for p in series[-7:] if p.pain is not None]
    if pains:
        spread = f"{max(pains)}" if min(pains) == max(pains) else f"between {min(pains)} and {max(pains)}"
        lines.append(f"Pain this past week: {spread} out of 10.")
    since = get("days_since_last")
    if get("missed_yesterday") and not today_done:
        if since is None:
            lines.append("No session yet: today is a good day for the first one.")
        else:
            lines.append(f"Your last session was {days_word(since)} ago: today is a good day to pick it up again.")
    return " ".join(lines)


def adherence_report(
    done: Iterable[date],
    pain_by_date: Mapping[date, int],
    start: date,
    today: date,
    glute_by_date: Mapping[date, int] | None = None,
) -> AdherenceReport:
    # A session logged on a day before the start (a changed time zone) still counts as done;
    # only days never count before the start.
    done_set = {d for d in done if d <= today}
    series = daily_series(done_set, pain_by_date, start, today, glute_by_date=glute_by_date)
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
        days_since_last=days_since_last(done_set, today),
        series=series,
        weeks=weekly_series(series, today),
    )
    return AdherenceReport(**fields, summary=summary_text(fields, done_set, start))


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


def glute_feel_by_date(db: Session, user_id: str) -> dict[date, int]:
    """The glute feel of each day's latest check-in."""
    result: dict[date, int] = {}
    rows = db.execute(
        select(CheckIn.local_date, CheckIn.glute_feel)
        .where(CheckIn.user_id == user_id)
        .order_by(CheckIn.at, CheckIn.id)
    )
    for day, feel in rows:
        result[day] = feel
    return result


def load_adherence(db: Session, user_id: str, clock: Clock) -> AdherenceReport:
    trainee = db.get(Trainee, user_id)
    if trainee is None:
        raise LookupError(f"no trainee {user_id!r}")
    today = local_today(clock, trainee.timezone)
    start = local_date_of(trainee.onboarded_at or trainee.created_at, trainee.timezone)
    return adherence_report(
        done_dates(db, user_id), pain_by_date(db, user_id), start, today, glute_feel_by_date(db, user_id)
    )


def due_every(start: date, last: date | None, today: date, every_days: int) -> bool:
    """Something done every ``every_days`` (a weekly check-in, a self-test) is due that many days
    after it was last done, or after the start when it never was."""
    return (today - (last or start)).days >= every_days
