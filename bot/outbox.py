"""Replies that Telegram would not take within the send budgets: kept, and delivered later
(see :mod:`knowledge.outbox` for the table and its guarantees).

:func:`send_or_keep` is how a turn's replies go out when the front end has a database: sent
in order; from the first one Telegram keeps refusing (5xx or network errors past
``SEND_RETRY_BUDGET_S``, 429s past the rate limiter's budget) the rest of the turn goes to the
outbox. While a chat has messages waiting there, a new turn is tried behind them, never
before. :func:`deliver_pass` runs every few seconds and sends what is due, chat by chat.

A refusal that will not change (400 bad request, 403 the person blocked the bot) is not kept:
it is logged, as before.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from telegram import Bot, InlineKeyboardMarkup, MessageEntity
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.telegram_render import OutgoingMessage, send_messages
from knowledge import outbox
from knowledge.clock import SYSTEM_CLOCK, Clock

logger = logging.getLogger(__name__)

PASS_EVERY_S = 5.0
# Telegram errors after which a message is worth keeping: passing ones. BadRequest is a
# NetworkError in PTB but final, like Forbidden.
PASSING = (NetworkError, RetryAfter)
FINAL = (BadRequest, Forbidden)


def encode(message: OutgoingMessage) -> str:
    return json.dumps({
        "kind": message.kind,
        "text": message.text,
        "path": message.path,
        "markup": message.reply_markup.to_dict() if message.reply_markup is not None else None,
        "entities": [e.to_dict() for e in message.entities],
    })


def decode(payload: str) -> OutgoingMessage:
    data = json.loads(payload)
    markup = InlineKeyboardMarkup.de_json(data["markup"], None) if data.get("markup") else None
    entities = tuple(MessageEntity.de_json(e, None) for e in data.get("entities") or ())
    return OutgoingMessage(data["kind"], data.get("text") or "", data.get("path"), markup, entities)  # type: ignore[arg-type]


class ReplyOutbox:
    """The outbox for one bot, with this process's view of which chats have messages waiting
    (refreshed from the table on every pass, so rows other processes kept count too). Its
    ``_db_*`` methods touch the database: they are called in a thread."""

    def __init__(self, sessions: sessionmaker, clock: Clock = SYSTEM_CLOCK, bot_id: int = 0) -> None:
        self.sessions = sessions
        self.clock = clock
        self.bot_id = bot_id  # set from getMe once the bot is initialised
        self.waiting: set[str] = set()
        self._lock = asyncio.Lock()  # keeping and "is the chat clear now?" do not interleave

    def _db_keep(self, chat: str, payloads: Sequence[str], error: str) -> None:
        with self.sessions() as session:
            outbox.keep(session, self.bot_id, chat, payloads, self.clock.now(), error)

    def _db_waiting(self) -> set[str]:
        with self.sessions() as session:
            return outbox.chats_waiting(session, self.bot_id)

    def _db_still_waiting(self, chat: str) -> bool:
        with self.sessions() as session:
            return chat in outbox.chats_waiting(session, self.bot_id)

    def _db_claim(self, chat: str) -> list[outbox.Kept]:
        with self.sessions() as session:
            return outbox.claim(session, self.bot_id, chat, self.clock.now())

    def _db_due(self) -> list[str]:
        with self.sessions() as session:
            return outbox.due_chats(session, self.bot_id, self.clock.now())

    def _db_sent(self, row_id: int) -> None:
        with self.sessions() as session:
            outbox.sent(session, row_id)

    def _db_failed(self, chat: str, error: str) -> None:
        with self.sessions() as session:
            outbox.failed(session, self.bot_id, chat, self.clock.now(), error)

    def _db_release(self, chat: str) -> None:
        with self.sessions() as session:
            outbox.release(session, self.bot_id, chat, self.clock.now())

    def _db_drop_stale(self) -> int:
        with self.sessions() as session:
            return outbox.drop_stale(session, self.bot_id, self.clock.now())

    async def load(self) -> None:
        self.waiting = await asyncio.to_thread(self._db_waiting)
        if self.waiting:
            logger.warning("%d chats have replies waiting in the outbox from before", len(self.waiting))

    async def keep(self, chat: str, messages: Sequence[OutgoingMessage], error: str) -> None:
        """Write the messages down (raises if the database cannot take them: the caller logs)."""
        async with self._lock:
            await asyncio.to_thread(self._db_keep, chat, [encode(m) for m in messages], error)
            self.waiting.add(chat)

    async def _settle(self, chat: str) -> None:
        async with self._lock:
            if not await asyncio.to_thread(self._db_still_waiting, chat):
                self.waiting.discard(chat)

    async def deliver(self, bot: Bot, chat: str) -> bool:
        """Send the chat's waiting messages if they are due and nobody else is sending them;
        True when the chat has none left."""
        rows = await asyncio.to_thread(self._db_claim, chat)
        if not rows:  # not due yet, someone else is sending them, or none left
            await self._settle(chat)
            return chat not in self.waiting
        for row in rows:
            try:
                await send_messages(bot, int(chat), [decode(row.payload)])
            except asyncio.CancelledError:
                await asyncio.shield(asyncio.to_thread(self._db_release, chat))
                raise
            except Forbidden as exc:  # blocked: nothing kept for this chat can ever go
                logger.warning("chat %s refuses the bot (%s): its %d waiting replies are dropped",
                               chat, type(exc).__name__, len(rows))
                for left in rows[rows.index(row):]:
                    await asyncio.to_thread(self._db_sent, left.id)
                break
            except BadRequest as exc:  # this message cannot go; the next may
                logger.error("Telegram refused a kept reply for chat %s (%s): dropped", chat, exc)
                await asyncio.to_thread(self._db_sent, row.id)
                continue
            except PASSING as exc:
                logger.warning("kept replies for chat %s still not taken (%s); trying again later",
                               chat, type(exc).__name__)
                await asyncio.to_thread(self._db_failed, chat, type(exc).__name__)
                return False
            await asyncio.to_thread(self._db_sent, row.id)
            logger.info("delivered a kept reply to chat %s (kept since %s)", chat, row.created_at.isoformat())
        await self._settle(chat)
        return chat not in self.waiting

    async def deliver_pass(self, bot: Bot) -> int:
        """One pass: drop what is too old, send what is due. Returns how many chats were cleared."""
        dropped = await asyncio.to_thread(self._db_drop_stale)
        if dropped:
            logger.error("gave up %d replies Telegram would not take for %s", dropped, outbox.GIVE_UP_AFTER)
        async with self._lock:
            self.waiting = await asyncio.to_thread(self._db_waiting)
        cleared = 0
        for chat in await asyncio.to_thread(self._db_due):
            if await self.deliver(bot, chat):
                cleared += 1
        return cleared


async def send_or_keep(bot: Bot, kept: ReplyOutbox | None, chat_id: int, messages: Sequence[OutgoingMessage]) -> None:
    """Send ``messages`` in order; with an outbox, what Telegram will not take within the
    budgets is kept and sent later instead of lost, and a chat with kept messages gets its new
    ones behind them."""
    if kept is None:
        await send_messages(bot, chat_id, list(messages))
        return
    chat = str(chat_id)
    if chat in kept.waiting and not await kept.deliver(bot, chat):
        await kept.keep(chat, messages, "behind earlier replies")
        logger.warning("chat %s has replies waiting: %d more kept behind them", chat, len(messages))
        return
    for i, message in enumerate(messages):
        try:
            await send_messages(bot, chat_id, [message])
        except FINAL:
            raise
        except PASSING as exc:
            try:
                await kept.keep(chat, messages[i:], type(exc).__name__)
            except SQLAlchemyError as db_exc:
                logger.error("a reply to chat %s is lost: Telegram (%s) and the outbox (%s) both failed",
                             chat, type(exc).__name__, type(db_exc).__name__)
                raise exc from db_exc
            logger.error("Telegram would not take a reply to chat %s (%s): %d messages kept in the outbox",
                         chat, type(exc).__name__, len(messages) - i)
            return


async def deliver_kept(bot: Bot, kept: ReplyOutbox, every_s: float = PASS_EVERY_S) -> None:
    """The outbox pass, every ``every_s`` seconds, until cancelled. A failing database is
    logged each time and tried again at the next pass."""
    while True:
        try:
            await kept.deliver_pass(bot)
        except SQLAlchemyError as exc:
            logger.error("outbox pass failed: %s; trying again in %.0fs", type(exc).__name__, every_s)
        await asyncio.sleep(every_s)

