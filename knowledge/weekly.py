"""The weekly check-in: the outcome measures digital back programmes report, asked once a week.

Average and worst pain over the week (0-10 numeric rating scale), the Patient-Specific
Functional Scale on up to three everyday tasks the person names (0-10 each), the person's global
rating of change (-3..+3) and the red-flag re-check. The summary compares each figure with the
person's first weekly check-in (their baseline) using the minimal important changes in
``progression.yaml`` (``weekly_checkin``), and says what the plan does about it.

Plain domain code: no Rasa, no Telegram. The coaching service's plumbing (database session,
trainee row, local dates) is shared with :mod:`knowledge.coaching`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

from sqlalchemy import select

from knowledge.adherence import due_every
from knowledge.clock import SYSTEM_CLOCK, Clock
from knowledge.coaching import (
    CoachingError,
    DbLike,
    _check_score,
    _content,
    _session,
    _start_date,
    _today,
    _trainee,
)
from knowledge.progression import CoachContent, WeeklyRules
from knowledge.trainee_models import WeeklyCheckIn

OUTCOMES = ("first", "better", "same", "worse")


@dataclass(frozen=True)
class Measure:
    """One figure against its baseline: ``delta`` is now minus then (negative = less)."""

    name: str
    now: int | float
    then: int | float
    delta: float
    meaningful: bool
    good_when_lower: bool

    @property
    def better(self) -> bool:
        return self.meaningful and ((self.delta < 0) == self.good_when_lower)

    @property
    def worse(self) -> bool:
        return self.meaningful and not self.better


def pain_measure(name: str, now: int, then: int, rules: WeeklyRules) -> Measure:
    """Pain on the 0-10 scale: meaningful at ``pain_change`` points or ``pain_percent`` % of the
    baseline (Ostelo et al. 2008); a rise is judged by points only (a percentage of a low
    baseline would call 1 -> 2 a meaningful worsening)."""
    delta = now - then
    if delta < 0:
        meaningful = -delta >= rules.pain_change or (then > 0 and -delta * 100 >= rules.pain_percent * then)
    else:
        meaningful = delta >= rules.pain_change
    return Measure(name, now, then, float(delta), meaningful, good_when_lower=True)


def psfs_measure(name: str, now: int, then: int, rules: WeeklyRules) -> Measure:
    delta = now - then
    return Measure(name, now, then, float(delta), abs(delta) >= rules.psfs_change, good_when_lower=False)


def outcome_of(measures: Sequence[Measure], change: int) -> str:
    """better | same | worse from the measures and the person's own rating. Worse when a
    measure got meaningfully worse or the person says worse (-2 or -3); better when one got
    meaningfully better and the person does not say it got worse at all."""
    if any(m.worse for m in measures) or change <= -2:
        return "worse"
    if any(m.better for m in measures) and change >= 0:
        return "better"
    return "same"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _measure_line(m: Measure, label: str, approximate: bool = False) -> str:
    if m.delta == 0:
        trend = "no change"
    else:
        trend = f"{'down' if m.delta < 0 else 'up'} {_number(abs(m.delta))}"
        if m.meaningful:
            kind = "improvement" if m.better else "worsening"
            trend += f", {'about ' if approximate else ''}a meaningful {kind}"
    return f"• {label}: {_number(m.now)}/10, was {_number(m.then)} ({trend})."


@dataclass(frozen=True)
class WeeklyAnswers:
    pain_average: int
    pain_worst: int
    psfs: tuple[int, ...]  # one score per task, in the tasks' order
    change: int
    screen_clear: bool


@dataclass(frozen=True)
class WeeklyResult:
    week: int
    outcome: str  # first | better | same | worse
    measures: tuple[Measure, ...]
    text: str
    stored_id: int | None


def _check_change(value: int, rules: WeeklyRules) -> int:
    values = [v for v, _ in rules.change_options] or list(range(-3, 4))
    if isinstance(value, bool) or not isinstance(value, int) or value not in values:
        raise CoachingError(f"the rating of change must be one of {', '.join(map(str, values))}, got {value!r}")
    return value


def _rows(s: Any, user_id: str) -> list[WeeklyCheckIn]:
    return list(s.execute(select(WeeklyCheckIn).where(WeeklyCheckIn.user_id == user_id)
                          .order_by(WeeklyCheckIn.local_date, WeeklyCheckIn.id)).scalars())


def week_number(start: date, today: date) -> int:
    """The week a check-in looks back on: 1 on days 0-13 since the start (the first check-in is
    due on day 7, about days 0-6), 2 on days 14-20, ..."""
    return max(1, (today - start).days // 7)


def check_in_due(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK,
                 content: CoachContent | None = None) -> bool:
    rules = _content(content).rules.weekly
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        if t.onboarded_at is None:
            return False
        rows = _rows(s, user_id)
        return due_every(_start_date(t), rows[-1].local_date if rows else None, _today(t, clock), rules.every_days)


def psfs_tasks(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK) -> list[str] | None:
    """The person's PSFS tasks; None when they were never asked."""
    with _session(db) as s:
        tasks = _trainee(s, user_id, clock).psfs_tasks
        return None if tasks is None else [str(x) for x in tasks]


def set_psfs_tasks(db: DbLike, user_id: str, tasks: Sequence[str], *, clock: Clock = SYSTEM_CLOCK,
                   content: CoachContent | None = None) -> list[str]:
    limit = _content(content).rules.weekly.max_tasks
    cleaned = [" ".join(str(x).split())[:60] for x in tasks if str(x).strip()]
    if len(cleaned) > limit:
        raise CoachingError(f"at most {limit} tasks")
    with _session(db) as s:
        _trainee(s, user_id, clock).psfs_tasks = cleaned
    return cleaned


def summary(week: int, answers: WeeklyAnswers, tasks: Sequence[str], baseline: WeeklyCheckIn | None,
            rules: WeeklyRules) -> tuple[str, tuple[Measure, ...], str]:
    """The summary text, the measures against the baseline, and the outcome."""
    change_label = rules.change_label(answers.change).lower()
    if baseline is None:
        lines = [f"Week {week} check-in saved: your starting point.",
                 f"• Average pain {answers.pain_average}/10, worst {answers.pain_worst}/10."]
        lines += [f"• {task}: {score}/10." for task, score in zip(tasks, answers.psfs)]
        lines.append(f"• Compared with when you started: {change_label}.")
        lines.append(rules.plan["first"])
        return "\n".join(lines), (), "first"
    measures = [pain_measure("pain_average", answers.pain_average, baseline.pain_average, rules),
                pain_measure("pain_worst", answers.pain_worst, baseline.pain_worst, rules)]
    lines = [f"Week {week} check-in, against your first one (week {baseline.week}):",
             _measure_line(measures[0], "Average pain"), _measure_line(measures[1], "Worst pain")]
    then = {str(item.get("task")): int(item.get("score")) for item in (baseline.psfs or [])}
    for task, score in zip(tasks, answers.psfs):
        if task in then:
            m = psfs_measure(f"psfs:{task}", score, then[task], rules)
            measures.append(m)
            lines.append(_measure_line(m, task, approximate=True))
        else:
            lines.append(f"• {task}: {score}/10 (new this week).")
    lines.append(f"• Compared with when you started, you say: {change_label}.")
    outcome = outcome_of(measures, answers.change)
    lines.append(rules.plan[outcome])
    return "\n".join(lines), tuple(measures), outcome


def record_weekly(db: DbLike, user_id: str, answers: WeeklyAnswers, *, clock: Clock = SYSTEM_CLOCK,
                  content: CoachContent | None = None) -> WeeklyResult:
    """Store this week's answers and return the summary. A second check-in on the same local day
    replaces the first (a corrected answer), and the summary is made against the baseline."""
    rules = _content(content).rules.weekly
    _check_score("average pain", answers.pain_average)
    _check_score("worst pain", answers.pain_worst)
    for score in answers.psfs:
        _check_score("a task's score", score)
    _check_change(answers.change, rules)
    if not answers.screen_clear:
        raise CoachingError("a weekly check-in with a red flag is a stop, not a record")
    with _session(db) as s:
        t = _trainee(s, user_id, clock)
        today = _today(t, clock)
        tasks = [str(x) for x in (t.psfs_tasks or [])]
        if len(answers.psfs) != len(tasks):
            raise CoachingError(f"expected {len(tasks)} task scores, got {len(answers.psfs)}")
        rows = []
        for row in _rows(s, user_id):
            if row.local_date == today:
                s.delete(row)
            else:
                rows.append(row)
        baseline = rows[0] if rows else None
        week = week_number(_start_date(t), today)
        text, measures, outcome = summary(week, answers, tasks, baseline, rules)
        row = WeeklyCheckIn(
            user_id=user_id, local_date=today, at=clock.now(), week=week,
            pain_average=answers.pain_average, pain_worst=answers.pain_worst,
            psfs=[{"task": task, "score": score} for task, score in zip(tasks, answers.psfs)],
            change=answers.change, screen_clear=True, outcome=outcome,
        )
        s.add(row)
        if outcome == "worse":
            t.reduce_volume_next = True  # the same one-set-lighter deload the missed-days rule uses
        s.flush()
        return WeeklyResult(week, outcome, measures, text, row.id)


@dataclass(frozen=True)
class WeekRow:
    week: int
    local_date: date
    pain_average: int
    pain_worst: int
    psfs: tuple[tuple[str, int], ...]
    change: int
    outcome: str


def history(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK) -> tuple[WeekRow, ...]:
    """Every weekly check-in, oldest first (for /progress)."""
    with _session(db) as s:
        return tuple(
            WeekRow(r.week, r.local_date, r.pain_average, r.pain_worst,
                    tuple((str(i.get("task")), int(i.get("score"))) for i in (r.psfs or [])), r.change, r.outcome)
            for r in _rows(s, user_id)
        )


def history_text(rows: Sequence[WeekRow]) -> str:
    """One line for /progress: average pain week by week."""
    if not rows:
        return ""
    figures = ", ".join(f"week {r.week}: {r.pain_average}" for r in rows[-6:])
    return f"Weekly check-ins (average pain): {figures}."


DUE_TEXT = "It's check-in week: a minute on your pain, your tasks and how things are going helps me tune the plan."


def due_prompt(db: DbLike, user_id: str, *, clock: Clock = SYSTEM_CLOCK,
               content: CoachContent | None = None) -> str | None:
    """What the day's first contact says when the weekly check-in is due (None when it is not)."""
    return DUE_TEXT if check_in_due(db, user_id, clock=clock, content=content) else None


def rules(content: CoachContent | None = None) -> WeeklyRules:
    """The weekly check-in's rules from the knowledge base."""
    return _content(content).rules.weekly
