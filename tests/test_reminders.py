"""Reminders: the DST-correct rule, the delivery log, and the scheduler sending through the fake
Bot API with a controlled clock (SQLite)."""
from __future__ import annotations

import asyncio
import threading
from datetime import date, datetime, time, timedelta, timezone
from typing import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from telegram.ext import ExtBot

from bot.scheduler import REMINDER_BUTTONS, ReminderScheduler
from bot.telegram_app import make_rate_limiter
from knowledge import reminders
from knowledge.clock import FixedClock
from knowledge.reminder_models import CLAIMED, FAILED, SCHEDULED, SENT, SKIPPED
from knowledge.trainee_models import Trainee
from tests.conftest_telegram import (  # noqa: F401
    add_trainee,
    deliveries,
    fake_telegram,
    sessions,
    sqlite_engine,
)
from tests.fake_telegram import FakeTelegram

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the rule -------------------------------------------------------------------------------


def test_normal_day_fires_at_local_time() -> None:
    assert reminders.due_instant(date(2026, 6, 1), time(7, 30), BERLIN) == utc(2026, 6, 1, 5, 30)
    assert reminders.due_instant(date(2026, 1, 5), time(7, 30), BERLIN) == utc(2026, 1, 5, 6, 30)


def test_time_skipped_by_spring_forward_fires_at_the_change() -> None:
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist.
    assert reminders.due_instant(date(2026, 3, 29), time(2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert reminders.due_instant(date(2026, 3, 29), time(3, 0), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert reminders.due_instant(date(2026, 3, 29), time(1, 59), BERLIN) == utc(2026, 3, 29, 0, 59)


def test_time_repeated_by_fall_back_fires_at_first_occurrence() -> None:
    # 2026-10-25 in Berlin: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    assert reminders.due_instant(date(2026, 10, 25), time(2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_due_is_the_first_instant_the_wall_clock_reaches_the_time(tz_name: str, day: date, at: time) -> None:
    tz = ZoneInfo(tz_name)
    due = reminders.due_instant(day, at, tz)
    wanted = datetime.combine(day, at)
    local = due.astimezone(tz).replace(tzinfo=None)
    before = (due - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
    assert local >= wanted > before
    assert local - wanted <= timedelta(hours=1)  # at most the size of a DST gap


def test_daily_due_only_after_the_time_today() -> None:
    assert reminders.daily_due(utc(2026, 6, 1, 5, 29), "Europe/Berlin", "07:30") is None
    assert reminders.daily_due(utc(2026, 6, 1, 5, 30), "Europe/Berlin", "07:30") == (
        date(2026, 6, 1),
        utc(2026, 6, 1, 5, 30),
    )
    assert reminders.daily_due(utc(2026, 6, 1, 12), "Europe/Berlin", None) is None
    assert reminders.daily_due(utc(2026, 6, 1, 12), "Europe/Berlin", "25:00") is None


# --- the delivery log -----------------------------------------------------------------------


def test_claim_is_exclusive_and_sent_is_final(sessions: sessionmaker) -> None:
    now = utc(2026, 6, 1, 6)
    with sessions() as s:
        add_trainee(s, "1", tz="Europe/Berlin", reminder_time="07:30")
        add_trainee(s, "2", tz="Europe/Berlin", reminder_time="09:00")  # not yet
        add_trainee(s, "3", tz="Europe/Berlin", reminder_time="07:00", enabled=False)
        assert [r.user_id for r in reminders.due_reminders(s, now)] == ["1"]
        [claim] = reminders.claim_due(s, now, "w1")
        assert claim.user_id == "1" and claim.attempts == 1
        assert reminders.claim_due(s, now, "w2") == []
        assert reminders.due_reminders(s, now) == []  # held under a live lease
        assert not reminders.mark_sent(s, claim.delivery_id, "w2", now)  # not w2's row
        assert reminders.mark_sent(s, claim.delivery_id, "w1", now)
        assert reminders.claim_due(s, now + timedelta(minutes=30), "w2") == []
        [row] = deliveries(s, "1")
        assert (row.state, row.local_date, row.kind) == (SENT, date(2026, 6, 1), "daily")


def test_expired_lease_is_reclaimed(sessions: sessionmaker) -> None:
    now = utc(2026, 6, 1, 6)
    with sessions() as s:
        add_trainee(s, "1", tz="Europe/Berlin", reminder_time="07:30")
        [crashed] = reminders.claim_due(s, now, "crashed-worker")
        assert reminders.claim_due(s, now + timedelta(minutes=4), "w2") == []
        [again] = reminders.claim_due(s, now + reminders.DEFAULT_LEASE, "w2")
        assert again.delivery_id == crashed.delivery_id and again.attempts == 2
        assert not reminders.mark_sent(s, crashed.delivery_id, "crashed-worker", now)


def test_release_gives_rows_back(sessions: sessionmaker) -> None:
    now = utc(2026, 6, 1, 6)
    with sessions() as s:
        add_trainee(s, "1", reminder_time="05:00")
        add_trainee(s, "2", reminder_time="05:00")
        assert len(reminders.claim_due(s, now, "w1")) == 2
        assert reminders.release(s, "w1") == 2
        assert {r.state for r in deliveries(s)} == {SCHEDULED}
        assert {r.attempts for r in deliveries(s)} == {0}
        assert len(reminders.claim_due(s, now, "w2")) == 2


def test_failed_row_comes_back_after_retry_at(sessions: sessionmaker) -> None:
    now = utc(2026, 6, 1, 6)
    with sessions() as s:
        add_trainee(s, "1", reminder_time="05:00")
        [claim] = reminders.claim_due(s, now, "w1")
        reminders.mark_failed(s, claim.delivery_id, "w1", now, "NetworkError", retry_in=timedelta(minutes=2))
        assert deliveries(s)[0].state == FAILED
        assert reminders.claim_due(s, now + timedelta(minutes=1), "w1") == []
        [retry] = reminders.claim_due(s, now + timedelta(minutes=2), "w1")
        assert retry.delivery_id == claim.delivery_id and retry.attempts == 2


def test_snooze_fires_once_an_hour_later(sessions: sessionmaker) -> None:
    now = utc(2026, 6, 1, 6)
    with sessions() as s:
        add_trainee(s, "1", reminder_time="05:00")
        [daily] = reminders.claim_due(s, now, "w")
        reminders.mark_sent(s, daily.delivery_id, "w", now)
        reminders.snooze(s, "1", now)
        reminders.snooze(s, "1", now)  # a double tap is still one reminder
        assert reminders.claim_due(s, now + timedelta(minutes=59), "w") == []
        [snoozed] = reminders.claim_due(s, now + timedelta(minutes=60), "w")
        assert snoozed.kind == "snooze"
        reminders.mark_sent(s, snoozed.delivery_id, "w", now + timedelta(minutes=60))
        assert reminders.claim_due(s, now + timedelta(hours=3), "w") == []


def test_skip_today_skips_only_today(sessions: sessionmaker) -> None:
    with sessions() as s:
        add_trainee(s, "1", tz="Europe/Berlin", reminder_time="07:30")
        reminders.skip_today(s, "1", utc(2026, 6, 1, 4))
        assert reminders.claim_due(s, utc(2026, 6, 1, 20), "w") == []
        [tomorrow] = reminders.claim_due(s, utc(2026, 6, 2, 5, 30), "w")
        assert tomorrow.local_date == date(2026, 6, 2)


def test_disable_for_user_turns_reminders_off(sessions: sessionmaker) -> None:
    with sessions() as s:
        add_trainee(s, "1", reminder_time="05:00")
        reminders.claim_due(s, utc(2026, 6, 1, 6), "w")
        reminders.disable_for_user(s, "1")
        assert s.get(Trainee, "1", populate_existing=True).reminders_enabled is False
        assert deliveries(s)[0].state == SKIPPED
        assert reminders.claim_due(s, utc(2026, 6, 2, 6), "w") == []


# --- the scheduler through the fake Bot API -------------------------------------------------


class RecordedSleep:
    """Stands in for asyncio.sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest_asyncio.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[ExtBot]:
    limiter = make_rate_limiter(overall_rate=1000, private_chat_rate=1000, private_chat_burst=100, retry_after_budget_s=0)
    async with ExtBot(fake_telegram.token, base_url=fake_telegram.base_url, rate_limiter=limiter) as ext_bot:
        yield ext_bot


def scheduler_for(bot: ExtBot, sessions: sessionmaker, clock: FixedClock, **kwargs: object) -> ReminderScheduler:
    return ReminderScheduler(bot, sessions, clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_fires_at_local_time_across_spring_forward(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    with sessions() as s:
        add_trainee(s, "501", tz="Europe/Berlin", reminder_time="02:30")
    clock = FixedClock(utc(2026, 3, 29, 0, 59))  # 01:59 CET
    scheduler = scheduler_for(bot, sessions, clock)
    assert await scheduler.run_once() == 0
    clock.set(utc(2026, 3, 29, 1, 0))  # 03:00 CEST: the first valid instant after 02:30
    assert await scheduler.run_once() == 1
    [message] = fake_telegram.messages_to(501)
    buttons = [b for row in message.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [(b["text"], b["callback_data"]) for b in buttons] == list(REMINDER_BUTTONS)
    clock.advance(hours=20)  # still 2026-03-29 in Berlin
    assert await scheduler.run_once() == 0
    clock.set(utc(2026, 3, 30, 0, 30))  # 02:30 CEST the next day
    assert await scheduler.run_once() == 1
    assert len(fake_telegram.messages_to(501)) == 2


async def test_fires_once_when_the_time_occurs_twice(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    with sessions() as s:
        add_trainee(s, "502", tz="Europe/Berlin", reminder_time="02:30")
    clock = FixedClock(utc(2026, 10, 25, 0, 29))
    scheduler = scheduler_for(bot, sessions, clock)
    assert await scheduler.run_once() == 0
    clock.set(utc(2026, 10, 25, 0, 30))  # 02:30 CEST, the first time
    assert await scheduler.run_once() == 1
    clock.set(utc(2026, 10, 25, 1, 30))  # 02:30 CET, the second time
    assert await scheduler.run_once() == 0
    assert len(fake_telegram.messages_to(502)) == 1


async def test_restart_mid_day_does_not_send_again(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    with sessions() as s:
        for user in ("601", "602"):
            add_trainee(s, user, tz="America/New_York", reminder_time="08:00")
    clock = FixedClock(utc(2026, 6, 1, 12, 5))  # 08:05 EDT
    first = scheduler_for(bot, sessions, clock, worker_id="before-restart")
    assert await first.run_once() == 2
    clock.advance(hours=3)
    second = scheduler_for(bot, sessions, clock, worker_id="after-restart")
    assert await second.run_once() == 0
    assert [len(fake_telegram.messages_to(c)) for c in (601, 602)] == [1, 1]


async def test_retry_after_is_honoured(bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram) -> None:
    with sessions() as s:
        add_trainee(s, "701", reminder_time="06:00")
    fake_telegram.fail(429, method="sendMessage", chat_id=701, retry_after=7)
    sleep = RecordedSleep()
    scheduler = scheduler_for(bot, sessions, FixedClock(utc(2026, 6, 1, 7)), sleep=sleep)
    assert await scheduler.run_once() == 1
    assert sleep.waits == [7.0]
    assert [c.status for c in fake_telegram.calls_to("sendMessage", 701, ok_only=False)] == [429, 200]
    with sessions() as s:
        assert deliveries(s, "701")[0].state == SENT


async def test_forbidden_turns_that_users_reminders_off(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    with sessions() as s:
        add_trainee(s, "801", reminder_time="06:00")
        add_trainee(s, "802", reminder_time="06:00")
    fake_telegram.fail(403, chat_id=801)
    clock = FixedClock(utc(2026, 6, 1, 7))
    scheduler = scheduler_for(bot, sessions, clock)
    assert await scheduler.run_once() == 1
    with sessions() as s:
        assert s.get(Trainee, "801").reminders_enabled is False
        assert s.get(Trainee, "802").reminders_enabled is True
        assert deliveries(s, "801")[0].state == SKIPPED
    clock.advance(days=1)
    assert await scheduler.run_once() == 1  # only 802
    assert fake_telegram.messages_to(801) == [] and len(fake_telegram.messages_to(802)) == 2


async def test_server_errors_are_retried_with_backoff(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    with sessions() as s:
        add_trainee(s, "901", reminder_time="06:00")
    fake_telegram.fail(500, chat_id=901, times=2)
    sleep = RecordedSleep()
    scheduler = scheduler_for(bot, sessions, FixedClock(utc(2026, 6, 1, 7)), sleep=sleep, backoff_s=1.0)
    assert await scheduler.run_once() == 1
    assert sleep.waits == [1.0, 2.0]
    assert [c.status for c in fake_telegram.calls_to("sendMessage", 901, ok_only=False)] == [500, 500, 200]


async def test_a_send_that_keeps_failing_is_kept_and_sent_later(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    with sessions() as s:
        add_trainee(s, "911", reminder_time="06:00")
    outage = fake_telegram.fail(502, chat_id=911, times=100)
    clock = FixedClock(utc(2026, 6, 1, 7))
    scheduler = scheduler_for(bot, sessions, clock, sleep=RecordedSleep(), max_send_tries=3)
    assert await scheduler.run_once() == 0
    with sessions() as s:
        [row] = deliveries(s, "911")
        assert row.state == FAILED and row.claimed_by is None and row.last_error == "NetworkError"
    outage.times = 0  # Telegram is back
    clock.advance(minutes=1)
    assert await scheduler.run_once() == 1
    assert len(fake_telegram.messages_to(911)) == 1


async def test_timeout_is_retried(sessions: sessionmaker, fake_telegram: FakeTelegram) -> None:
    from telegram.request import HTTPXRequest

    with sessions() as s:
        add_trainee(s, "921", reminder_time="06:00")
    fake_telegram.fail(200, method="sendMessage", chat_id=921, delay=2.0)  # slower than the timeout
    quick = HTTPXRequest(read_timeout=0.3)
    async with ExtBot(fake_telegram.token, base_url=fake_telegram.base_url, request=quick) as impatient:
        sleep = RecordedSleep()
        scheduler = scheduler_for(impatient, sessions, FixedClock(utc(2026, 6, 1, 7)), sleep=sleep)
        assert await scheduler.run_once() == 1
    assert sleep.waits == [1.0]


async def test_shutdown_releases_a_claim_in_flight(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    with sessions() as s:
        add_trainee(s, "931", reminder_time="06:00")
    fake_telegram.fail(200, method="sendMessage", chat_id=931, delay=5.0)
    scheduler = scheduler_for(bot, sessions, FixedClock(utc(2026, 6, 1, 7)), interval=60)
    task = scheduler.start()
    await fake_telegram.wait_for(lambda: sessions().execute(
        select(reminders.ReminderDelivery.state)).scalars().all() == [CLAIMED])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with sessions() as s:
        [row] = deliveries(s, "931")
        assert row.state == SCHEDULED and row.claimed_by is None


async def test_stop_right_after_a_send_leaves_it_marked_sent(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    # Once failed CI: the regular mark of 951's send was still being written (in a thread) when
    # the batch ended and the stopping round released its claims, so 951 went back to
    # "scheduled" and would have been sent again. Here the first mark is made slow on purpose.
    with sessions() as s:
        add_trainee(s, "951", reminder_time="06:00")
        add_trainee(s, "952", reminder_time="06:00")
    fake_telegram.fail(200, method="sendMessage", chat_id=952, delay=1.5)  # holds the batch open
    scheduler = scheduler_for(bot, sessions, FixedClock(utc(2026, 6, 1, 7)), interval=60)
    settle = scheduler._settle
    calls = 0

    def first_mark_slow(sent: list[int], unsettled: list[int]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            threading.Event().wait(2.5)  # a slow database
        settle(sent, unsettled)

    scheduler._settle = first_mark_slow  # type: ignore[method-assign]
    scheduler.start()
    await fake_telegram.wait_for(lambda: fake_telegram.messages_to(951))
    await scheduler.stop()
    with sessions() as s:
        states = {row.user_id: (row.state, row.claimed_by) for row in deliveries(s, "951") + deliveries(s, "952")}
    assert states == {"951": (SENT, None), "952": (SENT, None)}


async def test_a_text_that_cannot_be_composed_fails_only_its_own_reminder(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The texts of a batch are composed together in one session; one trainee's broken record
    # must not hold back or change the others'.
    import bot.scheduler as scheduler_module
    import knowledge.reminder_text as reminder_text_module
    from knowledge.reminder_text import plain_reminder

    with sessions() as s:
        for user in ("961", "962", "963"):
            add_trainee(s, user, reminder_time="06:00")
    composed = reminder_text_module.reminder_texts

    def broken_for_962(session, wanted, clock):  # type: ignore[no-untyped-def]
        if any(user == "962" for user, _kind in wanted):
            raise ValueError("a record the code cannot read")
        return composed(session, wanted, clock)

    # Both the batch and the one-by-one way of composing.
    monkeypatch.setattr(scheduler_module, "reminder_texts", broken_for_962)
    monkeypatch.setattr(reminder_text_module, "reminder_texts", broken_for_962)
    scheduler = scheduler_for(bot, sessions, FixedClock(utc(2026, 6, 1, 7)))
    assert await scheduler.run_once() == 2
    assert fake_telegram.texts_to(961) == fake_telegram.texts_to(963) == [plain_reminder("daily")]
    assert fake_telegram.texts_to(962) == []
    with sessions() as s:
        [row] = deliveries(s, "962")
        assert row.state == FAILED and row.last_error == "ValueError"


async def test_in_loop_snooze_and_skip_buttons_payloads(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    with sessions() as s:
        add_trainee(s, "941", reminder_time="06:00")
    clock = FixedClock(utc(2026, 6, 1, 7))
    scheduler = scheduler_for(bot, sessions, clock)
    assert await scheduler.run_once() == 1
    with sessions() as s:  # what the coach's action does for "In an hour"
        reminders.snooze(s, "941", clock.now())
    clock.advance(minutes=60)
    assert await scheduler.run_once() == 1
    texts = fake_telegram.texts_to(941)
    assert len(texts) == 2 and texts[0] != texts[1]  # the snoozed one says so


async def test_two_workers_on_sqlite_send_each_once(
    bot: ExtBot, sessions: sessionmaker, fake_telegram: FakeTelegram
) -> None:
    with sessions() as s:
        for i in range(60):
            add_trainee(s, str(1000 + i), tz="Europe/Berlin", reminder_time="07:00")
    clock = FixedClock(utc(2026, 6, 1, 6))
    workers = [scheduler_for(bot, sessions, clock, worker_id=f"w{i}", batch_size=7) for i in range(2)]

    async def drain(worker: ReminderScheduler) -> int:
        total = 0
        while sent := await worker.run_once():
            total += sent
        return total

    totals = await asyncio.gather(*(drain(w) for w in workers))
    assert sum(totals) == 60
    counts = [len(fake_telegram.messages_to(1000 + i)) for i in range(60)]
    assert counts == [1] * 60


async def test_a_round_records_each_due_row_once_and_sends_each_once(
    bot: ExtBot, sessions: sessionmaker, sqlite_engine: Engine, fake_telegram: FakeTelegram
) -> None:
    users = 250
    with sessions() as s:
        for i in range(users):
            add_trainee(s, str(3000 + i), tz=("UTC", "Europe/Berlin", "Asia/Tokyo")[i % 3], reminder_time="05:00")
    statements: list[tuple[str, int]] = []  # (SQL, rows it carried)

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append((" ".join(statement.split()), len(parameters) if executemany else 1))

    clock = FixedClock(utc(2026, 6, 1, 12))  # due in all three zones
    scheduler = scheduler_for(bot, sessions, clock, batch_size=20)
    event.listen(sqlite_engine, "before_cursor_execute", record)
    try:
        assert await scheduler.run_once() == users
        first_round = list(statements)
        statements.clear()
        assert await scheduler.run_once() == 0  # the next round: nothing new, nothing again
    finally:
        event.remove(sqlite_engine, "before_cursor_execute", record)

    def count(sql_start: str, rounds: list[tuple[str, int]], *, rows: bool = False, has: str = "") -> int:
        return sum(n if rows else 1 for sql, n in rounds if sql.startswith(sql_start) and has in sql)

    batches = -(-users // 20)  # 13: twelve full, one short (which ends the round)
    trainee_scan = "SELECT trainees.user_id, trainees.timezone, trainees.reminder_time FROM trainees"
    assert count(trainee_scan, first_round) == 1  # one pass over the trainees per round
    assert count("INSERT INTO reminder_deliveries", first_round, rows=True) == users  # each row once
    assert count("SELECT reminder_deliveries.id", first_round, has="LIMIT") == batches
    # Each sent row is marked as its send returns (sends returning during a mark share the
    # next one): at most one mark per send, and every row is marked exactly once.
    marks = count("UPDATE reminder_deliveries SET state", first_round, has="sent_at")
    assert batches <= marks <= users + batches
    assert count(trainee_scan, statements) == 1
    assert count("INSERT INTO reminder_deliveries", statements, rows=True) == 0
    assert count("UPDATE reminder_deliveries SET state", statements, has="sent_at") == 0

    assert len(fake_telegram.calls_to("sendMessage")) == users
    assert all(len(fake_telegram.messages_to(3000 + i)) == 1 for i in range(users))
    with sessions() as s:
        rows = deliveries(s)
    assert len(rows) == users
    assert {(r.state, r.attempts, r.claimed_by) for r in rows} == {(SENT, 1, None)}
