"""At-least-once intake with idempotent handling: the inbox table, the front end's use of it,
and a workout that advances once per message however often the message is handled.

The crash tests against the real ``python -m bot run`` are in tests/test_faults.py; these are
the pieces, fast, on the suite's database (the inbox is SQL, so both back ends run them)."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError

from bot import intake
from bot.telegram_app import PerChatUpdateProcessor, build_application, make_rate_limiter, running, webhook_web_app
from bot.turns import Reply, Turn
from knowledge import coaching as c
from knowledge import inbox
from knowledge.clock import FixedClock
from knowledge.db import create_all, make_engine, session_factory
from knowledge.inbox import InboxUpdate
from tests.conftest_telegram import EchoCoach, fake_telegram  # noqa: F401
from tests.fake_telegram import FakeTelegram
from tests.test_coaching import CONTENT, USER, onboard

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
BOT = 777


@pytest.fixture()
def sessions(database_url: str) -> Any:
    engine = make_engine(database_url)
    create_all(engine)
    factory = session_factory(engine)
    with factory() as session:
        session.execute(delete(InboxUpdate).where(InboxUpdate.bot_id.in_([BOT, BOT + 1])))
        session.commit()
    yield factory
    engine.dispose()


def rows(sessions: Any, bot_id: int = BOT) -> dict[int, InboxUpdate]:
    with sessions() as session:
        return {r.update_id: r for r in session.execute(select(InboxUpdate).where(InboxUpdate.bot_id == bot_id)).scalars()}


# --- the table ------------------------------------------------------------------------------


def test_an_update_is_recorded_once_and_keeps_its_text_only_until_handled(sessions: Any) -> None:
    first = [inbox.Incoming(10, "42", '{"a": 1}'), inbox.Incoming(11, "42", '{"a": 2}')]
    with sessions() as s:
        assert inbox.record(s, BOT, first, NOW, "p1") == [10, 11]
        # A redelivery (Telegram after a crash, a webhook retry) is not new; a later one is.
        assert inbox.record(s, BOT, [inbox.Incoming(11, "42", "{}"), inbox.Incoming(12, None, "{}")], NOW, "p1") == [12]
        # Another bot's update 10 is its own.
        assert inbox.record(s, BOT + 1, [inbox.Incoming(10, "42", "{}")], NOW, "p1") == [10]
        assert [p.update_id for p in inbox.take_pending(s, BOT, "p2", NOW)] == [10, 11, 12]
        assert inbox.mark_handled(s, BOT, [11], NOW) == 1
        assert inbox.mark_handled(s, BOT, [11], NOW) == 0  # twice is once
        assert [p.update_id for p in inbox.take_pending(s, BOT, "p2", NOW)] == [10, 12]
        inbox.mark_handled(s, BOT + 1, [10], NOW)
    stored = rows(sessions)
    assert stored[11].payload is None and stored[11].handled_at is not None
    assert stored[10].payload == '{"a": 1}' and stored[10].handled_at is None
    with sessions() as s:
        inbox.prune(s, NOW + timedelta(days=1))
        assert set(rows(sessions)) == {10, 11, 12}  # handled a day ago: kept
        inbox.prune(s, NOW + inbox.KEEP_HANDLED + timedelta(minutes=1))
        assert set(rows(sessions)) == {10, 12}  # pending rows are never pruned
        assert inbox.record(s, BOT, [inbox.Incoming(11, "42", "{}")], NOW, "p1") == [11]  # forgotten: new


def test_webhook_processes_take_over_only_what_another_left_behind(sessions: Any) -> None:
    # Several webhook processes share the inbox: a starting one must not take (and answer a
    # second time) what a live sibling is handling.
    with sessions() as s:
        inbox.record(s, BOT, [inbox.Incoming(20, "1", "{}"), inbox.Incoming(21, "2", "{}")], NOW, "alive")
        inbox.record(s, BOT, [inbox.Incoming(22, "3", "{}")], NOW - timedelta(minutes=10), "dead")
        inbox.record(s, BOT, [inbox.Incoming(23, "4", "{}")], NOW, "stopped")
        assert inbox.release(s, BOT, "stopped") == 1  # a clean stop lets go of what it did not finish
        cutoff = NOW - inbox.TAKE_OVER_AFTER
        taken = [p.update_id for p in inbox.take_pending(s, BOT, "new", NOW, taken_before=cutoff)]
        assert taken == [22, 23]
        # Taken now, so no third process takes them too.
        assert inbox.take_pending(s, BOT, "third", NOW, taken_before=cutoff) == []
    stored = rows(sessions)
    assert (stored[20].taken_by, stored[22].taken_by, stored[23].taken_by) == ("alive", "new", "new")


# --- the front end --------------------------------------------------------------------------


def quick_app(coach: Any, tg: FakeTelegram, sessions: Any, **kwargs: Any) -> Any:
    limiter = make_rate_limiter(overall_rate=1000, private_chat_rate=1000, private_chat_burst=100)
    return build_application(
        coach, tg.token, tg.base_url, base_file_url=tg.base_file_url, rate_limiter=limiter,
        inbox=sessions, reminder_clock=FixedClock(NOW), **kwargs,
    )


def bot_id_of(tg: FakeTelegram) -> int:
    return int(tg.bot_user["id"])


async def test_each_update_is_handled_once_and_marked_handled_after_its_reply(
    fake_telegram: FakeTelegram, sessions: Any
) -> None:
    coach = EchoCoach()
    async with running(quick_app(coach, fake_telegram, sessions), poll_timeout=1):
        update = fake_telegram.inject_text(4242, "hello")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(4242))
        await fake_telegram.wait_for(lambda: rows(sessions, bot_id_of(fake_telegram))[update["update_id"]].handled_at)
    row = rows(sessions, bot_id_of(fake_telegram))[update["update_id"]]
    assert row.payload is None and row.user_id == "4242"
    assert coach.texts() == ["hello"]
    # The turn knows which update it answers: the key of idempotent handling.
    assert coach.calls[0][2]["update_id"] == update["update_id"]


async def test_what_the_last_process_left_unhandled_is_handled_at_start(
    fake_telegram: FakeTelegram, sessions: Any
) -> None:
    # As if the last process recorded the update and died before answering it: Telegram has
    # forgotten it (the offset moved on), only the inbox has it.
    left = fake_telegram.message(4343, "left over")
    update_id = 900_000_000_000 + 1
    with sessions() as s:
        inbox.record(s, bot_id_of(fake_telegram),
                     [inbox.Incoming(update_id, "4343", json.dumps({"update_id": update_id, "message": left}))], NOW,
                     "a process that died")
    coach = EchoCoach()
    async with running(quick_app(coach, fake_telegram, sessions), poll_timeout=1):
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(4343))
        await fake_telegram.wait_for(lambda: rows(sessions, bot_id_of(fake_telegram))[update_id].handled_at)
    assert fake_telegram.texts_to(4343) == ["echo: left over"]


async def test_an_inbox_that_cannot_write_leaves_the_update_with_telegram(
    fake_telegram: FakeTelegram, sessions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Checked by advancing the offset on failure: the update was confirmed, so lost.
    real = intake.UpdateInbox.record
    failures = []

    def flaky(self: intake.UpdateInbox, updates: Any) -> Any:
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(self, updates)

    monkeypatch.setattr(intake.UpdateInbox, "record", flaky)
    monkeypatch.setattr(intake, "RETRY_FIRST_S", 0.05)
    coach = EchoCoach()
    async with running(quick_app(coach, fake_telegram, sessions), poll_timeout=1):
        fake_telegram.inject_text(4444, "written at last")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(4444))
        await asyncio.sleep(0.5)
    assert len(failures) == 2
    assert fake_telegram.texts_to(4444) == ["echo: written at last"]


class GatedCoach:
    """Answers "wait" only once ``gate`` is set; everything else at once."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started: list[str] = []

    async def handle(self, user: str, text: str, metadata: dict[str, Any] | None = None) -> Turn:
        self.started.append(text)
        if text.startswith("wait"):
            await self.gate.wait()
        return Turn(user=user, text=text, replies=[Reply(f"done: {text}")])


async def test_a_stop_finishes_the_turn_in_hand_and_leaves_the_rest_in_the_inbox(
    fake_telegram: FakeTelegram, sessions: Any
) -> None:
    # Checked by closing the processor without its "closing" check: the queued turns ran at stop.
    coach = GatedCoach()
    app = quick_app(coach, fake_telegram, sessions)
    bot_id = bot_id_of(fake_telegram)
    async with running(app, poll_timeout=1, grace_s=5):
        first = fake_telegram.inject_text(4545, "wait for me")
        queued = [fake_telegram.inject_text(4545, f"queued {i}") for i in range(5)]
        await fake_telegram.wait_for(lambda: coach.started == ["wait for me"])
        await fake_telegram.wait_for(lambda: all(q["update_id"] in rows(sessions, bot_id) for q in queued))
        asyncio.get_running_loop().call_later(0.5, coach.gate.set)  # finishes inside the grace
    assert fake_telegram.texts_to(4545) == ["done: wait for me"]
    stored = rows(sessions, bot_id)
    assert stored[first["update_id"]].handled_at is not None
    assert all(stored[q["update_id"]].handled_at is None for q in queued)
    # The next process answers them, in order.
    coach2 = GatedCoach()
    async with running(quick_app(coach2, fake_telegram, sessions), poll_timeout=1):
        await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(4545)) == 6)
    assert fake_telegram.texts_to(4545)[1:] == [f"done: queued {i}" for i in range(5)]


async def test_a_turn_that_outlasts_the_grace_is_cancelled_and_left_for_the_next_process(
    fake_telegram: FakeTelegram, sessions: Any
) -> None:
    coach = GatedCoach()
    bot_id = bot_id_of(fake_telegram)
    async with running(quick_app(coach, fake_telegram, sessions), poll_timeout=1, grace_s=0.5):
        stuck = fake_telegram.inject_text(4646, "wait forever")
        await fake_telegram.wait_for(lambda: coach.started)
    assert rows(sessions, bot_id)[stuck["update_id"]].handled_at is None
    assert fake_telegram.texts_to(4646) == []


async def test_the_processor_starts_nothing_once_closing() -> None:
    processor = PerChatUpdateProcessor()
    ran: list[int] = []

    async def work(n: int) -> None:
        ran.append(n)

    await processor.close(0.1)
    await processor.process_update(object(), work(1))
    assert ran == []


async def test_a_webhook_post_is_written_down_before_it_is_answered(
    fake_telegram: FakeTelegram, sessions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    coach = EchoCoach()
    app = quick_app(coach, fake_telegram, sessions, with_updater=False)
    bot_id = bot_id_of(fake_telegram)
    async with running(app, poll=False):
        client = TestClient(TestServer(webhook_web_app(app, "s3cret", "/hook")))
        await client.start_server()
        try:
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            update = {"update_id": 910_000_000_001, "message": fake_telegram.message(4747, "by webhook")}
            assert (await client.post("/hook", json=update, headers=headers)).status == 200
            assert update["update_id"] in rows(sessions, bot_id)  # before the 200
            assert (await client.post("/hook", json=update, headers=headers)).status == 200  # Telegram's retry
            await fake_telegram.wait_for(lambda: fake_telegram.texts_to(4747))

            def broken(self: Any, updates: Any) -> Any:
                raise OperationalError("INSERT", {}, Exception("disk I/O error"))

            monkeypatch.setattr(intake.UpdateInbox, "record", broken)
            later = {"update_id": 910_000_000_002, "message": fake_telegram.message(4747, "not stored")}
            # Not written down: not accepted, so Telegram sends it again later.
            assert (await client.post("/hook", json=later, headers=headers)).status == 500
            await asyncio.sleep(0.3)
        finally:
            await client.close()
    assert fake_telegram.texts_to(4747) == ["echo: by webhook"]


# --- idempotent handling --------------------------------------------------------------------


@pytest.fixture()
def engine(tmp_path: Any) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'coach.db'}")
    create_all(engine)
    return engine


@pytest.mark.parametrize("event", ["done", "skip", "too_hard", "hurts"])
def test_the_same_message_handled_twice_advances_the_workout_once(engine: Any, event: str) -> None:
    clock = FixedClock(datetime(2024, 3, 4, 7, 0, tzinfo=timezone.utc))
    onboard(engine, clock, timezone="UTC")
    first = c.start_or_resume_session(engine, USER, clock=clock, content=CONTENT)
    assert first.position == 1
    moved = c.session_event(engine, USER, event, clock=clock, content=CONTENT, turn_key="update:7")
    again = c.session_event(engine, USER, event, clock=clock, content=CONTENT, turn_key="update:7")
    assert moved.position == again.position == 2
    assert again.exercise_id == moved.exercise_id
    # A new message moves it on; a message without a key (the terminal) always does.
    assert c.session_event(engine, USER, "done", clock=clock, content=CONTENT, turn_key="update:8").position == 3
    assert c.session_event(engine, USER, "done", clock=clock, content=CONTENT).position == 4


def test_the_last_exercise_done_twice_is_finished_once(engine: Any) -> None:
    clock = FixedClock(datetime(2024, 3, 4, 7, 0, tzinfo=timezone.utc))
    onboard(engine, clock, timezone="UTC")
    step = c.start_or_resume_session(engine, USER, clock=clock, content=CONTENT)
    key = 0
    while step.kind == "exercise":
        key += 1
        step = c.session_event(engine, USER, "done", clock=clock, content=CONTENT, turn_key=f"update:{key}")
    assert step.kind == "checkin"
    again = c.session_event(engine, USER, "done", clock=clock, content=CONTENT, turn_key=f"update:{key}")
    assert again.kind == "checkin"


async def test_handled_marks_that_cannot_be_written_are_logged_kept_and_written_later(
    sessions: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A database that refuses the marks must not lose them quietly: an ERROR line, the ids
    # kept, and written once the database takes them (until then a crash would replay them).
    updates_inbox = intake.UpdateInbox(sessions, FixedClock(NOW), bot_id=BOT)
    with sessions() as s:
        inbox.record(s, BOT, [inbox.Incoming(30, "9", "{}"), inbox.Incoming(31, "9", "{}")], NOW, updates_inbox.owner)
    real = intake.UpdateInbox.handled
    failures: list[int] = []

    def flaky(self: intake.UpdateInbox, ids: Any) -> None:
        if not failures:
            failures.append(1)
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        real(self, ids)

    marks = intake.HandledMarks(updates_inbox, gather_s=0.01)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(intake.UpdateInbox, "handled", flaky)
        patch.setattr(intake, "RETRY_FIRST_S", 0.05)
        marks.add(30)
        marks.add(31)
        deadline = asyncio.get_running_loop().time() + 5
        while any(r.handled_at is None for r in rows(sessions).values()):
            assert asyncio.get_running_loop().time() < deadline, rows(sessions)
            await asyncio.sleep(0.05)
        await marks.close()
    assert failures == [1]
    assert "could not mark 2 updates handled" in caplog.text
    assert all(r.handled_at is not None and r.payload is None for r in rows(sessions).values())


async def test_a_stop_during_a_mark_write_still_marks_those_updates(sessions: Any) -> None:
    # The stop cancels the background writer; when that lands while a write is under way, the
    # ids must be written again by close(), not lost (the next process would handle them twice).
    import threading

    updates_inbox = intake.UpdateInbox(sessions, FixedClock(NOW), bot_id=BOT)
    with sessions() as s:
        inbox.record(s, BOT, [inbox.Incoming(40, "9", "{}")], NOW, updates_inbox.owner)
    real = intake.UpdateInbox.handled
    entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow_then_lost(self: intake.UpdateInbox, ids: Any) -> None:
        calls.append(len(ids))
        if len(calls) == 1:  # the first write stalls and never commits
            entered.set()
            release.wait(5)
            return
        real(self, ids)

    marks = intake.HandledMarks(updates_inbox, gather_s=0.01)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(intake.UpdateInbox, "handled", slow_then_lost)
        marks.add(40)
        assert await asyncio.to_thread(entered.wait, 5)
        await marks.close()
        release.set()
    assert calls == [1, 1]
    assert rows(sessions)[40].handled_at is not None
