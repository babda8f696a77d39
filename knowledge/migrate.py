"""Schema migrations (Alembic) for the project's own tables.

Every table on ``knowledge.db.Base.metadata`` is created and changed only by the revisions in
``knowledge/migrations/versions``; Rasa's ``events`` table (its tracker store) is Rasa's and is
never touched. :func:`knowledge.db.create_all` calls :func:`upgrade`, so every process that
opens the database (bot, action server, scheduler workers, tests) brings it to head at start.

Safe when several processes start at once: the work runs under a lock (a transaction-level
advisory lock on PostgreSQL, a lock file next to the database on SQLite) and re-checks the
version inside it. On PostgreSQL the whole upgrade is one transaction. On SQLite, changes to an
existing table are made in batch mode (a copy of the table), with foreign keys off while it runs
(dropping a parent table would otherwise cascade its children away) and checked afterwards.

A database created before migrations existed (tables, no ``alembic_version``) is adopted: any
missing table is created, the schema is compared with the models, and when they agree it is
stamped at head; when they do not, nothing is guessed and :class:`MigrationError` says so.

Command line (the database is ``DATABASE_URL``, as for the coach)::

    python -m knowledge.migrate upgrade          # what every start does anyway
    python -m knowledge.migrate current          # the database's revision and the code's head
    python -m knowledge.migrate check            # do the models and the migrations agree?
    python -m knowledge.migrate revision -m "add trainees.nickname"   # autogenerate the next one
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock key: "coachmig" as a 64-bit integer, the same in every process.
PG_LOCK_KEY = int.from_bytes(b"coachmig", "big") & 0x7FFF_FFFF_FFFF_FFFF


class MigrationError(RuntimeError):
    """The database cannot be brought to the code's schema without a person deciding how."""


# --- configuration ------------------------------------------------------------------------------

def _metadata():
    import knowledge.models  # noqa: F401  (registers every table)
    from knowledge.db import Base

    return Base.metadata


def alembic_config(connection: Connection | None = None, extra_versions: Sequence[Path | str] = ()) -> Any:
    """An Alembic ``Config`` without an ini file; ``connection`` is used by ``env.py`` when given."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "40")
    locations = [str(VERSIONS_DIR), *(str(p) for p in extra_versions)]
    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=8)
def _script(extra_versions: tuple[str, ...] = ()) -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(extra_versions=extra_versions))


def head(extra_versions: Sequence[Path | str] = ()) -> str:
    """The revision the code expects (exactly one head: migrations never branch here)."""
    heads = _script(tuple(str(p) for p in extra_versions)).get_heads()
    if len(heads) != 1:
        raise MigrationError(f"the migrations have {len(heads)} heads ({', '.join(heads)}); merge them")
    return heads[0]


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    return [s.revision for s in reversed(list(_script().walk_revisions()))]


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Only the project's tables: Rasa's ``events`` and anything else sharing the database is not ours.

    (A table removed from the models is therefore not dropped by autogenerate: write that
    ``op.drop_table`` by hand.)"""
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types (``UTCDateTime``) as what they store, so migrations never import
    model code, which changes after the migration was written."""
    from sqlalchemy.types import TypeDecorator

    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def configure_context(context: Any, connection: Connection) -> None:
    """The options ``env.py`` and :func:`differences` share."""
    context.configure(
        connection=connection,
        target_metadata=_metadata(),
        render_as_batch=True,  # SQLite alters tables by copying them
        include_object=include_object,
        render_item=render_item,
        compare_type=True,
        version_table=VERSION_TABLE,
    )


# --- locking ------------------------------------------------------------------------------------

def _sqlite_path(engine: Engine) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return database


@contextlib.contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction, holding the migration lock; committed on success.

    SQLite: foreign keys are off while the migration runs, checked (``foreign_key_check``)
    before the commit, and on again before the connection goes back to the pool."""
    if engine.dialect.name == "sqlite":
        path = _sqlite_path(engine)
        with contextlib.ExitStack() as stack:
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                handle = stack.enter_context(open(f"{path}.migrate-lock", "a+b"))
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            with engine.connect() as conn:
                # PRAGMA foreign_keys is a no-op inside a transaction: pysqlite has not begun one
                # yet (it begins before the first INSERT/UPDATE/DELETE), so this takes effect.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                try:
                    yield conn
                    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if problems:
                        conn.rollback()
                        raise MigrationError(f"the migration broke {len(problems)} foreign key(s), e.g. {tuple(problems[0])}")
                    conn.commit()
                except BaseException:
                    if conn.in_transaction():
                        conn.rollback()
                    raise
                finally:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    if conn.in_transaction():
                        conn.commit()
        return
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # Held until this transaction ends: a second process waits here, then finds head.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        else:
            conn.begin()
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


# --- what the database is at --------------------------------------------------------------------

def current(connection_or_engine: Connection | Engine) -> str | None:
    """The database's revision, or None when it has never been migrated."""
    from alembic.runtime.migration import MigrationContext

    if isinstance(connection_or_engine, Engine):
        with connection_or_engine.connect() as conn:
            return current(conn)
    heads = MigrationContext.configure(connection_or_engine, opts={"version_table": VERSION_TABLE}).get_current_heads()
    return heads[0] if heads else None


def differences(connection: Connection) -> list[Any]:
    """Alembic's autogenerate comparison of the database with the models ([] when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(
        connection,
        opts={
            "target_metadata": _metadata(),
            "include_object": include_object,
            "compare_type": True,
            "version_table": VERSION_TABLE,
        },
    )
    return compare_metadata(ctx, _metadata())


def _own_tables_present(connection: Connection) -> list[str]:
    names = set(inspect(connection).get_table_names())
    return sorted(names & set(_metadata().tables))


def _adopt(connection: Connection, cfg: Any) -> None:
    """Stamp a database created before migrations, if (and only if) it matches the models."""
    from alembic import command

    _metadata().create_all(connection)  # checkfirst: only the tables that are missing
    diff = differences(connection)
    if diff:
        shown = "; ".join(str(d) for d in diff[:3])
        raise MigrationError(
            "the database has the coach's tables but no migration history, and they differ from the "
            f"models ({len(diff)} difference(s): {shown}); back it up and migrate it by hand"
        )
    command.stamp(cfg, "head")


# --- the entry points ----------------------------------------------------------------------------

def upgrade(engine: Engine, revision: str = "head", *, extra_versions: Sequence[Path | str] = ()) -> None:
    """Bring the database to ``revision`` (default: head). Idempotent and cheap when up to date.

    ``extra_versions``: more version folders (tests use it to chain a revision after head)."""
    from alembic import command

    extra = tuple(str(p) for p in extra_versions)
    target = head(extra) if revision == "head" else revision
    if current(engine) == target:  # the usual case: one query, no lock
        return
    with migration_connection(engine) as conn:
        cfg = alembic_config(conn, extra)
        at = current(conn)
        if at == target:  # another process did it while we waited for the lock
            return
        if at is None and revision == "head" and _own_tables_present(conn):
            _adopt(conn, cfg)
            if current(conn) == target:
                return
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str, *, extra_versions: Sequence[Path | str] = ()) -> None:
    """Take the database back to ``revision`` ("base": drop every project table)."""
    from alembic import command

    with migration_connection(engine) as conn:
        command.downgrade(alembic_config(conn, extra_versions), revision)


def new_revision(message: str) -> Path:
    """Autogenerate the next revision from the models, compared with head built in a scratch
    SQLite database (review it: autogenerate misses renames and data changes)."""
    import tempfile

    from alembic import command

    from knowledge.db import make_engine

    existing = revisions()
    rev_id = f"{len(existing) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scratch.db")
        if existing:
            upgrade(engine)
        with migration_connection(engine) as conn:
            script = command.revision(alembic_config(conn), message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    _script.cache_clear()
    return Path(script.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge.migrate", description="Schema migrations of the coach's tables.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("upgrade", help="bring DATABASE_URL to head")
    sub.add_parser("current", help="print the database's revision and the code's head")
    sub.add_parser("check", help="exit 1 when the models differ from head (compared in a scratch database)")
    rev = sub.add_parser("revision", help="autogenerate the next revision from the models")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)

    from knowledge.db import get_engine, make_engine

    if args.command == "upgrade":
        engine = get_engine()
        upgrade(engine)
        print(f"at {current(engine)}")
    elif args.command == "current":
        print(f"database: {current(get_engine()) or 'none (never migrated)'}; code: {head()}")
    elif args.command == "check":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/scratch.db")
            upgrade(engine)
            with engine.connect() as conn:
                diff = differences(conn)
            engine.dispose()
        for item in diff:
            print(item)
        print("models and migrations agree" if not diff else f"{len(diff)} difference(s): write a revision")
        return 1 if diff else 0
    else:
        print(new_revision(args.message))
    return 0


if __name__ == "__main__":
    sys.exit(main())
