"""Writes the validated content files into the ``kb_`` tables.

All or nothing: the content is validated first and, if anything is wrong, nothing is written
(not even the tables are created). Otherwise the desired rows are computed and diffed against
the database inside one transaction, so reloading unchanged content changes nothing and an
edit touches exactly the rows it affects (items removed from a file are deleted).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from sqlalchemy import Table, and_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import sort_tables

from knowledge.db import Base
from knowledge.kb_models import (
    KB_TABLES, KbActivity, KbActivityCue, KbActivityFault, KbActivityPrimer, KbAlias, KbAssessment, KbCue, KbCueExercise, KbCueFault, KbDocument, KbExercise,
    KbExerciseCue, KbExerciseMistake, KbExerciseStep, KbFault, KbFaultCue, KbFaultExercise,
    KbItemReference, KbMeta, KbRedFlag, KbReference,
)
from knowledge.english import normalise
from knowledge.validate import (
    USE_DEFAULT_REQUIRED, DEFAULT_CONTENT_DIR, ContentSet, Problem, validate,
)

PrimaryKey = tuple[Any, ...]
TableRows = dict[PrimaryKey, dict[str, Any]]


@dataclass
class LoadReport:
    """What a load did; ``problems`` non-empty means nothing was written."""

    problems: list[Problem] = field(default_factory=list)
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    items: int = 0
    fingerprint: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def errors(self) -> list[Problem]:
        """Same as ``problems`` (the name some callers use)."""
        return self.problems

    @property
    def changed(self) -> int:
        return sum(self.inserted.values()) + sum(self.updated.values()) + sum(self.deleted.values())

    def changed_tables(self) -> set[str]:
        return {name for counts in (self.inserted, self.updated, self.deleted)
                for name, count in counts.items() if count}

    def summary(self) -> str:
        if not self.ok:
            return f"{len(self.problems)} problem(s); nothing was written"
        if not self.changed:
            return f"{self.items} items, already up to date (0 changed)"
        parts = []
        for name in sorted(self.changed_tables()):
            counts = [f"+{self.inserted.get(name, 0)}" if self.inserted.get(name) else "",
                      f"~{self.updated.get(name, 0)}" if self.updated.get(name) else "",
                      f"-{self.deleted.get(name, 0)}" if self.deleted.get(name) else ""]
            parts.append(f"{name} {' '.join(c for c in counts if c)}")
        return (f"{self.items} items, {self.changed} rows changed "
                f"({sum(self.inserted.values())} inserted, {sum(self.updated.values())} updated, "
                f"{sum(self.deleted.values())} deleted): " + "; ".join(parts))


def _links(rows: TableRows, owner: str, owner_id: str, other: str, targets: Iterable[str],
           **extra: Any) -> None:
    for position, target in enumerate(dict.fromkeys(targets)):  # first mention wins
        rows[(owner_id, target)] = {owner: owner_id, other: target, "position": position, **extra}


def desired_rows(content: ContentSet) -> dict[Table, TableRows]:
    """Every row the ``kb_`` tables should hold for ``content``, keyed by primary key."""
    rows: dict[Table, TableRows] = {table: {} for table in KB_TABLES}

    def table_rows(model: Any) -> TableRows:
        return rows[model.__table__]

    for item in content.items["reference"]:
        table_rows(KbReference)[(item["id"],)] = {
            "id": item["id"], "authors": item["authors"], "year": item["year"], "title": item["title"],
            "published_in": item.get("published_in"), "doi": item.get("doi"), "url": item.get("url"),
        }

    def sources(kind: str, item: Mapping[str, Any]) -> None:
        for position, reference_id in enumerate(dict.fromkeys(item.get("sources") or [])):
            table_rows(KbItemReference)[(kind, item["id"], reference_id)] = {
                "kind": kind, "item_id": item["id"], "reference_id": reference_id, "position": position}

    def aliases(kind: str, item: Mapping[str, Any]) -> None:
        for alias in item.get("aliases") or []:
            table_rows(KbAlias)[(normalise(alias),)] = {"alias": normalise(alias), "kind": kind, "item_id": item["id"]}

    for position, item in enumerate(content.items["fault"]):
        table_rows(KbFault)[(item["id"],)] = {
            "id": item["id"], "position": position, "title": item["title"], "aliases": list(item["aliases"]),
            "phrasings": list(item["phrasings"]), "summary": item["summary"], "mechanism": item["mechanism"],
            "self_check": item["self_check"], "see_a_professional": item["see_a_professional"],
        }
        _links(table_rows(KbFaultCue), "fault_id", item["id"], "cue_id", item["cues"])
        fault_exercises = table_rows(KbFaultExercise)
        for index, entry in enumerate(item["exercises"]):
            fault_exercises.setdefault((item["id"], entry["id"]), {
                "fault_id": item["id"], "exercise_id": entry["id"], "position": index, "why": entry["why"]})
        sources("fault", item)
        aliases("fault", item)

    for position, item in enumerate(content.items["cue"]):
        table_rows(KbCue)[(item["id"],)] = {
            "id": item["id"], "position": position, "title": item["title"], "say": item["say"],
            "aliases": list(item["aliases"]), "why": item["why"], "feels_like": item["feels_like"],
        }
        _links(table_rows(KbCueExercise), "cue_id", item["id"], "exercise_id", item["exercises"])
        _links(table_rows(KbCueFault), "cue_id", item["id"], "fault_id", item["faults"])
        sources("cue", item)
        aliases("cue", item)

    for position, item in enumerate(content.items["exercise"]):
        table_rows(KbExercise)[(item["id"],)] = {
            "id": item["id"], "position": position, "title": item["title"], "aliases": list(item["aliases"]),
            "targets": [{"muscle": t["muscle"], "emg_mvic": None if t.get("emg_mvic") is None else str(t["emg_mvic"]),
                         "source": t.get("source")} for t in item["targets"]],
            "phase": item["phase"], "level": item["level"], "equipment": list(item["equipment"]),
            "dosage": item["dosage"], "steps": list(item["steps"]), "cautions": list(item["cautions"]),
            "positions": item["positions"],
        }
        _links(table_rows(KbExerciseCue), "exercise_id", item["id"], "cue_id", item["cues"])
        _links(table_rows(KbExerciseMistake), "exercise_id", item["id"], "fault_id", item["mistakes"])
        for direction in ("easier", "harder"):
            for index, other in enumerate(dict.fromkeys(item[direction])):
                table_rows(KbExerciseStep)[(item["id"], direction, other)] = {
                    "exercise_id": item["id"], "direction": direction, "other_id": other, "position": index}
        sources("exercise", item)
        aliases("exercise", item)

    for position, item in enumerate(content.items["red_flag"]):
        table_rows(KbRedFlag)[(item["id"],)] = {
            "id": item["id"], "position": position, "title": item["title"],
            "aliases": list(item.get("aliases") or []), "urgency": item["urgency"],
            "phrasings": list(item["phrasings"]), "advice": item["advice"],
        }
        sources("red_flag", item)
        aliases("red_flag", item)

    for position, item in enumerate(content.items["assessment"]):
        table_rows(KbAssessment)[(item["id"],)] = {
            "id": item["id"], "position": position, "title": item["title"], "aliases": list(item["aliases"]),
            "steps": list(item["steps"]), "scoring": item["scoring"], "picture": item.get("picture"),
            "results": [{"result": r["result"], "label": r.get("label") or r["result"].replace("_", " ").capitalize(),
                         "says": list(r.get("says") or []), "meaning": r["meaning"],
                         "faults": list(r.get("faults") or []), "starting_phase": r.get("starting_phase")}
                        for r in item["results"]],
        }
        sources("assessment", item)
        aliases("assessment", item)

    for position, item in enumerate(content.items["activity"]):
        table_rows(KbActivity)[(item["id"],)] = {
            "id": item["id"], "position": position, "title": item["title"], "kind": item["kind"],
            "aliases": list(item["aliases"]), "summary": item["summary"], "evidence": item["evidence"],
        }
        _links(table_rows(KbActivityCue), "activity_id", item["id"], "cue_id", item["cues"])
        _links(table_rows(KbActivityFault), "activity_id", item["id"], "fault_id", item["faults"])
        _links(table_rows(KbActivityPrimer), "activity_id", item["id"], "exercise_id", item["primer"])
        sources("activity", item)  # activity names stay out of kb_aliases: their own namespace

    for name, document in content.documents.items():
        table_rows(KbDocument)[(name,)] = {"name": name, "data": document}
    table_rows(KbMeta)[("fingerprint",)] = {"key": "fingerprint", "value": content.fingerprint}
    return rows


def _primary_key(table: Table, row: Mapping[str, Any]) -> PrimaryKey:
    return tuple(row[column.name] for column in table.primary_key.columns)


def _where_pk(table: Table, key: PrimaryKey) -> Any:
    return and_(*(column == value for column, value in zip(table.primary_key.columns, key)))


def _sync(conn: Connection, wanted: dict[Table, TableRows], report: LoadReport) -> None:
    ordered = sort_tables(KB_TABLES)  # parents before the link tables that point at them
    existing: dict[Table, TableRows] = {}
    for table in ordered:
        existing[table] = {_primary_key(table, row): dict(row) for row in conn.execute(select(table)).mappings()}
    # Deletes go children first so foreign keys never point at a missing row.
    for table in reversed(ordered):
        gone = [key for key in existing[table] if key not in wanted[table]]
        for key in gone:
            conn.execute(table.delete().where(_where_pk(table, key)))
        report.deleted[table.name] = len(gone)
    for table in ordered:
        new_rows = [row for key, row in wanted[table].items() if key not in existing[table]]
        if new_rows:
            conn.execute(table.insert(), new_rows)
        report.inserted[table.name] = len(new_rows)
        updated = 0
        for key, row in wanted[table].items():
            old = existing[table].get(key)
            if old is not None and any(old[name] != value for name, value in row.items()):
                conn.execute(table.update().where(_where_pk(table, key)).values(**row))
                updated += 1
        report.updated[table.name] = updated


def load(engine: Engine, content_dir: Path | str = DEFAULT_CONTENT_DIR,
         required_ids: Mapping[str, Iterable[str]] | None = USE_DEFAULT_REQUIRED) -> LoadReport:
    """Validate ``content_dir`` and, only if it is valid, bring the ``kb_`` tables in line with it."""
    result = validate(content_dir, required_ids)
    report = LoadReport(problems=list(result.problems), items=result.content.count(),
                        fingerprint=result.content.fingerprint)
    if not result.ok:
        return report
    wanted = desired_rows(result.content)
    from knowledge.db import create_all

    create_all(engine)  # the schema comes from the migrations, like everywhere else
    with engine.begin() as conn:
        _sync(conn, wanted, report)
    return report
