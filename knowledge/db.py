"""Database access shared by every part of the coach.

One schema serves SQLite (the embedded default) and PostgreSQL. Code is written in
SQLAlchemy 2.0 style on the 1.4 release that Rasa pins: ``future=True`` engines and
``select()`` queries.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Iterator, Sequence, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import declarative_base, sessionmaker

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("COACH_VAR_DIR", PROJECT_ROOT / "var"))

Base = declarative_base()
T = TypeVar("T")


def default_database_url() -> str:
    """``DATABASE_URL`` when set, otherwise a SQLite file under ``var/``."""
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs say postgres://; SQLAlchemy 1.4 only knows postgresql://.
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        return url
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{VAR_DIR / 'coach.db'}"


def _use_wal(cursor, wait_s: float = 10.0) -> None:
    """Switch the file to WAL (it stays so), retrying while another connection holds it.

    SQLite does not call the busy handler for a journal-mode change: processes opening a new
    database at once (bot, action server, scheduler) got an immediate "database is locked"."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the bot and the action server read while the other writes;
    # busy_timeout turns a brief lock into a wait instead of an error.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    _use_wal(cursor)
    # With WAL, NORMAL keeps the database consistent after a crash; only the last commits before
    # a power loss can be lost, not a process kill.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, not left in free pages until reused: after
    # /delete a person's words are not in the file's raw bytes (see scrub_deleted for the WAL).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def scrub_deleted(connection) -> bool:  # type: ignore[no-untyped-def]
    """On SQLite, after a deletion that must not linger (``/delete``): copy the WAL into the
    database and truncate it, so the deleted text is in neither file. Returns False when a
    reader kept the checkpoint from finishing (the WAL's old frames are then overwritten as it
    is reused, and the next scrub truncates it). A no-op elsewhere: PostgreSQL's VACUUM is the
    operator's (docs/deploy.md)."""
    if connection.dialect.name != "sqlite":
        return True
    busy, _log, _done = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return not busy


_engines: dict[str, Engine] = {}


def make_engine(url: str | None = None) -> Engine:
    """A new engine for ``url`` (default: :func:`default_database_url`)."""
    url = url or default_database_url()
    if url.startswith("sqlite"):
        from sqlalchemy.pool import QueuePool, StaticPool

        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine(url, future=True, poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            # A pool of open connections: SQLAlchemy 1.4's default for file SQLite opens one per
            # session, which cost ~15 ms per database round (measured in bench/).
            engine = create_engine(
                url, future=True, poolclass=QueuePool, pool_size=5, max_overflow=10,
                connect_args={"timeout": 10, "check_same_thread": False},
            )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """A process-wide engine per URL, so connection pools are shared."""
    url = url or default_database_url()
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def in_chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: bounded ``IN (...)`` lists (SQLite caps a statement's
    parameters)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, future=True, expire_on_commit=False)


def create_all(engine: Engine) -> None:
    """Bring the project's own tables to the current schema (idempotent; cheap when up to date).

    The one entry point for every process: it applies the Alembic migrations in
    ``knowledge/migrations`` (see :mod:`knowledge.migrate`), never ``metadata.create_all``."""
    from knowledge.migrate import upgrade

    upgrade(engine)
