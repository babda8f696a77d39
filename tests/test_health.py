"""``python -m bot health``: one line per check, exit status non-zero on any failure."""
from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.action_server import ActionServer, free_port
from bot.health import run_health
from bot.settings import Settings
from knowledge.db import PROJECT_ROOT, create_all, make_engine
from tests.test_redis_lock import redis_url_or_skip


def lines_of(output: str) -> dict[str, tuple[str, str]]:
    result = {}
    for line in output.splitlines():
        name, rest = line[:14].strip(), line[14:].strip()
        status, _, detail = rest.partition("  ")
        result[name] = (status.strip(), detail.strip())
    return result


def health(settings: Settings) -> tuple[int, dict[str, tuple[str, str]]]:
    out = io.StringIO()
    code = run_health(settings, out=out)
    return code, lines_of(out.getvalue())


@pytest.fixture()
def loaded_database(database_url: str) -> str:
    """The suite's database, migrated and with the knowledge base loaded (as a deploy leaves it)."""
    from bot.training import prepare_knowledge

    prepare_knowledge(lambda _m: None)
    return database_url


def test_all_ok_starting_its_own_action_server(trained_model: Path, loaded_database: str) -> None:
    settings = dataclasses.replace(Settings.from_env(), database_url=loaded_database, action_server_url=None,
                                   redis_url=os.environ.get("REDIS_URL") or None)
    code, lines = health(settings)
    assert code == 0, lines
    assert lines["database"][0] == "ok" and "exercises" in lines["database"][1]
    assert lines["model"] == ("ok", str(trained_model))
    assert lines["action server"][0] == "ok" and "started one" in lines["action server"][1]
    assert ("redis" in lines) == bool(settings.redis_url)
    assert all(status == "ok" for status, _ in lines.values())


@pytest.mark.redis
def test_all_ok_with_a_running_action_server_and_redis(trained_model: Path, loaded_database: str) -> None:
    redis_url = redis_url_or_skip()
    with ActionServer(env={"DATABASE_URL": loaded_database}) as server:
        settings = dataclasses.replace(Settings.from_env(), database_url=loaded_database,
                                       action_server_url=server.url, redis_url=redis_url)
        code, lines = health(settings)
    assert code == 0, lines
    assert set(lines) == {"database", "safety", "model", "action server", "redis"}
    assert lines["action server"] == ("ok", f"{server.url} answers")
    assert lines["redis"][0] == "ok"


def test_every_failure_is_reported_and_the_status_is_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.training

    monkeypatch.setattr(bot.training, "MODELS_DIR", tmp_path / "no-models")  # nothing trained there
    closed = free_port()  # nothing listens on it
    settings = dataclasses.replace(
        Settings.from_env(),
        database_url=f"sqlite:///{tmp_path / 'missing' / 'coach.db'}",
        action_server_url=f"http://127.0.0.1:{closed}/webhook",
        redis_url=f"redis://127.0.0.1:{closed}/0",
    )
    code, lines = health(settings)
    assert code != 0
    assert {name: status for name, (status, _) in lines.items()} == {
        "database": "FAIL", "safety": "FAIL", "model": "FAIL", "action server": "FAIL", "redis": "FAIL"}
    assert "no database file" in lines["database"][1]
    assert "python -m bot train" in lines["model"][1]
    assert f"127.0.0.1:{closed}" in lines["action server"][1]
    assert "ConnectionError" in lines["redis"][1]
    assert not (tmp_path / "missing").exists()  # looking created nothing


def test_a_database_without_the_knowledge_base_fails(tmp_path: Path, trained_model: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    create_all(make_engine(url))  # migrated, nothing loaded
    settings = dataclasses.replace(Settings.from_env(), database_url=url, redis_url=None,
                                   action_server_url=f"http://127.0.0.1:{free_port()}/webhook")
    code, lines = health(settings)
    assert code != 0
    assert lines["database"][0] == "FAIL" and "kb load" in lines["database"][1]
    assert lines["model"][0] == "ok"


def test_an_unmigrated_database_fails_and_is_left_alone(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    from knowledge.db import Base
    from knowledge.kb_models import KB_TABLES

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    # A database from before migrations: knowledge-base tables only, no migration history.
    Base.metadata.create_all(engine, tables=KB_TABLES)
    settings = dataclasses.replace(Settings.from_env(), database_url=url, redis_url=None,
                                   action_server_url=f"http://127.0.0.1:{free_port()}/webhook")
    code, lines = health(settings)
    assert code != 0
    assert lines["database"][0] == "FAIL" and "schema at no revision" in lines["database"][1]
    assert "alembic_version" not in inspect(engine).get_table_names()


def test_the_command_line_prints_one_line_per_check_and_exits_non_zero(tmp_path: Path) -> None:
    closed = free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'nothing.db'}",
               ACTION_SERVER_URL=f"http://127.0.0.1:{closed}/webhook", REDIS_URL="")
    result = subprocess.run([sys.executable, "-m", "bot", "health"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    lines = lines_of(result.stdout)
    assert list(lines) == ["database", "safety", "model", "action server"]
    assert lines["database"][0] == "FAIL" and lines["action server"][0] == "FAIL"
    assert "Traceback" not in result.stderr


def test_the_database_line_shows_replies_waiting_in_the_outbox(loaded_database: str) -> None:
    from datetime import datetime, timezone

    from sqlalchemy import delete

    from bot.health import check_database
    from knowledge import outbox
    from knowledge.db import session_factory

    settings = dataclasses.replace(Settings.from_env(), database_url=loaded_database)
    engine = make_engine(loaded_database)
    sessions = session_factory(engine)
    try:
        with sessions() as s:
            s.execute(delete(outbox.OutboxMessage))
            s.commit()
        assert "outbox" not in check_database(settings)
        with sessions() as s:
            outbox.keep(s, 1, "99", ["{}", "{}"], datetime.now(timezone.utc), "TimedOut")
        assert "2 replies waiting in the outbox" in check_database(settings)
        with sessions() as s:
            s.execute(delete(outbox.OutboxMessage))
            s.commit()
    finally:
        engine.dispose()
