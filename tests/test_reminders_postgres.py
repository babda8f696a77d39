"""Two scheduler workers, two OS processes, one PostgreSQL: every one of 1,000 due reminders is
sent exactly once (counted in the fake Bot API's log).

Needs ``DATABASE_URL_PG`` (``eval "$(scripts/services.sh postgres)"``). Without it the test is
skipped locally and FAILS when CI=true.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, func, select

from knowledge.db import PROJECT_ROOT, create_all, make_engine, session_factory
from knowledge.reminder_models import SENT, ReminderDelivery
from knowledge.trainee_models import Trainee
from tests.conftest_telegram import fake_telegram, postgres_url_or_skip  # noqa: F401
from tests.fake_telegram import FakeTelegram

pytestmark = pytest.mark.postgres

USERS = 1000
FIRST_CHAT = 7_000_000  # chat ids of this test only, so other data in the database is left alone
NOW = "2026-06-01T12:00:00+00:00"


def seed(url: str) -> None:
    engine = make_engine(url)
    create_all(engine)
    ids = [str(FIRST_CHAT + i) for i in range(USERS)]
    with session_factory(engine)() as session:
        session.execute(delete(ReminderDelivery).where(ReminderDelivery.user_id.in_(ids)))
        session.execute(delete(Trainee).where(Trainee.user_id.in_(ids)))
        zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]
        session.add_all(
            Trainee(
                user_id=user_id,
                created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                timezone=zones[i % len(zones)],
                reminder_time="00:00",  # due everywhere at NOW
                reminders_enabled=True,
            )
            for i, user_id in enumerate(ids)
        )
        session.commit()
    engine.dispose()


def sent_rows(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count())
            .select_from(ReminderDelivery)
            .where(ReminderDelivery.state == SENT, ReminderDelivery.user_id.like("7______"))
        ).scalar_one()
    engine.dispose()
    return int(count)


async def test_two_worker_processes_send_each_reminder_once(fake_telegram: FakeTelegram) -> None:
    url = postgres_url_or_skip()
    await asyncio.to_thread(seed, url)
    # Some transient failures, so that retries happen while the other worker is claiming.
    for offset in range(0, USERS, 97):
        fake_telegram.fail(500, chat_id=FIRST_CHAT + offset)
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.scheduler",
            "--database-url", url,
            "--base-url", fake_telegram.base_url,
            "--interval", "0.2",
            "--batch-size", "40",
            "--overall-rate", "2000",
            "--worker-id", f"worker-{n}",
            "--fixed-now", NOW,
            env=env, cwd=str(PROJECT_ROOT),
        )
        for n in range(2)
    ]
    try:
        await fake_telegram.wait_for(
            lambda: len(fake_telegram.calls_to("sendMessage")) >= USERS, timeout=180
        )
        # Every row recorded as sent before stopping, so nothing is in flight.
        deadline = asyncio.get_running_loop().time() + 60
        while await asyncio.to_thread(sent_rows, url) < USERS:
            assert asyncio.get_running_loop().time() < deadline, "not every reminder was marked sent"
            await asyncio.sleep(0.2)
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(worker.wait(), 60) for worker in workers]
    assert codes == [0, 0]
    per_chat = Counter(call.chat_id for call in fake_telegram.calls_to("sendMessage"))
    assert len(per_chat) == USERS
    assert set(per_chat.values()) == {1}, [c for c, n in per_chat.items() if n > 1][:10]
    assert all(FIRST_CHAT <= chat < FIRST_CHAT + USERS for chat in per_chat)
