"""Fixtures and fakes for the Telegram and reminder tests (import what you need:
``from tests.conftest_telegram import fake_telegram, EchoCoach, ...``)."""
from __future__ import annotations

import asyncio
import os
import struct
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.turns import Button, Reply, Turn
from knowledge.db import create_all, make_engine, session_factory
from knowledge.reminder_models import ReminderDelivery
from knowledge.trainee_models import Trainee
from tests.fake_telegram import FakeTelegram


def tiny_png(path: Path) -> Path:
    """A valid 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00\xff\x00\x00")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


class EchoCoach:
    """A stand-in for the Rasa coach: echoes the text, and on cue returns buttons ("buttons"),
    a chart ("chart"), a 5000-character text ("long"), an error ("boom"), an answer after
    0.4 s ("slowish") or nothing in time ("slow"). Records every call."""

    def __init__(self, chart_path: Path | None = None) -> None:
        self.chart_path = chart_path
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []

    async def handle(self, user: str, text: str, metadata: dict[str, Any] | None = None) -> Turn:
        self.calls.append((user, text, metadata))
        turn = Turn(user=user, text=text)
        if text == "buttons":
            turn.replies.append(
                Reply("Pick one", [Button("Yes", "/affirm"), Button("No", "/deny"),
                                   Button("Long", "/inform" + '{"note":"' + "x" * 80 + '"}')])
            )
        elif text == "bold":
            turn.replies.append(Reply("👋 Next: Bird dog, 2 x 8 <b>as typed</b>", bold=["Bird dog"]))
        elif text == "chart":
            turn.replies.append(Reply("Your progress", image=str(self.chart_path)))
        elif text == "long":
            paragraph = ("word " * 199 + "end.").strip()  # 999 characters
            turn.replies.append(Reply("\n\n".join([paragraph] * 5)))
        elif text == "boom":
            raise RuntimeError("the coach broke")
        elif text == "slow":
            await asyncio.sleep(30)
        elif text == "slowish":
            await asyncio.sleep(0.4)
            turn.replies.append(Reply("echo: slowish"))
        else:
            turn.replies.append(Reply(f"echo: {text}"))
        return turn

    def texts(self) -> list[str]:
        return [text for _user, text, _meta in self.calls]


@pytest_asyncio.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'coach.db'}")
    create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(sqlite_engine: Engine) -> sessionmaker:
    return session_factory(sqlite_engine)


def add_trainee(
    session: Session,
    user_id: str,
    *,
    tz: str = "UTC",
    reminder_time: str | None = "07:30",
    enabled: bool = True,
) -> Trainee:
    trainee = Trainee(
        user_id=user_id,
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        timezone=tz,
        reminder_time=reminder_time,
        reminders_enabled=enabled,
    )
    session.add(trainee)
    session.commit()
    return trainee


def deliveries(session: Session, user_id: str | None = None) -> list[ReminderDelivery]:
    query = select(ReminderDelivery).order_by(ReminderDelivery.id)
    if user_id is not None:
        query = query.where(ReminderDelivery.user_id == user_id)
    session.expire_all()
    return list(session.execute(query).scalars())


def postgres_url_or_skip() -> str:
    """``DATABASE_URL_PG`` if that server answers. Unset or unreachable: skip locally, FAIL in CI
    (env CI=true), where a missing service must not pass as green."""
    from sqlalchemy import text

    url = os.environ.get("DATABASE_URL_PG")
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if not url:
        if in_ci:
            pytest.fail("DATABASE_URL_PG is not set in CI: run scripts/services.sh postgres")
        pytest.skip("DATABASE_URL_PG not set (scripts/services.sh postgres prints it)")
    try:
        engine = make_engine(url)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the same here
        if in_ci:
            pytest.fail(f"PostgreSQL at DATABASE_URL_PG is unreachable in CI: {type(exc).__name__}")
        pytest.skip(f"PostgreSQL at DATABASE_URL_PG is unreachable: {type(exc).__name__}")
    return url
