"""Schema migrations: models and migrations agree, upgrades keep data, every start migrates safely.

Each test runs on the back end under test (SQLite in the first run of scripts/test, PostgreSQL in
the second), in a database of its own: a file on SQLite, a new database on the same server on
PostgreSQL (dropped afterwards).
"""
from __future__ import annotations

import itertools
import os
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Text,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url

from knowledge import migrate
from knowledge.db import Base, create_all, make_engine

_counter = itertools.count()


@pytest.fixture()
def fresh_engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on the back end under test."""
    if database_url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    name = f"coach_migtest_{os.getpid()}_{next(_counter)}"
    admin = make_engine(make_url(database_url).set(database="postgres").render_as_string(hide_password=False))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(database_url).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def own_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) & set(Base.metadata.tables)


def snapshot(engine: Engine, columns: dict[str, list[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of every project table (only ``columns`` of each when given), in key order."""
    reflected = MetaData()
    reflected.reflect(engine)
    result: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        for name, table in reflected.tables.items():
            if name not in Base.metadata.tables:
                continue
            cols = [table.c[c] for c in (columns.get(name, []) if columns is not None else table.c.keys())]
            if not cols:
                continue
            order = list(table.primary_key.columns) or cols
            result[name] = [tuple(row) for row in conn.execute(select(*cols).order_by(*order))]
    return result


def value_for(column: Any, i: int, parents: dict[str, list[dict[str, Any]]]) -> Any:
    """A plausible value of ``column``'s type for row ``i``; foreign keys point at row ``i`` of the parent."""
    for fk in column.foreign_keys:
        rows = parents[fk.column.table.name]
        return rows[i % len(rows)][fk.column.name]
    kind = column.type
    if isinstance(kind, Boolean):
        return i % 2 == 0
    if isinstance(kind, Integer):
        return i + 1
    if isinstance(kind, DateTime):
        return datetime(2026, 3, 1 + i, 6, 30)
    if isinstance(kind, Date):
        return date(2026, 3, 1 + i)
    if isinstance(kind, JSON):
        return {"row": i, "items": ["a", "b"][: i + 1]}
    if isinstance(kind, (String, Text)):
        length = getattr(kind, "length", None) or 40
        return f"{column.name[:8]}-{i}"[:length]
    raise AssertionError(f"no sample value for {column.table.name}.{column.name} ({kind!r})")


def populate(engine: Engine, rows_per_table: int = 3) -> None:
    """Realistic rows where there is a loader (the knowledge base), generated rows elsewhere;
    written against the tables as they are in the database, so it works at any revision."""
    from knowledge.loader import load

    report = load(engine)
    assert report.ok, report.problems[:3]
    reflected = MetaData()
    reflected.reflect(engine)
    written: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        for table in reflected.sorted_tables:
            if table.name not in Base.metadata.tables:
                continue
            existing = [dict(r._mapping) for r in conn.execute(select(table))]
            if existing:
                written[table.name] = existing
                continue
            rows = [{c.name: value_for(c, i, written) for c in table.columns} for i in range(rows_per_table)]
            conn.execute(table.insert(), rows)
            written[table.name] = rows


def test_models_and_migrations_agree(fresh_engine: Engine) -> None:
    """Alembic's autogenerate finds nothing to do after the migrations: a model change without a
    migration (python -m knowledge.migrate revision -m ...) fails here."""
    migrate.upgrade(fresh_engine)
    with fresh_engine.connect() as conn:
        assert migrate.differences(conn) == []
    assert own_tables(fresh_engine) == set(Base.metadata.tables)
    assert migrate.current(fresh_engine) == migrate.head()


def test_upgrade_of_a_populated_database_from_the_first_revision_keeps_every_row(fresh_engine: Engine) -> None:
    revisions = migrate.revisions()
    assert len(revisions) >= 2, "needs at least two revisions to upgrade across"
    migrate.upgrade(fresh_engine, revisions[0])
    assert migrate.current(fresh_engine) == revisions[0]
    populate(fresh_engine)
    # The columns each table has at the first revision (a later one may add some).
    columns = {t: [c["name"] for c in inspect(fresh_engine).get_columns(t)] for t in own_tables(fresh_engine)}
    before = snapshot(fresh_engine, columns)
    assert before and all(before.values()), [t for t, rows in before.items() if not rows]

    create_all(fresh_engine)  # what every process does at start

    assert migrate.current(fresh_engine) == migrate.head()
    assert snapshot(fresh_engine, columns) == before
    with fresh_engine.connect() as conn:
        assert migrate.differences(conn) == []
    indexes = {ix["name"] for ix in inspect(fresh_engine).get_indexes("reminder_deliveries")}
    assert {"ix_reminder_deliveries_state_due", "ix_reminder_deliveries_user_id"} <= indexes


def test_downgrade_to_base_and_back(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    migrate.downgrade(fresh_engine, "base")
    assert own_tables(fresh_engine) == set()
    assert migrate.current(fresh_engine) is None
    create_all(fresh_engine)
    assert own_tables(fresh_engine) == set(Base.metadata.tables)


def test_a_database_created_before_migrations_is_adopted_with_its_data(fresh_engine: Engine) -> None:
    import knowledge.models  # noqa: F401

    Base.metadata.create_all(fresh_engine)  # how databases were made before migrations
    populate(fresh_engine)
    before = snapshot(fresh_engine)
    create_all(fresh_engine)
    assert migrate.current(fresh_engine) == migrate.head()
    assert snapshot(fresh_engine) == before


def test_only_the_knowledge_base_tables_present_is_adopted_too(fresh_engine: Engine) -> None:
    """``kb load`` on an empty database creates the knowledge-base tables alone; the next start migrates."""
    from knowledge.loader import load

    assert load(fresh_engine).ok
    kb_rows = snapshot(fresh_engine)
    create_all(fresh_engine)
    assert own_tables(fresh_engine) == set(Base.metadata.tables)
    assert migrate.current(fresh_engine) == migrate.head()
    assert {t: r for t, r in snapshot(fresh_engine).items() if t in kb_rows} == kb_rows


def test_an_old_database_that_differs_from_the_models_is_refused_untouched(fresh_engine: Engine) -> None:
    import knowledge.models  # noqa: F401

    Base.metadata.create_all(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_reminder_deliveries_user_id"))
    with pytest.raises(migrate.MigrationError, match="differ from the models"):
        create_all(fresh_engine)
    assert migrate.current(fresh_engine) is None
    assert "alembic_version" not in inspect(fresh_engine).get_table_names()


REBUILD_TRAINEES = '''
from alembic import op
import sqlalchemy as sa

revision = "t_rebuild"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    # On SQLite this copies the table: trainees is the parent of every per-person table.
    with op.batch_alter_table("trainees", recreate="auto") as batch_op:
        batch_op.alter_column("goal", existing_type=sa.Text(), type_=sa.String(500), existing_nullable=True)


def downgrade():
    with op.batch_alter_table("trainees", recreate="auto") as batch_op:
        batch_op.alter_column("goal", existing_type=sa.String(500), type_=sa.Text(), existing_nullable=True)
'''


def test_a_migration_that_rebuilds_a_parent_table_keeps_its_children(fresh_engine: Engine, tmp_path: Path) -> None:
    """SQLite rebuilds a table to alter it; with foreign keys on, dropping the old ``trainees`` would
    cascade-delete every session, check-in and pain entry. Migrations run with them off."""
    create_all(fresh_engine)
    populate(fresh_engine)
    before = snapshot(fresh_engine)
    versions = tmp_path / "extra_versions"
    versions.mkdir()
    (versions / "t_rebuild.py").write_text(REBUILD_TRAINEES.format(head=migrate.head()))

    migrate.upgrade(fresh_engine, "head", extra_versions=[versions])

    assert migrate.current(fresh_engine) == "t_rebuild"
    assert snapshot(fresh_engine) == before
    if fresh_engine.dialect.name == "sqlite":
        with fresh_engine.connect() as conn:  # and the pool's connections enforce foreign keys again
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    migrate.downgrade(fresh_engine, migrate.head(), extra_versions=[versions])
    assert snapshot(fresh_engine) == before


def at_once(work: Callable[[Engine], Any], engines: list[Engine]) -> list[BaseException]:
    """Run ``work`` on every engine in its own thread, all released together; the errors raised."""
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            barrier.wait()
            work(engine)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def select_one(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def test_connections_opening_a_new_sqlite_file_together_all_succeed(tmp_path: Path) -> None:
    """The first connections to a new SQLite file switch it to WAL; SQLite answers a concurrent
    switch with an immediate "database is locked" (no busy wait), which once failed a start.

    A plain SQLite file on every back end: this is the embedded default's set-up, not the server's."""
    errors: list[BaseException] = []
    for round_ in range(100):
        engines = [make_engine(f"sqlite:///{tmp_path / f'new-{round_}.db'}") for _ in range(6)]
        errors += at_once(select_one, engines)
        with engines[0].connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        for engine in engines:
            engine.dispose()
    assert errors == []


def test_processes_starting_together_migrate_once(fresh_engine: Engine) -> None:
    """Bot, action server and scheduler workers may all start at once on a new database."""
    url = fresh_engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url) for _ in range(3)]
    errors = at_once(create_all, engines)
    for engine in engines:
        engine.dispose()
    assert errors == []
    assert migrate.current(fresh_engine) == migrate.head()
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
