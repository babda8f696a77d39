"""The bot's own reminder scheduler: an asyncio loop that claims due reminders
(:mod:`knowledge.reminders`) and sends them through the Telegram bot.

Runs inside the bot process (:func:`bot.telegram_app.build_application` with a session factory)
or as its own process (``python -m bot scheduler``; ``python -m bot.scheduler`` takes the
options tests and benchmarks need); several workers can share one PostgreSQL database, each
reminder is still sent once. The text comes from :mod:`knowledge.reminder_text`. Not PTB's
JobQueue: its APScheduler pin conflicts with Rasa's.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import logging
import os
import signal
import socket
import uuid
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Union

from sqlalchemy.orm import sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.telegram_render import retry_after_seconds
from knowledge import reminders
from knowledge.clock import SYSTEM_CLOCK, Clock, FixedClock
from knowledge.db import in_chunks
from knowledge.reminder_text import reminder_text, reminder_texts

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 30.0
# Sends in flight at once. 16 keeps Telegram's 30/s busy while a send takes up to ~0.5 s; more
# only costs CPU in httpx's connection pool (with 30, 10,000 unthrottled sends ran at ~280/s on
# 2 cores, with 16 at ~310/s, with 10 at ~330-420/s).
DEFAULT_CONCURRENCY = 16
# Each sent reminder is marked sent as soon as its send returns: one commit per send, or one for
# the sends that returned while the previous commit was being written. A hard crash can then
# resend only a reminder Telegram had accepted whose mark was not yet committed (docs/deploy.md).
# ...after waiting this long for the sends that return together (one commit for all of them):
# the most a mark lags behind Telegram's answer is this plus one commit.
MARK_GATHER_S = 0.005
# Reminder texts go from the composing thread to the senders this many at a time.
COMPOSED_HANDOFF = 10
REMINDER_BUTTONS = (
    ("Start now", "/start_session"),
    ("In an hour", "/snooze_reminder"),
    ("Skip today", "/skip_today"),
)

# user_id, kind ("daily" | "snooze") -> the reminder's text; may be async.
ReminderText = Callable[[str, str], Union[str, Awaitable[str]]]


def reminder_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(title, callback_data=payload) for title, payload in REMINDER_BUTTONS]]
    )


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def redact(text: str, token: str | None) -> str:
    return text.replace(token, "<token>") if token else text


class ReminderScheduler:
    """Claims and sends due reminders every ``interval`` seconds.

    The database is used through ``asyncio.to_thread`` so that a slow query never blocks the
    bot's event loop. ``sleep`` is injectable so tests need not wait for retry delays.
    """

    def __init__(
        self,
        bot: Bot,
        sessions: sessionmaker,
        *,
        clock: Clock = SYSTEM_CLOCK,
        worker_id: str | None = None,
        interval: float = DEFAULT_INTERVAL_S,
        batch_size: int = 100,
        concurrency: int = DEFAULT_CONCURRENCY,
        text_for: ReminderText | None = None,
        lease: timedelta = reminders.DEFAULT_LEASE,
        max_send_tries: int = 4,
        backoff_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.bot = bot
        self.sessions = sessions
        self.clock = clock
        self.worker_id = worker_id or default_worker_id()
        self.interval = interval
        self.batch_size = batch_size
        # None: composed from the trainee's record, a whole batch in one database session.
        self.custom_text = text_for
        self.text_for = text_for or self._text_from_record
        self.lease = lease
        self.max_send_tries = max_send_tries
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._send_slots = asyncio.Semaphore(concurrency)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _text_from_record(self, user_id: str, kind: str) -> str:
        return await asyncio.to_thread(self._compose, user_id, kind)

    def _compose(self, user_id: str, kind: str) -> str:
        with self.sessions() as session:
            return reminder_text(session, user_id, kind, self.clock)

    def _compose_batch(
        self, claims: list[reminders.ClaimedReminder], ready: Callable[[list[tuple[int, str | None]]], None]
    ) -> None:
        """The texts of a batch in one session and one thread hop, composed a few at a time and
        each group handed to ``ready`` at once, so that sending starts while the rest is composed.
        None where composing failed: :meth:`_deliver` composes that one again on its own and
        reports the error."""
        with self.sessions() as session:
            for chunk in in_chunks(claims, COMPOSED_HANDOFF):
                texts: list[str] | list[None]
                try:
                    texts = reminder_texts(session, [(c.user_id, c.kind) for c in chunk], self.clock)
                except Exception:  # noqa: BLE001 - see above
                    session.rollback()
                    texts = [None] * len(chunk)
                ready([(c.delivery_id, text) for c, text in zip(chunk, texts)])

    def _compose_while_sending(
        self, claims: list[reminders.ClaimedReminder]
    ) -> tuple[asyncio.Task[None], dict[int, asyncio.Future[str | None]]]:
        """Start composing the batch's texts in a thread; one future per claim."""
        loop = asyncio.get_running_loop()
        texts: dict[int, asyncio.Future[str | None]] = {c.delivery_id: loop.create_future() for c in claims}

        def resolve(composed: list[tuple[int, str | None]]) -> None:  # on the event loop
            for delivery_id, text in composed:
                if not texts[delivery_id].done():
                    texts[delivery_id].set_result(text)

        def ready(composed: list[tuple[int, str | None]]) -> None:  # in the thread
            loop.call_soon_threadsafe(resolve, composed)

        def unblock(_task: asyncio.Task[None]) -> None:
            # The session could not even open: let each send compose (and fail) on its own.
            resolve([(delivery_id, None) for delivery_id in texts])

        composer = asyncio.create_task(asyncio.to_thread(self._compose_batch, claims, ready))
        composer.add_done_callback(unblock)
        return composer, texts

    # --- one round ----------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One round: record the reminders that fell due (one pass over the trainees), then claim
        and send batch after batch until a claim comes back short (or :meth:`stop` was asked);
        returns how many were sent."""
        await asyncio.to_thread(self._record)
        total = 0
        while True:
            claims = await asyncio.to_thread(self._claim)
            if not claims:
                break
            total += await self._send_batch(claims)
            if len(claims) < self.batch_size or self._stop.is_set():
                break
        return total

    async def _send_batch(self, claims: list[reminders.ClaimedReminder]) -> int:
        """Send one claimed batch. Each sent row is marked as soon as its send returned (sends
        that return while a mark is being written go in the next one), so after a SIGKILL only
        a reminder whose mark was still being written can go out twice, once its lease ends.
        The batch ends only when every mark is written, also when stopped or cancelled."""
        sent: list[int] = []  # sent in this batch
        unmarked: list[int] = []  # sent, not yet marked in the database
        settled: set[int] = set()  # recorded as failed or skipped on the spot
        marking: dict[asyncio.Task[None], list[int]] = {}  # marks being written in a thread
        wake = asyncio.Event()

        async def mark(group: list[int]) -> None:
            task = asyncio.create_task(asyncio.to_thread(self._settle, group, []))
            marking[task] = group
            # Shielded: a thread cannot be cancelled, and the batch must not end (and the round
            # release its claims) while a mark is still being written. Cancelled here, the mark
            # stays in ``marking`` for the batch's end to wait for.
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                raise
            finally:
                if task.done():  # written, or failed (the caller puts a failed group back)
                    marking.pop(task, None)

        async def on_sent(delivery_id: int) -> None:
            sent.append(delivery_id)
            unmarked.append(delivery_id)
            wake.set()

        async def mark_as_they_go() -> None:
            while True:
                await wake.wait()
                await asyncio.sleep(MARK_GATHER_S)  # sends returning together share a commit
                wake.clear()
                while unmarked:
                    group = unmarked[:]
                    unmarked.clear()
                    try:
                        await mark(group)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        # Not marked: put back, written with the batch's final settle (which
                        # raises if the database is still failing).
                        logger.error("marking %d sent reminders failed: %s", len(group), type(exc).__name__)
                        unmarked[:0] = group
                        await asyncio.sleep(0.5)

        composer: asyncio.Task[None] | None = None
        texts: dict[int, asyncio.Future[str | None]] = {}
        if self.custom_text is None:
            composer, texts = self._compose_while_sending(claims)
        marker = asyncio.create_task(mark_as_they_go())
        try:
            results = await asyncio.gather(
                *(self._deliver(c, texts.get(c.delivery_id), on_sent, settled) for c in claims)
            )
        finally:
            marker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await marker
            if composer is not None:  # reads only; its errors were handled per claim
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await composer
            # Marks still being written: the ones whose waiter (the marker) was just cancelled.
            in_flight = list(marking.items())
            outcomes = await asyncio.gather(*(task for task, _ in in_flight), return_exceptions=True)
            for (_task, group), outcome in zip(in_flight, outcomes):
                if isinstance(outcome, BaseException):
                    logger.error("marking %d sent reminders failed: %s", len(group), type(outcome).__name__)
                    unmarked.extend(group)  # tried once more below
            # Also when cancelled mid-batch (shutdown): what was sent is marked sent, and only
            # what was not settled goes back to the pool.
            unsettled = [
                c.delivery_id for c in claims if c.delivery_id not in settled and c.delivery_id not in sent
            ]
            await asyncio.to_thread(self._settle, unmarked[:], unsettled)
        return sum(results)

    def _record(self) -> int:
        with self.sessions() as session:
            return reminders.record_due(session, self.clock.now())

    def _claim(self) -> list[reminders.ClaimedReminder]:
        with self.sessions() as session:
            return reminders.claim_due(
                session, self.clock.now(), self.worker_id, self.batch_size, lease=self.lease,
                record=False,
            )

    def _settle(self, sent: list[int], unsettled: list[int]) -> None:
        with self.sessions() as session:
            if sent:
                marked = reminders.mark_sent_many(session, sent, self.worker_id, self.clock.now())
                if marked < len(sent):
                    logger.warning("%d reminders were sent after their lease ran out", len(sent) - marked)
            if unsettled:
                reminders.release(session, self.worker_id, unsettled)

    def _release(self, delivery_ids: list[int] | None = None) -> int:
        with self.sessions() as session:
            return reminders.release(session, self.worker_id, delivery_ids)

    async def _deliver(
        self,
        claim: reminders.ClaimedReminder,
        composed: asyncio.Future[str | None] | None,
        on_sent: Callable[[int], Awaitable[None]],
        settled: set[int],
    ) -> bool:
        async with self._send_slots:
            error = "unknown"
            text = await composed if composed is not None else None
            for attempt in range(1, self.max_send_tries + 1):
                try:
                    if text is None:
                        own = self.text_for(claim.user_id, claim.kind)
                        text = await own if inspect.isawaitable(own) else own
                    await self.bot.send_message(
                        chat_id=_chat_id(claim.user_id), text=text, reply_markup=reminder_keyboard()
                    )
                except RetryAfter as exc:
                    wait = retry_after_seconds(exc.retry_after)
                    logger.info("reminder rate limited; retrying in %.1fs", wait)
                    error = "rate limited"
                    await self._sleep(wait)
                    continue
                except Forbidden:
                    logger.info("user %s blocked the bot: reminders off", claim.user_id)
                    await asyncio.to_thread(self._disable, claim.user_id)
                    settled.add(claim.delivery_id)
                    return False
                except BadRequest as exc:  # e.g. "chat not found": retrying cannot help
                    logger.warning("reminder for %s rejected: %s", claim.user_id, exc.message)
                    await asyncio.to_thread(self._failed, claim, exc.message, True)
                    settled.add(claim.delivery_id)
                    return False
                except (NetworkError, TelegramError) as exc:  # TimedOut, 5xx...
                    error = type(exc).__name__
                    logger.info("reminder send failed (%s), try %d", error, attempt)
                    if attempt < self.max_send_tries:
                        await self._sleep(self.backoff_s * 2 ** (attempt - 1))
                    continue
                except Exception as exc:  # a bug in text_for must not stop the loop
                    error = type(exc).__name__
                    logger.exception("reminder for %s could not be prepared", claim.user_id)
                    break
                await on_sent(claim.delivery_id)
                return True
            await asyncio.to_thread(self._failed, claim, error, False)
            settled.add(claim.delivery_id)
            return False

    def _failed(self, claim: reminders.ClaimedReminder, error: str, permanent: bool) -> None:
        with self.sessions() as session:
            # Later attempts wait longer: 1, 2, 4... minutes, at most an hour.
            retry_in = timedelta(minutes=min(60, 2 ** max(0, claim.attempts - 1)))
            reminders.mark_failed(
                session, claim.delivery_id, self.worker_id, self.clock.now(), error,
                retry_in=retry_in, permanent=permanent,
            )

    def _disable(self, user_id: str) -> None:
        with self.sessions() as session:
            reminders.disable_for_user(session, user_id)

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run rounds until :meth:`stop`, ``interval`` seconds apart (a round itself goes on
        while full batches come back)."""
        self._stop.clear()
        try:
            while not self._stop.is_set():
                try:
                    await self.run_once()  # sends everything that is due, batch by batch
                except Exception:  # the database was unreachable, say: try again next round
                    logger.exception("reminder round failed")
                try:
                    await asyncio.wait_for(self._stop.wait(), self.interval)
                except asyncio.TimeoutError:
                    pass
        finally:
            await asyncio.to_thread(self._release)

    def start(self) -> asyncio.Task[None]:
        """Run in the background of the current event loop (inside the bot process)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"reminders-{self.worker_id}")
        return self._task

    async def stop(self) -> None:
        """Stop after the current round; claimed-but-unsent rows are released."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 30)
            except asyncio.TimeoutError:
                self._task.cancel()
                try:
                    await self._task
                except asyncio.CancelledError:
                    pass
            self._task = None


def _chat_id(user_id: str) -> int | str:
    return int(user_id) if user_id.lstrip("-").isdigit() else user_id


# --- own process ----------------------------------------------------------------------------


async def run_scheduler_process(
    database_url: str | None,
    token: str,
    base_url: str | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    worker_id: str | None = None,
    interval: float = DEFAULT_INTERVAL_S,
    batch_size: int = 100,
    overall_rate: float = 30.0,
    stop: asyncio.Event | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> None:
    """Run a scheduler worker until ``stop`` is set or SIGTERM/SIGINT arrives (Telegram errors
    propagate). ``database_url`` None: ``DATABASE_URL`` or the embedded SQLite file."""
    from telegram.request import HTTPXRequest

    from bot.telegram_app import SEND_READ_TIMEOUT_S, guard_token_in_logs, make_rate_limiter
    from knowledge.db import create_all, make_engine, session_factory

    guard_token_in_logs(token)
    engine = make_engine(database_url)
    create_all(engine)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    bot = ExtBot(
        token,
        base_url=base_url or "https://api.telegram.org/bot",
        # A late answer is waited for, not taken for a lost send (which would be sent again).
        request=HTTPXRequest(read_timeout=SEND_READ_TIMEOUT_S),
        # The scheduler retries by itself (and honours Retry-After).
        rate_limiter=make_rate_limiter(overall_rate=overall_rate, retry_after_budget_s=0),
    )
    scheduler = ReminderScheduler(
        bot, session_factory(engine), clock=clock, worker_id=worker_id, interval=interval,
        batch_size=batch_size,
    )
    try:
        async with bot:
            progress(f"Reminder scheduler running (every {interval:g}s). Ctrl+C stops.")
            task = scheduler.start()
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            await scheduler.stop()  # finishes the round, releases what it still holds
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Send due reminders (one worker).")
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL or var/coach.db")
    parser.add_argument("--base-url", default=os.environ.get("TELEGRAM_BASE_URL"))
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--worker-id", default=None)
    parser.add_argument("--overall-rate", type=float, default=30.0, help="messages per second")
    parser.add_argument("--fixed-now", default=None, help="ISO instant: a frozen clock (tests)")
    args = parser.parse_args(argv)
    token = os.environ.get("TELEGRAM_BOT_TOKEN")
    if not token:
        raise SystemExit("TELEGRAM_BOT_TOKEN is not set")
    clock: Clock = SYSTEM_CLOCK
    if args.fixed_now:
        at = datetime.fromisoformat(args.fixed_now)
        clock = FixedClock(at if at.tzinfo else at.replace(tzinfo=timezone.utc))
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
    try:
        asyncio.run(
            run_scheduler_process(
                args.database_url, token, args.base_url, clock=clock,
                worker_id=args.worker_id, interval=args.interval, batch_size=args.batch_size,
                overall_rate=args.overall_rate,
            )
        )
    except TelegramError as exc:
        raise SystemExit(f"scheduler stopped: {redact(str(exc), token)}") from None


if __name__ == "__main__":
    main()
