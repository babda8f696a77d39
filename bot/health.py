"""``python -m bot health``: is everything the coach needs there and answering?

One line per check, ``<check> ok|FAIL <detail>``, and a non-zero exit status when any check
fails, so it serves as a deploy step, a systemd ``ExecStartPre=`` or a monitoring probe:

- database: connects; the schema is at the migrations' head; the knowledge-base tables are there
  and loaded. Nothing is created or migrated: a health check only looks.
- model: a trained model exists for the current inputs (config, domain, data, content).
- action server: ``ACTION_SERVER_URL``'s /health answers; unset, one is started briefly (as the
  bot would start its own) and must answer.
- safety: the red-flag screen is in the knowledge base, and no red-flag stop failed to be
  recorded (bot/safety_gate.py leaves a marker with the correlation id when one does).
- redis (only when ``REDIS_URL`` is set): answers PING, and a lock of the lock store can be taken
  and released.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, TextIO

from bot.settings import Settings

Check = Callable[[Settings], str]  # returns the detail of an ok result; raises CheckFailed


class CheckFailed(Exception):
    """A check's failure, with the reason to print."""


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return url.split("@")[-1]


def check_database(settings: Settings) -> str:
    from sqlalchemy import func, inspect, select

    from knowledge import migrate
    from knowledge.db import make_engine
    from knowledge.kb_models import KB_TABLES, KbExercise
    from knowledge.outbox import OutboxMessage

    url = settings.database_url
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:" and not Path(path).exists():
            raise CheckFailed(f"no database file at {path}: run scripts/setup (or start the coach once)")
    engine = make_engine(url)
    try:
        try:
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
                at = migrate.current(conn)
                missing = [t.name for t in KB_TABLES if t.name not in tables]
                exercises = conn.execute(select(func.count()).select_from(KbExercise.__table__)).scalar() if not missing else 0
                waiting = (
                    conn.execute(select(func.count()).select_from(OutboxMessage.__table__)).scalar()
                    if OutboxMessage.__tablename__ in tables else 0
                )
        except CheckFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to connect or read is the finding
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
            raise CheckFailed(f"{_shown_url(url)}: {type(exc).__name__}: {reason}") from exc
    finally:
        engine.dispose()
    expected = migrate.head()
    if at != expected:
        raise CheckFailed(
            f"{_shown_url(url)}: schema at {at or 'no revision'}, the code needs {expected} "
            "(it migrates at start; or run: python -m knowledge.migrate upgrade)"
        )
    if missing:
        raise CheckFailed(f"{_shown_url(url)}: knowledge-base tables missing ({', '.join(missing)}): run python -m bot kb load")
    if not exercises:
        raise CheckFailed(f"{_shown_url(url)}: the knowledge base is empty: run python -m bot kb load")
    # Replies Telegram would not take yet (bot/outbox.py): not a failure, but worth seeing.
    kept = f", {waiting} replies waiting in the outbox" if waiting else ""
    return f"{_shown_url(url)} (schema {at}, {len(KB_TABLES)} knowledge-base tables, {exercises} exercises{kept})"


def check_model(settings: Settings) -> str:
    from bot.training import current_model, fingerprint, model_path_for

    model = current_model()
    if model is None:
        raise CheckFailed(f"no model for the current inputs ({model_path_for(fingerprint()).name}): run python -m bot train")
    return str(model)


def check_action_server(settings: Settings) -> str:
    from bot.action_server import ActionServer, is_healthy
    from bot.errors import CoachError

    if settings.action_server_url:
        if not is_healthy(settings.action_server_url, timeout=5):
            raise CheckFailed(f"ACTION_SERVER_URL {settings.action_server_url} does not answer its /health")
        return f"{settings.action_server_url} answers"
    server = ActionServer(port=settings.action_server_port, env={"DATABASE_URL": settings.database_url})
    try:
        server.start()
        if not is_healthy(server.url, timeout=5):
            raise CheckFailed(f"started on port {server.port} but its /health does not answer; see {server.log_path}")
    except CoachError as exc:
        raise CheckFailed(str(exc)) from exc
    finally:
        server.stop()
    return f"ACTION_SERVER_URL unset: started one on port {server.port}; it answered; stopped"


def check_redis(settings: Settings) -> str:
    import redis

    from bot.rasa_bridge import lock_store_for

    url = settings.redis_url or ""
    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        client.ping()
        client.close()
        store = lock_store_for(url)
        conversation = f"health-check-{os.getpid()}"
        ticket = store.issue_ticket(conversation, lock_lifetime=10)
        held = store.get_lock(conversation)
        store.cleanup(conversation, ticket)
        if held is None or held.is_locked(ticket):
            raise CheckFailed(f"{_shown_redis(url)}: a lock taken in the lock store was not there")
    except CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - connection refused, auth, timeouts, LockError...
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise CheckFailed(f"{_shown_redis(url)}: {type(exc).__name__}: {reason}") from exc
    return f"{_shown_redis(url)} answers; the lock store takes and releases locks"


def _shown_redis(url: str) -> str:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname}:{parsed.port or 6379}{parsed.path}" if parsed.hostname else url


def check_safety(settings: Settings) -> str:
    """The red-flag screen is loaded, and no stop has failed to be recorded since the last one
    that was (the gate leaves a marker with the correlation id when a record fails)."""
    import json

    from knowledge.safety.records import failure_marker_path
    from knowledge.db import make_engine
    from knowledge.queries import KnowledgeBase

    marker = failure_marker_path()
    if marker.exists():
        try:
            failed = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            failed = {}
        raise CheckFailed(
            f"a red-flag stop could not be recorded at {failed.get('at', '?')} (correlation id "
            f"{failed.get('correlation_id', '?')}): see the log; {marker} goes when a stop is recorded again"
        )
    url = settings.database_url
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:" and not Path(path).exists():
            raise CheckFailed("no database, so no red-flag screen: run scripts/setup")
    engine = make_engine(url)
    try:
        kb = KnowledgeBase.load(engine)
    except Exception as exc:  # noqa: BLE001 - an unreadable knowledge base is the finding
        raise CheckFailed(f"the red-flag screen cannot be read: {type(exc).__name__}") from exc
    finally:
        engine.dispose()
    flags = kb.safety_screen().get("flags") or {}
    if not flags:
        raise CheckFailed("the knowledge base has no red-flag screen: run python -m bot kb load")
    return f"red-flag screen loaded ({len(flags)} flags, {len(kb.safety_screen().get('concepts') or ())} concepts); no failed stop record"


def checks_for(settings: Settings) -> list[tuple[str, Check]]:
    checks: list[tuple[str, Check]] = [
        ("database", check_database),
        ("safety", check_safety),
        ("model", check_model),
        ("action server", check_action_server),
    ]
    if settings.redis_url:
        checks.append(("redis", check_redis))
    return checks


def run_health(settings: Settings, out: TextIO | None = None) -> int:
    """Run every check, print one line each, return 0 when all are ok and 1 otherwise."""
    out = out or sys.stdout
    failures = 0
    for name, check in checks_for(settings):
        try:
            detail, ok = check(settings), True
        except CheckFailed as exc:
            detail, ok = str(exc), False
        except Exception as exc:  # noqa: BLE001 - a check that breaks is a failed check, not a crash
            detail, ok = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}", False
        failures += not ok
        print(f"{name:<14} {'ok' if ok else 'FAIL':<4}  {detail}", file=out, flush=True)
    return 1 if failures else 0
