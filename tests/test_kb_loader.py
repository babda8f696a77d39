"""The loader: all or nothing, idempotent, and an edit touches exactly the rows it affects."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from knowledge.db import make_engine
from knowledge.kb_commands import cmd_load
from knowledge.kb_models import KB_TABLES, KbAlias, KbExercise, KbFaultExercise, KbItemReference, KbMeta
from knowledge.loader import load
from knowledge.validate import content_fingerprint
from tests.test_kb_validate import ContentCopy


@pytest.fixture
def content(tmp_path: Path) -> ContentCopy:
    return ContentCopy(tmp_path)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    yield engine
    engine.dispose()


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every kb_ table, sorted, for before/after comparisons."""
    with engine.connect() as conn:
        return {table.name: sorted((tuple(map(repr, row)) for row in conn.execute(select(table))))
                for table in KB_TABLES}


def test_first_load_creates_tables_and_writes_everything(content: ContentCopy, engine: Engine) -> None:
    report = load(engine, content.dir)
    assert report.ok and report.items == 28
    rows = snapshot(engine)
    assert len(rows["kb_faults"]) == 3 and len(rows["kb_exercises"]) == 8 and len(rows["kb_references"]) == 6
    assert len(rows["kb_activities"]) == 2 and len(rows["kb_activity_primers"]) == 5
    assert report.inserted["kb_exercises"] == 8 and report.changed == sum(len(r) for r in rows.values())
    with engine.connect() as conn:
        why = conn.execute(select(KbFaultExercise.position, KbFaultExercise.exercise_id)
                           .where(KbFaultExercise.fault_id == "hip_drop").order_by(KbFaultExercise.position)).all()
        assert [exercise for _, exercise in why] == ["side_lying_hip_abduction", "clamshell", "single_leg_romanian_deadlift"]
        alias = conn.execute(select(KbAlias.kind, KbAlias.item_id).where(KbAlias.alias == "clam")).one()
        assert tuple(alias) == ("exercise", "clamshell")
        fingerprint = conn.execute(select(KbMeta.value).where(KbMeta.key == "fingerprint")).scalar_one()
    assert fingerprint == content_fingerprint(content.dir) == report.fingerprint


def test_loading_twice_changes_nothing(content: ContentCopy, engine: Engine) -> None:
    load(engine, content.dir)
    before = snapshot(engine)
    report = load(engine, content.dir)
    assert report.ok and report.changed == 0 and report.changed_tables() == set()
    assert "0 changed" in report.summary()
    assert snapshot(engine) == before


def test_invalid_content_writes_nothing_not_even_tables(content: ContentCopy, engine: Engine) -> None:
    content.replace("exercises.yaml", "    phase: loading", "    phase: heavy")
    report = load(engine, content.dir)
    assert not report.ok and report.changed == 0
    assert not any(name.startswith("kb_") for name in inspect(engine).get_table_names())


def test_broken_file_leaves_a_loaded_database_exactly_as_it_was(content: ContentCopy, engine: Engine) -> None:
    load(engine, content.dir)
    before = snapshot(engine)
    # A valid edit in one file plus a syntax error in another: neither may reach the database.
    content.replace("cues.yaml", 'say: "Keep your ribs stacked over your pelvis."', 'say: "Ribs down."')
    content.replace("references.yaml", "    year: 2009\n", "    year: [2009\n")
    code, text = cmd_load(engine, content.dir)
    assert code == 1
    assert text.splitlines()[-1].endswith("1 problem(s); nothing was written")
    assert snapshot(engine) == before


def test_editing_one_file_updates_only_its_rows(content: ContentCopy, engine: Engine) -> None:
    load(engine, content.dir)
    before = snapshot(engine)
    content.replace("exercises.yaml", "    level: 3\n    equipment: [bench]", "    level: 4\n    equipment: [bench]")
    report = load(engine, content.dir)
    assert report.updated == {**{t.name: 0 for t in KB_TABLES}, "kb_exercises": 1, "kb_meta": 1}
    assert sum(report.inserted.values()) == sum(report.deleted.values()) == 0
    after = snapshot(engine)
    assert {name for name in after if after[name] != before[name]} == {"kb_exercises", "kb_meta"}
    with engine.connect() as conn:
        assert conn.execute(select(KbExercise.level).where(KbExercise.id == "hip_thrust")).scalar_one() == 4


def test_removed_items_and_links_are_deleted(content: ContentCopy, engine: Engine) -> None:
    load(engine, content.dir)
    # Drop the bird dog everywhere it is mentioned: its row, links, aliases and sources go.
    text = content.text("exercises.yaml")
    start = text.index("  - id: bird_dog")
    end = text.index("  - id: single_leg_romanian_deadlift")
    content.path("exercises.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    content.replace("faults.yaml", '      - id: bird_dog\n        why: "Extending the hip with a still spine teaches the back to stay quiet."',
                    '      - id: hip_thrust\n        why: "Loaded hip extension once the bridge is easy."')
    content.replace("cues.yaml", "    exercises: [glute_bridge, bird_dog]", "    exercises: [glute_bridge]")
    report = load(engine, content.dir)
    assert report.ok, report.problems
    assert report.deleted["kb_exercises"] == 1
    assert report.deleted["kb_aliases"] == 2  # "bird dog" (also its plural) and "quadruped arm and leg lift"
    with engine.connect() as conn:
        assert conn.execute(select(KbExercise.id).where(KbExercise.id == "bird_dog")).first() is None
        assert conn.execute(select(KbItemReference).where(KbItemReference.item_id == "bird_dog")).first() is None
        links = conn.execute(select(KbFaultExercise.exercise_id, KbFaultExercise.position)
                             .where(KbFaultExercise.fault_id == "lumbar_dominance")
                             .order_by(KbFaultExercise.position)).all()
    assert [tuple(row) for row in links] == [("glute_bridge", 0), ("hip_thrust", 1)]


def test_reordering_links_updates_positions(content: ContentCopy, engine: Engine) -> None:
    load(engine, content.dir)
    content.replace("faults.yaml", "    cues: [push_knees_out, knees_track_toes]", "    cues: [knees_track_toes, push_knees_out]")
    report = load(engine, content.dir)
    assert report.updated["kb_fault_cues"] == 2 and report.changed_tables() == {"kb_fault_cues", "kb_meta"}


def test_cmd_load_reports_one_line(content: ContentCopy, engine: Engine) -> None:
    code, text = cmd_load(engine, content.dir)
    assert code == 0 and len(text.splitlines()) == 1 and "160 rows changed" in text
    code, text = cmd_load(engine, content.dir)
    assert code == 0 and "already up to date (0 changed)" in text


def test_cmd_load_database_error_is_one_line(content: ContentCopy, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'kb.db'}")
    code, text = cmd_load(engine, content.dir)
    assert code == 1 and text.startswith("database error: ") and "\n" not in text


@pytest.mark.postgres
def test_same_behaviour_on_postgresql(content: ContentCopy, engine: Engine) -> None:
    import os

    from knowledge.db import Base
    from knowledge.queries import KnowledgeBase

    url = os.environ.get("DATABASE_URL_PG")
    if not url:
        pytest.skip("DATABASE_URL_PG is not set")
    pg = make_engine(url)
    Base.metadata.drop_all(pg, tables=KB_TABLES)
    try:
        first = load(pg, content.dir)
        assert first.ok and first.changed == load(engine, content.dir).changed
        assert load(pg, content.dir).changed == 0  # JSON columns compare equal after the round trip
        content.replace("exercises.yaml", "rest_seconds: 90}", "rest_seconds: 120}")
        assert load(pg, content.dir).changed_tables() == {"kb_exercises", "kb_meta"}
        load(engine, content.dir)
        on_pg, on_sqlite = KnowledgeBase.load(pg), KnowledgeBase.load(engine)
        assert on_pg.exercises() == on_sqlite.exercises() and on_pg.faults() == on_sqlite.faults()
        assert on_pg.find("clamshels") == on_sqlite.find("clamshels")
    finally:
        Base.metadata.drop_all(pg, tables=KB_TABLES)
        pg.dispose()
