"""Self-tests: the knowledge base's self-assessments in the coaching loop.

The person picks a test (offered after onboarding and every four weeks), reads its steps, and
reports the result with a button or in their own words; the result is stored, and its faults
lead the plan from then on (the first fault decides what the session opens with and aims at).
Plain domain code: no Rasa, no Telegram.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

from sqlalchemy import select

from knowledge.adherence import due_every
from knowledge.clock import SYSTEM_CLOCK, Clock
from knowledge.coaching import (
    CoachingError,
    DbLike,
    _content,
    _entry_levels,
    _session,
    _set_slot_levels,
    _start_date,
    _today,
    _trainee,
)
from knowledge.trainee_models import CheckIn, PlannedSession, SelfTestResult

EVERY_DAYS = 28  # "every four weeks"


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("’", "'")))


def find_assessment(kb: Any, text: str) -> Any | None:
    """The assessment ``text`` names (its id, title or an alias), longest name first."""
    said = f" {_words(text)} "
    names = []
    for a in kb.assessments():
        for name in (a.id.replace("_", " "), a.title, *a.aliases):
            names.append((len(_words(name)), _words(name), a))
    for _n, name, a in sorted(names, key=lambda x: -x[0]):
        if name and f" {name} " in said:
            return a
    return None


def match_result(assessment: Any, text: str) -> Any | None:
    """The result ``text`` reports: a result id (a button), its label, or the longest of the
    words people use for a result ("the front of my hip burned" beats "dropped")."""
    raw = text.strip()
    for r in assessment.results:
        if raw == r.result or _words(raw) == _words(r.label):
            return r
    said = f" {_words(raw)} "
    candidates = [(len(_words(p)), r) for r in assessment.results for p in r.says if f" {_words(p)} " in said]
    if not candidates:
        return None
    best = max(n for n, _ in candidates)
    winners = {r.result: r for n, r in candidates if n == best}
    return next(iter(winners.values())) if len(winners) == 1 else None


@dataclass(frozen=True)
class SelfTestOutcome:
    assessment_id: str
    result: str
    faults: tuple[str, ...]  # the trainee's faults now, the plan's lead first
    text: str
    reported: tuple[str, ...] = ()  # the faults this result points to


def record_result(db: DbLike, user_id: str, kb: Any, assessment_id: str, result_id: str, *,
                  clock: Clock = SYSTEM_CLOCK) -> SelfTestOutcome:
    """Store the result; put its faults first in the trainee's faults (so the plan leads with
    them); before the first session, pick the slots' entry exercises again for them, and let a
    session planned today but not started be planned again."""
    assessment = kb.assessment(assessment_id)
    result = next((r for r in assessment.results if r.result == result_id), None)
    if result is None:
        raise CoachingError(f"{assessment.title} has no result {result_id!r}")
    content = _content(None)
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        today = _today(t, clock)
        s.add(SelfTestResult(user_id=user_id, local_date=today, at=clock.now(), assessment_id=assessment.id,
                             result=result.result, faults=list(result.faults)))
        lead = [f for f in result.faults if f in content.faults]
        if lead:
            t.faults = [*lead, *[f for f in (t.faults or []) if f not in lead]]
            trained = s.execute(select(CheckIn.id).where(CheckIn.user_id == user_id,
                                                          CheckIn.session_id.is_not(None))).first()
            if trained is None:
                _set_slot_levels(s, t, _entry_levels(t, content), clock)
            planned = s.execute(select(PlannedSession).where(
                PlannedSession.user_id == user_id, PlannedSession.local_date == today)).scalar_one_or_none()
            if planned is not None and planned.status == "planned" and planned.started_at is None:
                s.delete(planned)
        faults = tuple(t.faults or ())
    text = result.meaning
    if lead:
        titles = [content.faults[f].title.lower() for f in lead]
        text += f" From now on your sessions start with the work for {' and '.join(titles)}."
    else:
        text += " Nothing to change in your plan for this one."
    return SelfTestOutcome(assessment.id, result.result, faults, text, tuple(result.faults))


def due(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK) -> bool:
    """Four weeks since the last self-test (or since the start): time to test again."""
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        if t.onboarded_at is None:
            return False
        last = s.execute(select(SelfTestResult.local_date).where(SelfTestResult.user_id == user_id)
                         .order_by(SelfTestResult.local_date.desc()).limit(1)).scalar_one_or_none()
        return due_every(_start_date(t), last, _today(t, clock), EVERY_DAYS)


DUE_TEXT = "It's been four weeks: a two-minute self-test shows what has changed and points the plan at it."


@dataclass(frozen=True)
class SelfTestRow:
    local_date: date
    assessment_id: str
    result: str


def history(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK) -> tuple[SelfTestRow, ...]:
    with _session(db) as s:
        return tuple(SelfTestRow(r.local_date, r.assessment_id, r.result) for r in s.execute(
            select(SelfTestResult).where(SelfTestResult.user_id == user_id)
            .order_by(SelfTestResult.local_date, SelfTestResult.id)).scalars())


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def history_text(kb: Any, rows: Sequence[SelfTestRow]) -> str:
    """One line for /progress: each test's results over time, in the person's words (labels)."""
    if not rows:
        return ""
    parts = []
    for assessment_id in dict.fromkeys(r.assessment_id for r in rows):
        a = kb.get("assessment", assessment_id)
        if a is None:
            continue
        labels = {x.result: x.label for x in a.results}
        seen = ", ".join(f"{r.local_date.day} {r.local_date:%b}: {_lower_first(labels.get(r.result, r.result))}"
                         for r in rows if r.assessment_id == assessment_id)
        parts.append(f"{a.title}: {seen}")
    return "Self-tests: " + "; ".join(parts) + "."
