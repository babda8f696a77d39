"""``python -m bot run`` on Telegram and ``python -m bot scheduler``: the real coach behind the
Telegram front end (:mod:`bot.telegram_app`), with the reminder scheduler (:mod:`bot.scheduler`).

- :func:`run_telegram`: loads the coach (:func:`bot.runtime.coach_session`), then long-polls
  (default) or serves a webhook, and sends reminders from the same process. SIGTERM/SIGINT stop
  it cleanly: no new updates, messages being handled are finished, claimed reminders released.
- :func:`run_scheduler_only`: only the reminder loop, for a second worker process. It never calls
  getUpdates, so it can run next to the bot.

Environment (besides :class:`bot.settings.Settings`): ``COACH_REMINDER_INTERVAL`` (seconds
between reminder rounds, default 30), ``TELEGRAM_WEBHOOK_SECRET`` (webhook mode; a random one
is generated when unset), ``COACH_FAKE_NOW_FILE`` (a file holding an ISO instant: the clock of
tests and demos, as in :func:`actions.common.clock`).

The reminders' text is composed from the trainee's record (:mod:`knowledge.reminder_text`).
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import signal
import sys
from datetime import datetime, timezone
from typing import Awaitable

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.errors import CoachError
from bot.settings import Settings
from knowledge.clock import SystemClock

log = logging.getLogger(__name__)

REMINDER_INTERVAL_ENV = "COACH_REMINDER_INTERVAL"
WEBHOOK_SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
FAKE_NOW_ENV = "COACH_FAKE_NOW_FILE"
DEFAULT_REMINDER_INTERVAL_S = 30.0
DEFAULT_API_URL = "https://api.telegram.org/bot"
_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts as secret_token


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- configuration ----------------------------------------------------------------------------


def reminder_interval() -> float:
    """Seconds between reminder rounds: ``COACH_REMINDER_INTERVAL`` or 30."""
    raw = os.environ.get(REMINDER_INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_REMINDER_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise CoachError(f"{REMINDER_INTERVAL_ENV}={raw!r} is not a number of seconds between 0 and 3600")
    return value


def webhook_secret() -> str:
    """``TELEGRAM_WEBHOOK_SECRET``, or a random secret for this run (said so, never shown)."""
    secret = os.environ.get(WEBHOOK_SECRET_ENV, "").strip()
    if not secret:
        _progress(
            f"{WEBHOOK_SECRET_ENV} is not set: generated a random webhook secret for this run "
            "(set it to keep one secret across restarts)."
        )
        return secrets.token_urlsafe(32)
    if not _SECRET_PATTERN.match(secret):
        raise CoachError(f"{WEBHOOK_SECRET_ENV} may only contain A-Z, a-z, 0-9, _ and - (1 to 256 characters)")
    return secret


def _check_webhook_url(url: str) -> None:
    if not re.match(r"^https?://[^/\s]+", url):
        raise CoachError(f"--webhook-url must be a public http(s) URL, e.g. https://coach.example.org/telegram (got {url!r})")


class EnvClock:
    """The system clock, or the instant written in ``COACH_FAKE_NOW_FILE`` (read on every call,
    so a test can move time while the bot runs; the action server reads the same file)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path if path is not None else os.environ.get(FAKE_NOW_ENV)
        self._system = SystemClock()

    def now(self) -> datetime:
        if self.path and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read().strip()
            if text:
                at = datetime.fromisoformat(text)
                return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        return self._system.now()


def _install_log_redaction(token: str) -> None:
    from bot.telegram_app import TokenRedactingFilter, guard_token_in_logs

    guard_token_in_logs(token)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TokenRedactingFilter) for f in handler.filters):
            handler.addFilter(TokenRedactingFilter(token))


def _redact(text: str, token: str | None) -> str:
    from bot.telegram_app import redact_token

    return redact_token(text, token).splitlines()[0][:300] if text else text


# --- Telegram ---------------------------------------------------------------------------------


async def check_token(token: str, base_url: str | None) -> str:
    """Ask Telegram who we are (getMe) before loading the coach; returns the bot's username.
    A rejected token or an unreachable API becomes one :class:`CoachError` line."""
    bot = Bot(token, base_url=base_url or DEFAULT_API_URL)
    try:
        async with bot:
            return bot.username
    except InvalidToken:
        raise CoachError(
            "Telegram rejected TELEGRAM_BOT_TOKEN (401/404 Unauthorized): copy the token @BotFather "
            "gave you (it looks like 123456789:AA...); see docs/telegram.md"
        ) from None
    except NetworkError as exc:
        raise CoachError(
            f"cannot reach the Telegram Bot API at {_redact(base_url or DEFAULT_API_URL, token)}: "
            f"{_redact(str(exc), token)}; check the network or TELEGRAM_BASE_URL"
        ) from None
    except TelegramError as exc:
        raise CoachError(f"Telegram: {_redact(str(exc), token)}") from None


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass


def _run(main: Awaitable[int], token: str) -> int:
    try:
        return asyncio.run(main)  # type: ignore[arg-type]
    except InvalidToken:
        raise CoachError("Telegram rejected TELEGRAM_BOT_TOKEN (401/404 Unauthorized): check the token from @BotFather") from None
    except TelegramError as exc:
        raise CoachError(f"Telegram: {_redact(str(exc), token)}") from None


def _require_token(settings: Settings) -> str:
    if not settings.telegram_token:
        raise CoachError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token")
    return settings.telegram_token


async def _serve(
    settings: Settings, token: str, webhook_url: str | None, secret: str | None, listen: str, port: int,
    interval: float,
) -> int:
    from bot.runtime import coach_session
    from bot.telegram_app import build_application, serve_polling, serve_webhook
    from knowledge.db import create_all, get_engine, session_factory

    stop = asyncio.Event()
    _stop_on_signals(stop)
    username = await check_token(token, settings.telegram_base_url)
    async with coach_session(settings, progress=_progress, workers=settings.workers) as coach:
        engine = get_engine(settings.database_url)
        create_all(engine)
        sessions = session_factory(engine)
        clock = EnvClock()
        app = build_application(
            coach,
            token,
            settings.telegram_base_url,
            sessions=sessions,
            inbox=sessions,
            reminder_interval_s=interval,
            reminder_clock=clock,
            admin_ids=settings.admin_ids,
        )
        if stop.is_set():  # a signal while the model loaded
            return 0
        mode = f"webhook at {webhook_url} (listening on {listen}:{port})" if webhook_url else "long polling"
        _progress(f"@{username} is running on Telegram ({mode}); reminders every {interval:g}s. Ctrl+C stops.")
        if webhook_url:
            assert secret is not None
            await serve_webhook(app, webhook_url, secret, listen, port, stop)
        else:
            await serve_polling(app, stop)
    _progress("Stopped.")
    return 0


def run_telegram(
    settings: Settings, webhook_url: str | None = None, listen: str = "0.0.0.0", port: int = 8443
) -> int:
    """The coach on Telegram until SIGTERM/SIGINT; returns the exit code."""
    token = _require_token(settings)
    _install_log_redaction(token)
    interval = reminder_interval()
    secret = None
    if webhook_url:
        _check_webhook_url(webhook_url)
        secret = webhook_secret()
    return _run(_serve(settings, token, webhook_url, secret, listen, port, interval), token)


async def _schedule(settings: Settings, token: str, interval: float) -> int:
    from bot.scheduler import run_scheduler_process

    await check_token(token, settings.telegram_base_url)
    await run_scheduler_process(
        settings.database_url, token, settings.telegram_base_url or DEFAULT_API_URL,
        clock=EnvClock(), interval=interval, progress=_progress,
    )
    _progress("Stopped.")
    return 0


def run_scheduler_only(settings: Settings) -> int:
    """Only the reminder scheduler (a second worker next to the bot); never polls updates."""
    token = _require_token(settings)
    _install_log_redaction(token)
    return _run(_schedule(settings, token, reminder_interval()), token)
