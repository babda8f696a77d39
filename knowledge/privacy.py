"""A trainee's own data: export all of it, or erase all of it.

Every project table that holds per-person rows has a ``user_id`` column; both functions walk
the metadata, so a table added later is covered without touching this module.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from knowledge.db import Base, create_all, scrub_deleted


def _user_tables() -> list[Any]:
    create_all  # noqa: B018  (importing knowledge.db registers nothing; models are imported below)
    import knowledge.models  # noqa: F401

    return [t for t in Base.metadata.sorted_tables if "user_id" in t.c]


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def export_user(engine: Engine, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row about ``user_id``, by table, as JSON-ready dicts."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in _user_tables():
            rows = conn.execute(select(table).where(table.c.user_id == user_id)).mappings().all()
            if rows:
                out[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
        # Rows that hang off a session (items) carry no user_id: include them through their session.
        for table in Base.metadata.sorted_tables:
            if "session_id" in table.c and "user_id" not in table.c and "planned_sessions" in out:
                ids = [r["id"] for r in out["planned_sessions"]]
                rows = conn.execute(select(table).where(table.c.session_id.in_(ids))).mappings().all()
                if rows:
                    out[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
    return out


def delete_user(engine: Engine, user_id: str) -> int:
    """Erase every row about ``user_id``; return how many rows went."""
    removed = 0
    with engine.begin() as conn:
        session_tables = [t for t in Base.metadata.sorted_tables if "session_id" in t.c and "user_id" not in t.c]
        planned = Base.metadata.tables.get("planned_sessions")
        if planned is not None:
            ids = [r[0] for r in conn.execute(select(planned.c.id).where(planned.c.user_id == user_id))]
            for table in session_tables:
                if ids:
                    removed += conn.execute(delete(table).where(table.c.session_id.in_(ids))).rowcount or 0
        # Children first (reverse dependency order), the trainee row last.
        for table in reversed(_user_tables()):
            removed += conn.execute(delete(table).where(table.c.user_id == user_id)).rowcount or 0
    with engine.connect() as conn:
        scrub_deleted(conn)  # SQLite: out of the WAL too (secure_delete zeroed the pages)
    return removed
