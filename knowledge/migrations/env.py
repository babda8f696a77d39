"""Alembic environment for the coach's own tables (see knowledge/migrate.py).

Run by :func:`knowledge.migrate.upgrade` with the connection it holds (locked, in a
transaction), or by the ``alembic`` command line, which gets the same lock and transaction here.
"""
from __future__ import annotations

from alembic import context

from knowledge import migrate
from knowledge.db import get_engine

config = context.config


def run_migrations(connection) -> None:
    migrate.configure_context(context, connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported: migrations run against a database")

connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:  # the alembic command line: DATABASE_URL (or the default SQLite file)
    url = config.get_main_option("sqlalchemy.url") or None
    with migrate.migration_connection(get_engine(url)) as conn:
        run_migrations(conn)
