"""Replies Telegram will not take within the send budgets: kept in the outbox and sent later,
in order, once each — and across a restart.

Fast, on the suite's database (the outbox is SQL, so both back ends run these). The budgets
are shortened here (5xx retried for 1 s, the pass every 0.2 s); their shape is the real one."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError

from bot import outbox as bot_outbox
from bot.telegram_app import build_application, make_rate_limiter, running
from bot.telegram_render import OutgoingMessage, bold_entities
from bot.turns import Reply, Turn
from knowledge import outbox
from knowledge.clock import FixedClock
from knowledge.db import create_all, make_engine, session_factory
from knowledge.outbox import OutboxMessage
from knowledge.privacy import delete_user, export_user
from tests.conftest_telegram import EchoCoach, fake_telegram  # noqa: F401
from tests.fake_telegram import FakeTelegram
from tests.test_intake import quick_app  # the front end with the inbox and outbox on the suite's database

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
BOT = 778


@pytest.fixture()
def sessions(database_url: str) -> Any:
    engine = make_engine(database_url)
    create_all(engine)
    factory = session_factory(engine)
    with factory() as session:
        session.execute(delete(OutboxMessage))
        session.commit()
    yield factory
    engine.dispose()


@pytest.fixture()
def short_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.telegram_render.SEND_RETRY_BUDGET_S", 1.0)
    monkeypatch.setattr("bot.telegram_render.SEND_BACKOFF_S", 0.1)
    monkeypatch.setattr(bot_outbox, "PASS_EVERY_S", 0.2)
    monkeypatch.setattr(outbox, "RETRY_FIRST", timedelta(0))  # the FixedClock does not move


def kept_rows(sessions: Any) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


# --- the table ------------------------------------------------------------------------------


def test_a_chat_is_claimed_by_one_pass_and_waits_after_a_failure(sessions: Any) -> None:
    with sessions() as s:
        outbox.keep(s, BOT, "1", ["a", "b"], NOW, "TimedOut")
        outbox.keep(s, BOT, "2", ["c"], NOW + timedelta(seconds=1), "TimedOut")
        assert outbox.chats_waiting(s, BOT) == {"1", "2"}
        assert outbox.due_chats(s, BOT, NOW) == ["1"]  # chat 2's row is not due yet
        assert outbox.due_chats(s, BOT, NOW + timedelta(seconds=2)) == ["1", "2"]  # the longest waiting first
        first = outbox.claim(s, BOT, "1", NOW)
        assert [k.payload for k in first] == ["a", "b"]
        # Claimed: a second process (or pass) gets nothing until the claim runs out.
        assert outbox.claim(s, BOT, "1", NOW) == []
        assert [k.payload for k in outbox.claim(s, BOT, "1", NOW + outbox.CLAIM_FOR)] == ["a", "b"]
        outbox.sent(s, first[0].id)
        due_again = outbox.failed(s, BOT, "1", NOW, "RetryAfter")
        assert due_again == NOW.replace(tzinfo=None) + outbox.RETRY_FIRST
        assert outbox.claim(s, BOT, "1", NOW) == []
        assert [k.payload for k in outbox.claim(s, BOT, "1", due_again)] == ["b"]
        outbox.failed(s, BOT, "1", due_again, "RetryAfter")  # the second failure waits twice as long
        assert outbox.claim(s, BOT, "1", due_again + outbox.RETRY_FIRST) == []
        assert outbox.claim(s, BOT, "1", due_again + 2 * outbox.RETRY_FIRST) != []
        assert outbox.drop_stale(s, BOT, NOW + outbox.GIVE_UP_AFTER) == 0
        assert outbox.drop_stale(s, BOT, NOW + outbox.GIVE_UP_AFTER + timedelta(seconds=2)) == 2
        assert outbox.chats_waiting(s, BOT) == set()


def test_kept_replies_are_in_the_export_and_go_with_delete(sessions: Any, database_url: str) -> None:
    with sessions() as s:
        outbox.keep(s, BOT, "5150", ["{}"], NOW, "TimedOut")
    engine = make_engine(database_url)
    try:
        assert [r["payload"] for r in export_user(engine, "5150")["outbox_messages"]] == ["{}"]
        delete_user(engine, "5150")
        assert "outbox_messages" not in export_user(engine, "5150")
    finally:
        engine.dispose()


def test_a_message_survives_the_round_trip_through_the_table() -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Done", callback_data="k1")]])
    message = OutgoingMessage("text", "Next: Bird dog", None, markup, bold_entities("Next: Bird dog", ["Bird dog"]))
    back = bot_outbox.decode(bot_outbox.encode(message))
    assert back == message


# --- the front end --------------------------------------------------------------------------


class TwoPartCoach:
    async def handle(self, user: str, text: str, metadata: dict[str, Any] | None = None) -> Turn:
        return Turn(user=user, text=text, replies=[Reply(f"first: {text}"), Reply(f"second: {text}")])


async def test_a_reply_telegram_keeps_refusing_is_kept_and_sent_once_it_takes_it(
    fake_telegram: FakeTelegram, sessions: Any, short_budgets: None
) -> None:
    # Checked without the outbox (send_messages straight from converse): the reply was logged
    # as failed and never arrived, and "later" arrived alone.
    chat = 4801
    outage = fake_telegram.fail(500, method="sendMessage", chat_id=chat, times=10_000)
    async with running(quick_app(TwoPartCoach(), fake_telegram, sessions), poll_timeout=1):
        fake_telegram.inject_text(chat, "during the outage")
        await fake_telegram.wait_for(lambda: len(kept_rows(sessions)) == 2, timeout=15)
        # A second message while the first reply waits: its answer is queued behind it.
        fake_telegram.inject_text(chat, "later")
        await fake_telegram.wait_for(lambda: len(kept_rows(sessions)) == 4, timeout=15)
        assert fake_telegram.texts_to(chat) == []
        outage.times = 0  # Telegram is back
        await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(chat)) == 4, timeout=15)
        await asyncio.sleep(1.0)  # a few passes: a second copy would be here
    assert fake_telegram.texts_to(chat) == [
        "first: during the outage", "second: during the outage", "first: later", "second: later",
    ]
    assert kept_rows(sessions) == []


async def test_only_what_was_not_sent_is_kept(
    fake_telegram: FakeTelegram, sessions: Any, short_budgets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = 4802
    real = bot_outbox.send_messages
    sends: list[str] = []

    async def second_fails(bot: Any, chat_id: Any, messages: list[OutgoingMessage]) -> Any:
        # The first try of "second" times out (after "first", in the same list, went out).
        from telegram.error import TimedOut

        out = []
        for message in messages:
            sends.append(message.text)
            if message.text.startswith("second") and sends.count(message.text) == 1:
                raise TimedOut()
            out += await real(bot, chat_id, [message])
        return out

    monkeypatch.setattr(bot_outbox, "send_messages", second_fails)
    async with running(quick_app(TwoPartCoach(), fake_telegram, sessions), poll_timeout=1):
        fake_telegram.inject_text(chat, "hello")
        await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(chat)) == 2, timeout=15)
        await asyncio.sleep(0.6)
    assert fake_telegram.texts_to(chat) == ["first: hello", "second: hello"]  # "first" not twice
    assert sends == ["first: hello", "second: hello", "second: hello"]
    assert kept_rows(sessions) == []


async def test_kept_replies_are_sent_by_the_next_process(
    fake_telegram: FakeTelegram, sessions: Any, short_budgets: None
) -> None:
    chat = 4803
    outage = fake_telegram.fail(500, method="sendMessage", chat_id=chat, times=10_000)
    async with running(quick_app(TwoPartCoach(), fake_telegram, sessions), poll_timeout=1):
        fake_telegram.inject_text(chat, "before the restart")
        await fake_telegram.wait_for(lambda: len(kept_rows(sessions)) == 2, timeout=15)
    outage.times = 0
    assert fake_telegram.texts_to(chat) == []
    async with running(quick_app(EchoCoach(), fake_telegram, sessions), poll_timeout=1):
        await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(chat)) == 2, timeout=15)
        fake_telegram.inject_text(chat, "after")
        await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(chat)) == 3, timeout=15)
    assert fake_telegram.texts_to(chat) == ["first: before the restart", "second: before the restart", "echo: after"]


async def test_a_429_past_its_budget_is_kept_too(
    fake_telegram: FakeTelegram, sessions: Any, short_budgets: None
) -> None:
    chat = 4804
    fake_telegram.fail(429, method="sendMessage", chat_id=chat, times=1, retry_after=30)
    limiter = make_rate_limiter(overall_rate=1000, private_chat_rate=1000, private_chat_burst=100, retry_after_budget_s=5)
    app = build_application(EchoCoach(), fake_telegram.token, fake_telegram.base_url, rate_limiter=limiter,
                            inbox=sessions, reminder_clock=FixedClock(NOW))
    async with running(app, poll_timeout=1):
        fake_telegram.inject_text(chat, "too long a wait")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(chat), timeout=15)
    assert fake_telegram.texts_to(chat) == ["echo: too long a wait"]
    statuses = [c.status for c in fake_telegram.calls_to("sendMessage", chat, ok_only=False)]
    assert statuses == [429, 200]


async def test_a_person_who_blocked_the_bot_is_not_retried(
    fake_telegram: FakeTelegram, sessions: Any, short_budgets: None
) -> None:
    chat = 4805
    fake_telegram.fail(403, method="sendMessage", chat_id=chat, times=10_000, description="Forbidden: bot was blocked by the user")
    async with running(quick_app(EchoCoach(), fake_telegram, sessions), poll_timeout=1):
        fake_telegram.inject_text(chat, "bye")
        await fake_telegram.wait_for(lambda: fake_telegram.calls_to("sendMessage", chat, ok_only=False), timeout=15)
        await asyncio.sleep(0.6)
    assert kept_rows(sessions) == []
    assert len(fake_telegram.calls_to("sendMessage", chat, ok_only=False)) == 1


async def test_an_outbox_that_cannot_write_says_the_reply_is_lost(
    fake_telegram: FakeTelegram, sessions: Any, short_budgets: None,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    chat = 4806
    fake_telegram.fail(500, method="sendMessage", chat_id=chat, times=10_000)

    def broken(self: Any, *args: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(bot_outbox.ReplyOutbox, "_db_keep", broken)
    async with running(quick_app(EchoCoach(), fake_telegram, sessions), poll_timeout=1):
        fake_telegram.inject_text(chat, "nowhere to go")
        await fake_telegram.wait_for(lambda: "is lost" in caplog.text, timeout=15)
    assert any(r.levelname == "ERROR" and f"chat {chat} is lost" in r.getMessage() for r in caplog.records)
