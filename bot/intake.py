"""Taking updates in from Telegram without losing one (see :mod:`knowledge.inbox`).

Long polling: ``getUpdates`` with an offset confirms every update below it, and Telegram then
forgets them. PTB's own updater confirms an update by fetching the next batch, while the first
one may still be in hand; a crash then loses it. Here each batch is written to the inbox table
*before* the offset moves past it, the update is marked handled only after its turn finished,
and at start-up whatever the last process left unhandled is handled first. A database that
cannot take the batch means the offset stays put, so Telegram keeps the updates.

Webhook: the same inbox, written before the POST is answered 200 (Telegram retries otherwise).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from typing import Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from telegram import Bot, Update
from telegram.error import Conflict, Forbidden, InvalidToken, TelegramError

from knowledge import inbox
from knowledge.clock import SYSTEM_CLOCK, Clock

logger = logging.getLogger(__name__)

# Back-off after a failed getUpdates or inbox write: 0.5 s doubling to at most 30 s.
RETRY_FIRST_S = 0.5
RETRY_MOST_S = 30.0
PRUNE_EVERY_S = 3600.0
# Handled marks are written this long after the first of them, together.
MARK_GATHER_S = 0.02


def _user_of(update: Update) -> str | None:
    chat = update.effective_chat
    if chat is not None:
        return str(chat.id)
    user = update.effective_user
    return str(user.id) if user is not None else None


def process_id() -> str:
    """This process among the ones sharing the inbox: host, pid and start time."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{int(time.time())}"


class UpdateInbox:
    """The inbox table, in Telegram's types, for one process (``owner``). Its methods touch the
    database: call them in a thread (``asyncio.to_thread``)."""

    def __init__(self, sessions: sessionmaker, clock: Clock = SYSTEM_CLOCK, bot_id: int = 0) -> None:
        self.sessions = sessions
        self.clock = clock
        self.bot_id = bot_id  # set from getMe once the bot is initialised
        self.owner = process_id()

    def record(self, updates: Sequence[Update]) -> list[Update]:
        """Write ``updates`` down; returns the ones not seen before (to be handled)."""
        incoming = [inbox.Incoming(u.update_id, _user_of(u), u.to_json()) for u in updates]
        with self.sessions() as session:
            fresh = set(inbox.record(session, self.bot_id, incoming, self.clock.now(), self.owner))
        return [u for u in updates if u.update_id in fresh]

    def take_pending(self, bot: Bot, *, only_abandoned: bool) -> list[Update]:
        """Unhandled updates, oldest first, now this process's: all of them (the only process:
        long polling), or ``only_abandoned`` ones (released, or older than
        :data:`knowledge.inbox.TAKE_OVER_AFTER`: webhook processes share the inbox)."""
        now = self.clock.now()
        before = now - inbox.TAKE_OVER_AFTER if only_abandoned else None
        with self.sessions() as session:
            left = inbox.take_pending(session, self.bot_id, self.owner, now, taken_before=before)
        updates = []
        for item in left:
            try:
                updates.append(Update.de_json(json.loads(item.payload), bot))
            except (ValueError, KeyError, TypeError) as exc:  # cannot happen for what we wrote
                logger.error("inbox update %s cannot be read back (%s): dropping it", item.update_id, type(exc).__name__)
                self.handled([item.update_id])
        return updates

    def release(self) -> int:
        with self.sessions() as session:
            return inbox.release(session, self.bot_id, self.owner)

    def handled(self, update_ids: Sequence[int]) -> None:
        with self.sessions() as session:
            inbox.mark_handled(session, self.bot_id, update_ids, self.clock.now())

    def prune(self) -> int:
        with self.sessions() as session:
            return inbox.prune(session, self.clock.now())


class HandledMarks:
    """Marks updates handled shortly after their turns finished, many in one commit, so a
    chat's next turn never waits for the database. A crash in between means those turns are
    handled again by the next process (idempotently: see docs/deploy.md)."""

    def __init__(self, updates_inbox: UpdateInbox, gather_s: float = MARK_GATHER_S) -> None:
        self.inbox = updates_inbox
        self.gather_s = gather_s
        self._ids: list[int] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, update_id: int) -> None:
        self._ids.append(update_id)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="mark-handled")

    async def _write(self) -> None:
        ids, self._ids = self._ids, []
        if not ids:
            return
        try:
            await asyncio.to_thread(self.inbox.handled, ids)
        except asyncio.CancelledError:
            # Cancelled mid-write (the stop): the thread may not have committed, so the ids stay
            # for close() to write again (marking is idempotent). Without this they were lost and
            # the next process handled those turns a second time.
            self._ids[:0] = ids
            raise
        except Exception as exc:
            # Kept for the next write; if the process dies first, the turns are handled again.
            logger.error("could not mark %d updates handled: %s", len(ids), type(exc).__name__)
            self._ids[:0] = ids
            raise

    async def _run(self) -> None:
        wait = RETRY_FIRST_S
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.gather_s)
            self._wake.clear()
            try:
                await self._write()
                wait = RETRY_FIRST_S
            except Exception:
                await asyncio.sleep(wait)
                wait = min(RETRY_MOST_S, wait * 2)
                self._wake.set()

    async def close(self) -> None:
        """Stop the background writer and write what is left (the graceful stop)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self._write()
        except Exception:
            pass  # logged in _write; those turns are handled again next time


async def replay_pending(queue: asyncio.Queue, updates_inbox: UpdateInbox, bot: Bot, *, only_abandoned: bool = False) -> int:
    """Queue what earlier processes left unhandled (see :meth:`UpdateInbox.take_pending`);
    returns how many."""
    left = await asyncio.to_thread(updates_inbox.take_pending, bot, only_abandoned=only_abandoned)
    for update in left:
        await queue.put(update)
    if left:
        logger.warning("handling %d updates an earlier run received but did not finish", len(left))
    return len(left)


async def sweep_abandoned(queue: asyncio.Queue, updates_inbox: UpdateInbox, bot: Bot, every_s: float = 60.0) -> None:
    """Webhook mode, until cancelled: take over updates another process left (it died, or
    stopped with some unstarted), and prune old handled ones."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await replay_pending(queue, updates_inbox, bot, only_abandoned=True)
            await asyncio.to_thread(updates_inbox.prune)
        except SQLAlchemyError as exc:
            logger.error("could not look for abandoned updates: %s", type(exc).__name__)


async def poll_updates(
    bot: Bot, queue: asyncio.Queue, updates_inbox: UpdateInbox, *, timeout: float = 10.0,
    allowed_updates: Sequence[str] = Update.ALL_TYPES,
) -> None:
    """Long-poll until cancelled: each batch goes to the inbox, then to ``queue``, and only
    then is it confirmed (by the next call's offset). Raises on a bad token or a second poller;
    every other error is logged and retried with back-off."""
    offset: int | None = None
    wait = RETRY_FIRST_S
    loop = asyncio.get_running_loop()
    pruned_at = -PRUNE_EVERY_S  # prune at the start, then hourly
    while True:
        if loop.time() - pruned_at > PRUNE_EVERY_S:
            pruned_at = loop.time()
            try:
                await asyncio.to_thread(updates_inbox.prune)
            except SQLAlchemyError as exc:
                logger.warning("could not prune the inbox: %s", type(exc).__name__)
        try:
            updates = await bot.get_updates(offset=offset, timeout=timeout, allowed_updates=list(allowed_updates))
        except (InvalidToken, Forbidden):
            raise
        except Conflict:
            logger.error("another process is polling this bot (or a webhook is set): stopping")
            raise
        except TelegramError as exc:
            logger.warning("getUpdates failed (%s); trying again in %.1fs", type(exc).__name__, wait)
            await asyncio.sleep(wait)
            wait = min(RETRY_MOST_S, wait * 2)
            continue
        if not updates:
            wait = RETRY_FIRST_S
            continue
        try:
            fresh = await asyncio.to_thread(updates_inbox.record, updates)
        except SQLAlchemyError as exc:
            # Not written down: do not confirm them; Telegram hands them out again.
            logger.error(
                "could not write %d updates to the inbox (%s); not confirming them, trying again in %.1fs",
                len(updates), type(exc).__name__, wait,
            )
            await asyncio.sleep(wait)
            wait = min(RETRY_MOST_S, wait * 2)
            continue
        wait = RETRY_FIRST_S
        for update in fresh:
            await queue.put(update)
        offset = updates[-1].update_id + 1
