"""What ``kb validate``, ``kb load`` and ``kb show`` do; the CLI only prints the text and exits
with the code. Every failure is a readable message, never a traceback."""
from __future__ import annotations

import difflib
import textwrap
from pathlib import Path
from typing import Iterable, Mapping

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from knowledge.loader import load
from knowledge.queries import (
    ActivityView, AssessmentView, CueView, ExerciseView, FaultView, KnowledgeBase, KnowledgeBaseNotLoaded, RedFlagView,
    ReferenceView,
)
from knowledge.validate import DEFAULT_CONTENT_DIR, USE_DEFAULT_REQUIRED, validate
from knowledge.yaml_source import display_path

WIDTH = 88


def _db_error(exc: SQLAlchemyError) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"database error: {detail[0] if detail else exc.__class__.__name__}"


def _plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def cmd_validate(content_dir: Path | str = DEFAULT_CONTENT_DIR,
                 required_ids: Mapping[str, Iterable[str]] | None = USE_DEFAULT_REQUIRED) -> tuple[int, str]:
    """Exit code 0 and a one-line summary when valid; 1 and one ``file:line: message`` per problem."""
    result = validate(content_dir, required_ids)
    where = display_path(content_dir)
    if result.ok:
        counts = ", ".join(f"{len(items)} {_plural(kind.replace('_', ' '))}" for kind, items in result.content.items.items())
        return 0, f"{where}: OK ({counts})"
    lines = [str(problem) for problem in result.problems]
    lines.append(f"{where}: {len(result.problems)} problem(s)")
    return 1, "\n".join(lines)


def cmd_load(engine: Engine, content_dir: Path | str = DEFAULT_CONTENT_DIR,
             required_ids: Mapping[str, Iterable[str]] | None = USE_DEFAULT_REQUIRED) -> tuple[int, str]:
    """Validate then load; on any problem nothing is written and the problems are listed."""
    try:
        report = load(engine, content_dir, required_ids)
    except SQLAlchemyError as exc:
        return 1, _db_error(exc)
    if not report.ok:
        lines = [str(problem) for problem in report.problems]
        lines.append(f"{display_path(content_dir)}: {report.summary()}")
        return 1, "\n".join(lines)
    return 0, f"loaded {display_path(content_dir)}: {report.summary()} (fingerprint {report.fingerprint[:12]})"


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent) or [indent.rstrip()]


def _numbered(steps: Iterable[str], indent: str = "  ") -> list[str]:
    lines: list[str] = []
    for n, step in enumerate(steps, 1):
        lead = f"{indent}{n}. "
        lines += textwrap.wrap(step, WIDTH, initial_indent=lead, subsequent_indent=" " * len(lead)) or [lead]
    return lines


def _sources(kb: KnowledgeBase, ids: Iterable[str], indent: str) -> list[str]:
    refs: list[ReferenceView] = kb.references(ids)
    return [f"{indent}source: {ref.citation}" for ref in refs]


def _show_fault(kb: KnowledgeBase, fault: FaultView) -> list[str]:
    lines = [f"{fault.title} [fault: {fault.id}]", *_wrap(fault.summary), "", "Why it happens:", *_wrap(fault.mechanism),
             "", "Check yourself:"]
    lines += _numbered(fault.self_check.steps)
    lines += _wrap(f"Positive if: {fault.self_check.positive_if}")
    lines += ["", "Cues, first to try first:"]
    for n, cue in enumerate(kb.cues_for_fault(fault.id), 1):
        lines.append(f"  {n}. {cue.title} [{cue.id}]: \"{cue.say}\"")
        lines += _sources(kb, cue.sources, "     ")
    lines += ["", "Exercises, in order:"]
    for n, entry in enumerate(kb.exercises_for_fault(fault.id), 1):
        exercise = entry.exercise
        lines.append(f"  {n}. {exercise.title} [{exercise.id}] ({exercise.phase}, level {exercise.level})")
        lines += _wrap(f"why: {entry.why}", "     ")
        lines += _sources(kb, exercise.sources, "     ")
    lines += ["", "See a professional:", *_wrap(fault.see_a_professional), "", "Sources:"]
    lines += _sources(kb, fault.sources, "  ")
    return lines


def _show_cue(kb: KnowledgeBase, cue: CueView) -> list[str]:
    lines = [f"{cue.title} [cue: {cue.id}]", *_wrap(f"Say: \"{cue.say}\""), *_wrap(f"Why: {cue.why}"),
             *_wrap(f"Feels like: {cue.feels_like}")]
    lines.append("  Exercises: " + ", ".join(cue.exercises))
    lines.append("  Faults: " + ", ".join(cue.faults))
    return lines + _sources(kb, cue.sources, "  ")


def _show_exercise(kb: KnowledgeBase, exercise: ExerciseView) -> list[str]:
    dosage = exercise.dosage
    amount = f"{dosage['reps']} reps" if dosage.get("reps") is not None else f"{dosage.get('hold_seconds')} s hold"
    lines = [f"{exercise.title} [exercise: {exercise.id}] ({exercise.phase}, level {exercise.level})",
             f"  Equipment: {', '.join(exercise.equipment)}",
             f"  Dose: {dosage.get('sets')} x {amount}{' per side' if dosage.get('per_side') else ''}"
             + (f", tempo {dosage['tempo']}" if dosage.get("tempo") else "") + f", rest {dosage.get('rest_seconds')} s"]
    for target in exercise.targets:
        figure = ""
        if target.emg_mvic:
            refs = kb.references([target.source or ""])
            figure = f": {target.emg_mvic}% MVIC ({refs[0].citation if refs else target.source})"
        lines.append(f"  Targets {target.muscle}{figure}")
    lines += ["  Steps:"] + _numbered(exercise.steps, "    ")
    lines.append("  Cues: " + ", ".join(exercise.cues))
    lines.append("  Easier: " + (", ".join(e.id for e in kb.easier(exercise.id)) or "-"))
    lines.append("  Harder: " + (", ".join(e.id for e in kb.harder(exercise.id)) or "-"))
    return lines + _sources(kb, exercise.sources, "  ")


def _show_red_flag(kb: KnowledgeBase, flag: RedFlagView) -> list[str]:
    return [f"{flag.title} [red flag: {flag.id}] urgency: {flag.urgency}", *_wrap(flag.advice),
            f"  Screen: {_screen_rules(kb, flag.id)}; {len(flag.phrasings)} phrasings",
            *_sources(kb, flag.sources, "  ")]


def _screen_rules(kb: KnowledgeBase, flag_id: str) -> str:
    spec = (kb.safety_screen().get("flags") or {}).get(flag_id) or {}
    return f"{len(spec.get('clear') or ())} stop rule(s), {len(spec.get('possible') or ())} question rule(s)"


def _show_assessment(kb: KnowledgeBase, assessment: AssessmentView) -> list[str]:
    lines = [f"{assessment.title} [assessment: {assessment.id}]"]
    lines += _numbered(assessment.steps)
    lines += _wrap(f"Scoring: {assessment.scoring}")
    for result in assessment.results:
        faults = f" (faults: {', '.join(result.faults)})" if result.faults else ""
        lines += _wrap(f"{result.result}: {result.meaning}{faults}")
    return lines + _sources(kb, assessment.sources, "  ")


def _show_activity(kb: KnowledgeBase, activity: ActivityView) -> list[str]:
    evidence = "coaching practice (no study of this activity)" if activity.coaching_practice else "published"
    lines = [f"{activity.title} [{activity.kind}: {activity.id}] evidence: {evidence}", *_wrap(activity.summary),
             "  Names: " + ", ".join(activity.aliases), "", "Cues to carry into it, most important first:"]
    for n, cue in enumerate((kb.cue(c) for c in activity.cues), 1):
        lines.append(f"  {n}. {cue.title} [{cue.id}]: \"{cue.say}\"")
        lines += _sources(kb, cue.sources, "     ")
    lines += ["", "Faults that usually show up in it:"]
    for fault in (kb.fault(f) for f in activity.faults):
        lines.append(f"  - {fault.title} [{fault.id}]")
        lines += _sources(kb, fault.sources, "     ")
    lines += ["", "Primer drills, best first:"]
    for n, exercise in enumerate((kb.exercise(e) for e in activity.primer), 1):
        lines.append(f"  {n}. {exercise.title} [{exercise.id}] ({exercise.phase}, level {exercise.level}, "
                     f"equipment: {', '.join(exercise.equipment)})")
        lines += _sources(kb, exercise.sources, "     ")
    lines += ["", "Sources:"]
    lines += _sources(kb, activity.sources, "  ") or ["  none: coaching practice"]
    return lines


def cmd_show(engine: Engine, id: str, kb: KnowledgeBase | None = None) -> tuple[int, str]:
    """A readable page about one item; an unknown id gets one line suggesting near ids."""
    try:
        kb = kb or KnowledgeBase.load(engine)
    except KnowledgeBaseNotLoaded as exc:
        return 1, str(exc)
    except SQLAlchemyError as exc:
        return 1, _db_error(exc)
    kind = kb.kind_of(id)
    if kind is None:
        near = difflib.get_close_matches(id, kb.all_ids(), n=3, cutoff=0.6)
        near += [m.id for m in kb.find(id) if m.id not in near][: max(0, 3 - len(near))]
        hint = f"; did you mean {', '.join(near)}?" if near else "; no similar ids"
        return 1, f"unknown id '{id}'{hint}"
    if kind == "reference":
        ref = kb.reference(id)
        return 0, "\n".join([ref.citation, f"  {ref.authors}. {ref.published_in or ''}".rstrip(),
                             f"  {('doi:' + ref.doi) if ref.doi else ref.url}"])
    renderers = {"fault": _show_fault, "cue": _show_cue, "exercise": _show_exercise,
                 "red_flag": _show_red_flag, "assessment": _show_assessment, "activity": _show_activity}
    return 0, "\n".join(renderers[kind](kb, kb.get(kind, id)))
