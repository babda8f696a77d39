"""The Telegram front end: python-telegram-bot handlers that pass each message to a
:class:`bot.turns.Coach` and send its replies (:mod:`bot.telegram_render`).

Private chats talk to the coach; in groups the bot only answers when addressed, to say it works
in private chat. Commands map to Rasa intent payloads through :data:`COMMANDS`. Button presses
come back as the button's payload. Reminders (:mod:`bot.scheduler`) can run in this process.

Entry points: :func:`build_application`, :func:`running` (embedding, tests),
:func:`run_polling`, :func:`run_webhook`, and ``python -m bot.telegram_app``.
"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable

from aiolimiter import AsyncLimiter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from telegram import BotCommand, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.commands import COMMANDS, CommandSpec
from bot.intake import HandledMarks, UpdateInbox, poll_updates, replay_pending, sweep_abandoned
from bot.scheduler import ReminderScheduler, ReminderText
from bot.outbox import ReplyOutbox, deliver_kept, send_or_keep
from bot.telegram_render import CallbackPayloads, OutgoingMessage, render_turn, retry_after_seconds, send_text
from bot.turns import Coach
from knowledge.clock import SYSTEM_CLOCK, Clock
from knowledge.inbox import TAKE_OVER_AFTER

logger = logging.getLogger(__name__)

COACH_KEY = "coach"
PAYLOADS_KEY = "callback_payloads"
SCHEDULER_KEY = "reminder_scheduler"
OPTIONS_KEY = "front_end_options"
INBOX_KEY = "update_inbox"
OUTBOX_KEY = "reply_outbox"
POLLER_KEY = "update_poller"
# On SIGTERM, turns in hand get this long to finish: the whole stop (with Rasa's and the
# scheduler's) then stays inside systemd's 30 s TimeoutStopSec.
STOP_GRACE_S = 15.0

APOLOGY = "Sorry, something went wrong on my side. Please try again in a minute."
NON_TEXT_ANSWER = (
    "I can only read text messages. Type what you want to tell me, or send /help to see "
    "what I can do."
)
UNKNOWN_COMMAND = "I don't know that command. Send /help to see what I can do."
EXPIRED_BUTTON = "That button has expired. Please type your answer instead."
PRIVATE_ONLY = "I coach one person at a time, so I only work in a private chat: message me at @{username}."


_TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


def redact_token(text: str, token: str | None = None) -> str:
    """``text`` with the bot token (given, or anything shaped like one) blanked out."""
    if token:
        text = text.replace(token, "<token>")
    return _TOKEN_PATTERN.sub("<token>", text)


class TokenRedactingFilter(logging.Filter):
    """Blanks bot tokens out of log records (httpx logs request URLs, which carry the token)."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_token(message, self.token)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def guard_token_in_logs(token: str) -> None:
    """Redact ``token`` from what httpx logs (at INFO it logs every URL, token included)."""
    http_logger = logging.getLogger("httpx")
    if not any(isinstance(f, TokenRedactingFilter) and f.token == token for f in http_logger.filters):
        http_logger.addFilter(TokenRedactingFilter(token))


# --- rate limiting --------------------------------------------------------------------------


# How long the bot waits for Telegram's answer to a request it has sent.
SEND_READ_TIMEOUT_S = 30.0
# How long, in all, one message waits out Telegram's 429s (``RetryAfter``) before it is given up.
RETRY_AFTER_BUDGET_S = 120.0


class _RetryBudgetSpent(Exception):
    """Raised through AIORateLimiter's retry loop (which retries only ``RetryAfter``) when
    waiting again would pass the budget; carries the last ``RetryAfter``."""

    def __init__(self, retry_after: RetryAfter) -> None:
        super().__init__(str(retry_after))
        self.retry_after = retry_after


class ChatRateLimiter(AIORateLimiter):
    """AIORateLimiter (overall and group limits, RetryAfter waited out) plus a limit per private
    chat, which AIORateLimiter leaves unlimited: on average ``private_chat_rate`` messages per
    second with short bursts of ``private_chat_burst``.

    429s are retried by time, not count: as often as Telegram asks, while the waits add up to
    at most ``retry_after_budget_s`` for the message (0: never retried here; the caller
    handles ``RetryAfter`` itself, as the reminder scheduler does)."""

    def __init__(
        self,
        *,
        overall_rate: float = 30.0,
        private_chat_rate: float = 1.0,
        private_chat_burst: int = 3,
        retry_after_budget_s: float = RETRY_AFTER_BUDGET_S,
    ) -> None:
        super().__init__(overall_max_rate=overall_rate, overall_time_period=1, max_retries=self._retries(retry_after_budget_s))
        self._private_rate = private_chat_rate
        self._private_burst = private_chat_burst
        self._private: dict[int, AsyncLimiter] = {}
        self._retry_after_budget_s = retry_after_budget_s

    @staticmethod
    def _retries(budget_s: float) -> int:
        # AIORateLimiter counts retries; the budget is what bounds them (each wait is >= 1 s).
        return int(budget_s) + 1 if budget_s > 0 else 0

    def _private_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._private) > 4096:  # forget idle chats
            for key, limiter in list(self._private.items()):
                if limiter.has_capacity(limiter.max_rate):
                    del self._private[key]
        if chat_id not in self._private:
            self._private[chat_id] = AsyncLimiter(
                self._private_burst, self._private_burst / self._private_rate
            )
        return self._private[chat_id]

    def _bounded(self, callback):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + self._retry_after_budget_s

        async def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if time.monotonic() + retry_after_seconds(exc.retry_after) > deadline:
                    raise _RetryBudgetSpent(exc) from exc
                raise

        return call

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):  # type: ignore[no-untyped-def, override]
        chat_id = data.get("chat_id")
        try:
            chat_id = int(chat_id)
        except (TypeError, ValueError):
            chat_id = None
        if self._retry_after_budget_s > 0:
            callback = self._bounded(callback)
        try:
            # Only messages count towards a chat's pace, not chat actions or answers to buttons.
            is_message = endpoint.startswith("send") and endpoint != "sendChatAction"
            if is_message and chat_id is not None and chat_id > 0 and self._private_rate:
                async with self._private_limiter(chat_id):
                    return await super().process_request(
                        callback, args, kwargs, endpoint, data, rate_limit_args
                    )
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        except _RetryBudgetSpent as spent:
            logger.error("Telegram kept answering 429 for %s for over %.0fs: giving up",
                         endpoint, self._retry_after_budget_s)
            raise spent.retry_after from None


def make_rate_limiter(
    overall_rate: float = 30.0,
    private_chat_rate: float = 1.0,
    private_chat_burst: int = 3,
    retry_after_budget_s: float = RETRY_AFTER_BUDGET_S,
) -> ChatRateLimiter:
    """Telegram's limits: at most 30 messages a second overall and about one a second per chat.
    ``retry_after_budget_s``: how long, in all, a message waits out RetryAfter (429) here.

    The overall limit is paced, not bursty: AIORateLimiter's default leaky bucket
    ``AsyncLimiter(30, 1)`` lets 30 through at once and then 30 a second, i.e. up to 60 in one
    second. Here the bucket holds one message and drains in ``1/overall_rate`` seconds, so sends
    are spaced evenly and no one-second window holds more than ``overall_rate`` of them.
    ``overall_rate`` 0 turns the overall limit off."""
    limiter = ChatRateLimiter(
        overall_rate=overall_rate,
        private_chat_rate=private_chat_rate,
        private_chat_burst=private_chat_burst,
        retry_after_budget_s=retry_after_budget_s,
    )
    if overall_rate:
        # The same AIORateLimiter, set up again through its own constructor with that bucket.
        AIORateLimiter.__init__(
            limiter,
            overall_max_rate=1,
            overall_time_period=1 / overall_rate,
            max_retries=ChatRateLimiter._retries(retry_after_budget_s),
        )
    return limiter


# --- one chat at a time, every chat at once -------------------------------------------------


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates run concurrently across chats, one at a time and in order within a chat. An
    update waits for its chat's turn *before* taking one of the ``max_concurrent_updates``
    slots, so a chat that sends 300 messages at once queues them in its own line and holds one
    slot, not 256 (with PTB's plain ``concurrent_updates(True)`` every waiting update held a
    slot and another chat waited 105 s behind the flood).

    With an inbox, an update is marked handled once its turn finished (also when a handler
    failed: it was answered with the apology), never when it was cancelled or never started.
    :meth:`close` is the graceful stop: updates still waiting are left alone (the inbox keeps
    them for the next process), the ones running get ``grace_s`` to finish."""

    def __init__(self, max_concurrent_updates: int = 256, updates_inbox: UpdateInbox | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self._lines: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self.marks = HandledMarks(updates_inbox) if updates_inbox is not None else None
        self._closing = False
        self._running: set[asyncio.Task[Any]] = set()

    @staticmethod
    def _chat_of(update: object) -> int | None:
        chat = update.effective_chat if isinstance(update, Update) else None
        return chat.id if chat is not None else None

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = self._chat_of(update)
        if chat is None:
            await self._run(update, coroutine)
            return
        line = self._lines.setdefault(chat, asyncio.Lock())  # asyncio.Lock is first come, first served
        self._waiting[chat] = self._waiting.get(chat, 0) + 1
        try:
            async with line:
                await self._run(update, coroutine)
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:  # nobody else in this chat's line: forget it
                del self._waiting[chat]
                del self._lines[chat]

    async def _run(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self._closing:  # stopping: not started, so left for the next process
            getattr(coroutine, "close", lambda: None)()
            return
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await super().process_update(update, coroutine)
        except asyncio.CancelledError:
            raise  # not finished: the inbox hands it to the next process
        except Exception:
            self._handled(update)
            raise
        else:
            self._handled(update)
        finally:
            if task is not None:
                self._running.discard(task)

    def _handled(self, update: object) -> None:
        if self.marks is not None and isinstance(update, Update):
            self.marks.add(update.update_id)  # written a moment later, with others

    async def close(self, grace_s: float) -> int:
        """Stop starting updates; give the running ones ``grace_s`` and cancel what is left.
        Returns how many were cancelled."""
        self._closing = True
        running = set(self._running)
        if not running:
            return 0
        _done, late = await asyncio.wait(running, timeout=grace_s)
        for task in late:
            task.cancel()
        if late:
            logger.warning("stopping: %d turns did not finish in %.0fs; the next run handles them", len(late), grace_s)
            await asyncio.wait(late, timeout=5)
        return len(late)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


# --- talking to the coach -------------------------------------------------------------------


@dataclass(frozen=True)
class FrontEndOptions:
    coach_timeout_s: float = 60.0
    typing_after_s: float = 0.5  # show "typing…" when an answer takes longer than this


def _metadata(update: Update, message: Message | None, chat_id: int, source: str) -> dict[str, Any]:
    user = message.from_user if message else None
    return {
        "channel": "telegram",
        # The turn's key for idempotent handling (actions.common.turn_key): the same update
        # handled again after a crash must not move a workout on twice.
        "update_id": update.update_id,
        "source": source,  # text | command | button
        "chat_id": chat_id,
        "message_id": message.message_id if message else None,
        "language_code": user.language_code if user else None,
    }


async def converse(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str, metadata: dict[str, Any]
) -> None:
    """Hand ``text`` to the coach as ``chat_id``'s message and send the replies. Runs alone in
    its chat (PerChatUpdateProcessor), so a quick second message cannot overtake the first."""
    coach: Coach = context.bot_data[COACH_KEY]
    options: FrontEndOptions = context.bot_data[OPTIONS_KEY]
    answer = asyncio.ensure_future(coach.handle(str(chat_id), text, metadata))
    try:
        # "typing…" only when the answer takes a while: most turns take well under a second,
        # and a chat action per turn would spend a third of the bot's Telegram requests.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.coach_timeout_s
        done, _ = await asyncio.wait({answer}, timeout=min(options.typing_after_s, options.coach_timeout_s))
        if not done:
            try:
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError:
                pass  # only a courtesy
        turn = await asyncio.wait_for(answer, max(0.0, deadline - loop.time()))
    except asyncio.TimeoutError:
        logger.error("coach timed out after %.1fs for chat %s", options.coach_timeout_s, chat_id)
        await send_or_keep(context.bot, context.bot_data.get(OUTBOX_KEY), chat_id, [OutgoingMessage("text", APOLOGY)])
        return
    except Exception as exc:
        # The message text stays out of the log; the traceback only at debug level.
        logger.error(
            "coach failed for chat %s: %s", chat_id, type(exc).__name__,
            exc_info=logger.isEnabledFor(logging.DEBUG),
        )
        await send_or_keep(context.bot, context.bot_data.get(OUTBOX_KEY), chat_id, [OutgoingMessage("text", APOLOGY)])
        return
    finally:
        answer.cancel()  # a no-op once answered; stops the work if we were cancelled
    messages = render_turn(turn, context.bot_data[PAYLOADS_KEY])
    await send_or_keep(context.bot, context.bot_data.get(OUTBOX_KEY), chat_id, messages)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    await converse(context, message.chat_id, message.text, _metadata(update, message, message.chat_id, "text"))


def command_handler(spec: CommandSpec) -> CommandHandler:
    async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        text = spec.to_coach_text(list(context.args or []))
        await converse(context, message.chat_id, text, _metadata(update, message, message.chat_id, "command"))

    return CommandHandler(spec.command, on_command, filters=filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE)


ADMINS_KEY = "admin_ids"
SESSIONS_KEY = "sessions"


async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats for ADMIN_IDS: aggregate counts only. Anyone else sees the unknown-command answer,
    so the command's existence is not advertised."""
    import asyncio
    from datetime import datetime, timezone

    from knowledge.stats import operator_stats

    message = update.effective_message
    user = update.effective_user
    admins: frozenset[str] = context.bot_data.get(ADMINS_KEY, frozenset())
    sessions = context.bot_data.get(SESSIONS_KEY)
    if message is None or user is None or str(user.id) not in admins or sessions is None:
        if message is not None:
            await message.reply_text(UNKNOWN_COMMAND)
        return

    def count() -> str:
        with sessions() as session:
            return operator_stats(session, datetime.now(timezone.utc)).text()

    await message.reply_text(await asyncio.to_thread(count))


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(UNKNOWN_COMMAND)


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(NON_TEXT_ANSWER)


def _addresses_bot(message: Message, username: str, bot_id: int) -> bool:
    handle = f"@{username}".lower()
    mentions = message.parse_entities(["mention"]).values() if message.text else []
    if any(m.lower() == handle for m in mentions):
        return True
    commands = message.parse_entities(["bot_command"]).values() if message.text else []
    if any(c.lower().endswith(handle) for c in commands):
        return True
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


async def on_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not _addresses_bot(message, context.bot.username, context.bot.id):
        return  # group chatter not meant for the bot
    await message.reply_text(PRIVATE_ONLY.format(username=context.bot.username))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    try:
        await query.answer()  # stops the button's spinner at once, before the coach thinks
    except TelegramError as exc:
        logger.info("could not answer a callback query: %s", type(exc).__name__)
    if query.message is not None and query.message.chat.type != ChatType.PRIVATE:
        # A button under a message forwarded into (or sent in) a group: coaching is one person
        # in a private chat, so the group gets the pointer, never a trainee record.
        await send_text(context.bot, query.message.chat.id, PRIVATE_ONLY.format(username=context.bot.username))
        return
    chat_id = query.message.chat.id if query.message else query.from_user.id
    payloads: CallbackPayloads = context.bot_data[PAYLOADS_KEY]
    payload = payloads.decode(query.data or "")
    if payload is None:
        await send_text(context.bot, chat_id, EXPIRED_BUTTON)
        return
    if query.message is not None:
        try:  # one press per question: take the keyboard away
            await query.edit_message_reply_markup(reply_markup=None)
        except TelegramError:
            pass  # too old to edit, or already edited
    message = query.message if isinstance(query.message, Message) else None
    metadata = _metadata(update, message, chat_id, "button")
    metadata["language_code"] = query.from_user.language_code
    await converse(context, chat_id, payload, metadata)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    logger.error(
        "error while handling an update: %s: %s",
        type(error).__name__,
        redact_token(str(error), context.bot.token),
        exc_info=logger.isEnabledFor(logging.DEBUG),
    )


# --- the application ------------------------------------------------------------------------


async def _on_startup(app: Application) -> None:
    commands = [BotCommand(spec.command, spec.description) for spec in COMMANDS]
    await app.bot.set_my_commands(commands)
    scheduler: ReminderScheduler | None = app.bot_data.get(SCHEDULER_KEY)
    if scheduler is not None:
        scheduler.start()


async def _on_stop(app: Application) -> None:
    scheduler: ReminderScheduler | None = app.bot_data.get(SCHEDULER_KEY)
    if scheduler is not None:
        await scheduler.stop()


def build_application(
    coach: Coach,
    token: str,
    base_url: str | None = None,
    *,
    base_file_url: str | None = None,
    sessions: sessionmaker | None = None,
    reminder_text: ReminderText | None = None,
    reminder_interval_s: float = 30.0,
    reminder_clock: Clock = SYSTEM_CLOCK,
    coach_timeout_s: float = 60.0,
    typing_after_s: float = 0.5,
    rate_limiter: AIORateLimiter | None = None,
    with_updater: bool = True,
    admin_ids: frozenset[str] = frozenset(),
    inbox: sessionmaker | None = None,
) -> Application:
    """The PTB application. ``base_url`` follows PTB: the token is appended to it
    (``http://host:port/bot`` → ``http://host:port/bot<token>/getMe``). With ``sessions``, the
    reminder scheduler runs in this process (``reminder_text`` None: the text composed from the
    trainee's record). With ``inbox`` (a sessionmaker on the project's database), every
    update is written to the inbox before it is confirmed and marked handled after its turn
    (:mod:`bot.intake`): polling then runs through :func:`bot.intake.poll_updates` instead of
    PTB's updater; and replies Telegram will not take within the send budgets are kept in the
    outbox and sent later (:mod:`bot.outbox`)."""
    updates_inbox = UpdateInbox(inbox, reminder_clock) if inbox is not None else None
    builder = (
        Application.builder()
        .token(token)
        .rate_limiter(rate_limiter or make_rate_limiter())
        # One slow coach turn, or one chat's flood, must not hold up other users.
        .concurrent_updates(PerChatUpdateProcessor(updates_inbox=updates_inbox))
        # Telegram may accept a message and answer late: wait for the answer rather than time
        # out at PTB's 5 s and send the message again (see bot.telegram_render._with_retry).
        .read_timeout(SEND_READ_TIMEOUT_S)
        .post_init(_on_startup)
        .post_stop(_on_stop)
    )
    if base_url:
        builder = builder.base_url(base_url)
    if base_file_url:
        builder = builder.base_file_url(base_file_url)
    if not with_updater:
        builder = builder.updater(None)
    app = builder.build()
    guard_token_in_logs(token)
    app.bot_data[COACH_KEY] = coach
    app.bot_data[PAYLOADS_KEY] = CallbackPayloads()
    app.bot_data[OPTIONS_KEY] = FrontEndOptions(coach_timeout_s=coach_timeout_s, typing_after_s=typing_after_s)
    if sessions is not None:
        app.bot_data[SCHEDULER_KEY] = ReminderScheduler(
            app.bot, sessions, clock=reminder_clock, text_for=reminder_text, interval=reminder_interval_s
        )

    app.bot_data[ADMINS_KEY] = admin_ids
    app.bot_data[SESSIONS_KEY] = sessions
    app.bot_data[INBOX_KEY] = updates_inbox
    app.bot_data[OUTBOX_KEY] = ReplyOutbox(inbox, reminder_clock) if inbox is not None else None

    private_message = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    for spec in COMMANDS:
        app.add_handler(command_handler(spec))
    # Not in the command menu: only the operator's ids get an answer.
    app.add_handler(CommandHandler("stats", on_stats, filters=private_message))
    app.add_handler(MessageHandler(private_message & filters.COMMAND, on_unknown_command))
    app.add_handler(MessageHandler(private_message & filters.TEXT, on_text))
    app.add_handler(MessageHandler(private_message, on_non_text))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.UpdateType.MESSAGE, on_group_message))
    app.add_handler(CallbackQueryHandler(on_button))
    # Edited messages and channel posts match no handler: ignored on purpose.
    app.add_error_handler(on_error)
    return app


@asynccontextmanager
async def running(
    app: Application, *, poll: bool = True, poll_timeout: float = 10.0, grace_s: float = STOP_GRACE_S
) -> AsyncIterator[Application]:
    """Run ``app`` inside the current event loop (tests, or a host that owns the loop):
    polling if ``poll``, otherwise only processing what is put on ``app.update_queue``.

    Leaving it is the graceful stop: fetching stops first, turns in hand get ``grace_s`` to
    finish, and with an inbox whatever was not started stays there for the next process."""
    updates_inbox: UpdateInbox | None = app.bot_data.get(INBOX_KEY)
    kept: ReplyOutbox | None = app.bot_data.get(OUTBOX_KEY)
    poller: asyncio.Task[None] | None = None
    sweeper: asyncio.Task[None] | None = None
    kept_pass: asyncio.Task[None] | None = None
    async with app:
        await _on_startup(app)
        if kept is not None:
            kept.bot_id = app.bot.id
            await kept.load()
            kept_pass = asyncio.create_task(deliver_kept(app.bot, kept), name="outbox-pass")
        if updates_inbox is not None:
            updates_inbox.bot_id = app.bot.id
            # Polling: this is the only process of the bot, everything unhandled is ours.
            # Webhook: siblings may be handling theirs; take only what was left behind.
            await replay_pending(app.update_queue, updates_inbox, app.bot, only_abandoned=not poll)
            if not poll:
                sweeper = asyncio.create_task(sweep_abandoned(app.update_queue, updates_inbox, app.bot))
        if poll and updates_inbox is not None:
            await app.bot.delete_webhook()  # getUpdates is refused while a webhook is set
            poller = asyncio.create_task(
                poll_updates(app.bot, app.update_queue, updates_inbox, timeout=poll_timeout), name="poll-updates"
            )
            poller.add_done_callback(_poller_ended)
            app.bot_data[POLLER_KEY] = poller
        elif poll and app.updater is not None:
            await app.updater.start_polling(timeout=poll_timeout, allowed_updates=Update.ALL_TYPES)
        await app.start()
        try:
            yield app
        finally:
            for task in (poller, sweeper, kept_pass):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            processor = app.update_processor
            if isinstance(processor, PerChatUpdateProcessor):
                await processor.close(grace_s)
            await app.stop()
            if isinstance(processor, PerChatUpdateProcessor) and processor.marks is not None:
                await processor.marks.close()
            if updates_inbox is not None:
                try:  # what was not finished may be taken by the next process at once
                    await asyncio.to_thread(updates_inbox.release)
                except Exception as exc:
                    logger.error("could not release unhandled updates: %s (taken over after %s)",
                                 type(exc).__name__, TAKE_OVER_AFTER)
            await _on_stop(app)


def _poller_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.critical("polling stopped: %s; no new messages are taken in", task.exception())


def run_polling(app: Application) -> None:
    """Long-poll Telegram until interrupted (blocking)."""
    app.run_polling(allowed_updates=Update.ALL_TYPES)


# --- webhook --------------------------------------------------------------------------------

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_web_app(app: Application, secret_token: str, path: str = "/telegram") -> Any:
    """An aiohttp app that accepts Telegram's webhook POSTs at ``path`` (only with the right
    secret-token header) and queues them for ``app``. aiohttp instead of PTB's own webhook
    server, which needs tornado (not installed with Rasa)."""
    from aiohttp import web

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret_token.encode()):
            return web.Response(status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, app.bot)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            return web.Response(status=400)
        updates_inbox: UpdateInbox | None = app.bot_data.get(INBOX_KEY)
        if updates_inbox is not None:
            try:
                fresh = await asyncio.to_thread(updates_inbox.record, [update])
            except SQLAlchemyError as exc:
                # Not written down: a 500 makes Telegram send it again later.
                logger.error("could not write update %s to the inbox: %s", update.update_id, type(exc).__name__)
                return web.Response(status=500)
            if not fresh:  # Telegram's retry of one we already have
                return web.Response(status=200)
        await app.update_queue.put(update)
        return web.Response(status=200)

    web_app = web.Application()
    web_app.router.add_post(path, receive)
    web_app.router.add_get("/healthz", healthz)
    return web_app


async def serve_webhook(
    app: Application,
    webhook_url: str,
    secret_token: str,
    listen: str = "0.0.0.0",
    port: int = 8443,
    stop: asyncio.Event | None = None,
) -> None:
    """Register ``webhook_url`` with Telegram and serve it until ``stop`` is set. The path of
    ``webhook_url`` is the path served."""
    from urllib.parse import urlparse

    from aiohttp import web

    path = urlparse(webhook_url).path or "/"
    runner = web.AppRunner(webhook_web_app(app, secret_token, path), access_log=None)
    stop = stop or asyncio.Event()
    async with running(app, poll=False):
        await app.bot.set_webhook(webhook_url, secret_token=secret_token, allowed_updates=Update.ALL_TYPES)
        await runner.setup()
        await web.TCPSite(runner, listen, port).start()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


def run_webhook(app: Application, webhook_url: str, secret_token: str, listen: str = "0.0.0.0", port: int = 8443) -> None:
    """Serve Telegram's webhook until SIGINT/SIGTERM (blocking)."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve_webhook(app, webhook_url, secret_token, listen, port, stop)

    asyncio.run(main())


def configure_logging(level: str, token: str | None) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
    for handler in logging.getLogger().handlers:
        handler.addFilter(TokenRedactingFilter(token))


async def serve_polling(app: Application, stop: asyncio.Event) -> None:
    """Long-poll inside the current event loop until ``stop`` is set (or polling itself gave
    up: a bad token, another poller; then its error is raised after the graceful stop)."""
    async with running(app):
        poller: asyncio.Task[None] | None = app.bot_data.get(POLLER_KEY)
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({stopped} | ({poller} if poller else set()), return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if poller is not None and poller.done() and not poller.cancelled() and poller.exception() is not None:
            raise poller.exception()  # type: ignore[misc]


def _stop_on_signals(stop: asyncio.Event) -> None:
    import signal

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)


async def _serve_with_rasa(args: argparse.Namespace, token: str) -> None:
    from bot.runtime import coach_session  # heavy: Rasa and TensorFlow
    from bot.settings import Settings
    from knowledge.db import create_all, get_engine, session_factory

    settings = Settings.from_env()
    async with coach_session(settings) as coach:
        engine = get_engine(settings.database_url)
        create_all(engine)
        app = build_application(
            coach,
            token,
            settings.telegram_base_url,
            sessions=None if args.no_reminders else session_factory(engine),
            inbox=session_factory(engine),
        )
        stop = asyncio.Event()
        _stop_on_signals(stop)
        if args.webhook_url:
            await serve_webhook(app, args.webhook_url, args.secret_token, args.listen, args.port, stop)
        else:
            await serve_polling(app, stop)


def main(argv: list[str] | None = None) -> None:
    """``python -m bot.telegram_app [--webhook-url URL --secret-token S]``: the bot with Rasa."""
    parser = argparse.ArgumentParser(description="Run the coach on Telegram.")
    parser.add_argument("--webhook-url", default=os.environ.get("TELEGRAM_WEBHOOK_URL"))
    parser.add_argument("--secret-token", default=os.environ.get("TELEGRAM_WEBHOOK_SECRET"))
    parser.add_argument("--listen", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8443")))
    parser.add_argument("--no-reminders", action="store_true", help="run the scheduler elsewhere")
    args = parser.parse_args(argv)
    token = os.environ.get("TELEGRAM_BOT_TOKEN")
    if not token:
        raise SystemExit("TELEGRAM_BOT_TOKEN is not set")
    if args.webhook_url and not args.secret_token:
        raise SystemExit("a webhook needs --secret-token (or TELEGRAM_WEBHOOK_SECRET)")
    configure_logging(os.environ.get("LOG_LEVEL", "WARNING").upper(), token)
    try:
        asyncio.run(_serve_with_rasa(args, token))
    except TelegramError as exc:
        raise SystemExit(f"Telegram: {redact_token(str(exc), token)}") from None


if __name__ == "__main__":
    main()
