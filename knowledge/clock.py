"""Time for the coach: an injectable clock and "today" in the trainee's own zone.

Every date the coach reasons about (today's session, a missed day, a streak) is a *local*
date in the trainee's IANA time zone; instants are stored in UTC. Tests pass a
:class:`FixedClock` instead of reading the wall clock.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that only moves when told to (for tests and simulations)."""

    def __init__(self, at: datetime) -> None:
        self._at = _require_aware(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _require_aware(at)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new instant."""
        self._at = self._at + (delta if delta is not None else timedelta(**kwargs))
        return self._at


SYSTEM_CLOCK: Clock = SystemClock()


def _require_aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the clock needs a timezone-aware datetime")
    return at


def is_valid_timezone(name: str | None) -> bool:
    if not name or not isinstance(name, str):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def zone(name: str | None) -> ZoneInfo:
    """The trainee's zone; an unknown or empty name falls back to UTC rather than failing."""
    if is_valid_timezone(name):
        return ZoneInfo(name)  # type: ignore[arg-type]
    return ZoneInfo("UTC")


def local_now(clock: Clock, tz_name: str | None) -> datetime:
    return clock.now().astimezone(zone(tz_name))


def local_today(clock: Clock, tz_name: str | None) -> date:
    """Today's date where the trainee lives."""
    return local_now(clock, tz_name).date()


def local_date_of(at: datetime, tz_name: str | None) -> date:
    """The trainee's local date of a stored instant (naive values are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(zone(tz_name)).date()


def utc(at: datetime) -> datetime:
    return _require_aware(at).astimezone(timezone.utc)


def naive_utc(at: datetime) -> datetime:
    """``at`` as naive UTC, the form the database's delivery tables keep instants in (a naive
    ``at`` is taken to be UTC already)."""
    return at if at.tzinfo is None or at.utcoffset() is None else at.astimezone(timezone.utc).replace(tzinfo=None)


def week_start(day: date) -> date:
    """Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_hhmm(text: str) -> time:
    """``"07:30"`` → ``time(7, 30)``; anything else raises ``ValueError`` with a readable message."""
    match = _HHMM.match(text or "")
    if not match:
        raise ValueError(f"'{text}' is not a time of day; use HH:MM, for example 07:30")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"'{text}' is not a valid time; hours go 00-23 and minutes 00-59")
    return time(hour, minute)
