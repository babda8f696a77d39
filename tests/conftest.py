"""Shared fixtures.

The suite runs against its own database (``DATABASE_URL`` as given, e.g. PostgreSQL in CI's
second run, otherwise a fresh SQLite file under var/), never the operator's ``var/coach.db``.
The Rasa model is trained once per inputs (the same fingerprinted file the run command uses).
"""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
if not os.environ.get("DATABASE_URL"):
    # One file per test process, so that parallel runs never share (or delete) each other's data.
    test_db = ROOT / "var" / "test" / f"coach-test-{os.getpid()}.db"
    test_db.parent.mkdir(parents=True, exist_ok=True)
    for old in test_db.parent.glob("coach-test-*.db*"):
        pid = old.name.split("-")[2].split(".")[0]
        if not Path(f"/proc/{pid}").exists():
            old.unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{test_db}"
os.chdir(ROOT)


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ["DATABASE_URL"]
    dialect = url.split(":", 1)[0]
    return f"database under test: {dialect} ({url.split('@')[-1] if '@' in url else url})"


@pytest.fixture(scope="session")
def database_url() -> str:
    return os.environ["DATABASE_URL"]


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The Rasa model for the current inputs, trained when missing (a few minutes)."""
    from bot.training import model_for_run

    return model_for_run(progress=lambda m: print(m, file=sys.stderr))


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop shared by a module's tests that drive one loaded coach."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def coach(trained_model: Path, database_url: str) -> Iterator[Any]:
    """The bare Rasa coach (not bot.resilience) with its own action server: a crash is a crash."""
    from bot.action_server import ActionServer
    from bot.rasa_bridge import RasaCoach
    from bot.training import prepare_knowledge

    prepare_knowledge(lambda _m: None)
    with ActionServer() as server:
        yield RasaCoach.load(trained_model, server.url, database_url)
