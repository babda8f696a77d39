"""Structured logs: one JSON object per line, a correlation id per user message, no secrets.

* :func:`configure` installs a JSON-lines handler on the root logger (stderr and/or a file).
* :func:`correlation` (context manager) gives every log line written while one message is
  handled the same ``cid`` (a contextvar, so it follows ``await`` and ``asyncio.to_thread``):
  the bridge and the Telegram handlers wrap each message in it.
* :class:`RedactingFilter` blanks the bot token (given, or anything shaped like a Telegram token)
  from the message, its arguments, extra fields and tracebacks. It is installed on every handler
  :func:`configure` creates, and also inside the formatter, so nothing formatted escapes it.
* Message text is never logged at INFO or above: fields named in :data:`SENSITIVE_FIELDS` are
  dropped from records above DEBUG. Log what a message *is* (:func:`describe_text`: length and a
  short hash) instead of what it says.

Usage::

    from bot.logging_setup import configure, correlation, get_logger, describe_text
    configure(level="INFO", token=settings.telegram_token)
    log = get_logger(__name__)
    with correlation(user=chat_id):
        log.info("message received", extra={"fields": describe_text(text)})
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import re
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional, TextIO

TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
# ``bot<token>`` inside URLs (PTB / httpx request lines), in case the token is oddly shaped.
URL_TOKEN_PATTERN = re.compile(r"(/bot)[^/\s:]*:[^/\s]+(/)")
REDACTED = "<token>"
SENSITIVE_FIELDS = frozenset({"text", "message_text", "user_text", "reply_text"})

_cid: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("correlation_id", default=None)
_user: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("correlation_user", default=None)

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:12]


def correlation_id() -> Optional[str]:
    return _cid.get()


@contextlib.contextmanager
def correlation(cid: Optional[str] = None, user: Optional[str] = None) -> Iterator[str]:
    """Everything logged inside carries ``cid`` (a new one unless given) and ``user``."""
    value = cid or new_correlation_id()
    t1 = _cid.set(value)
    t2 = _user.set(str(user) if user is not None else _user.get())
    try:
        yield value
    finally:
        _cid.reset(t1)
        _user.reset(t2)


def describe_text(text: str) -> dict[str, Any]:
    """What may be logged about a user's message at INFO: its length and a short hash."""
    return {"chars": len(text), "sha": hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:10]}


class Redactor:
    """Blanks tokens out of strings. Known tokens are registered with :meth:`add`."""

    def __init__(self, tokens: Optional[list[str]] = None) -> None:
        self.tokens: set[str] = {t for t in (tokens or []) if t}

    def add(self, token: Optional[str]) -> None:
        if token:
            self.tokens.add(token)

    def __call__(self, text: str) -> str:
        for token in self.tokens:
            if token in text:
                text = text.replace(token, REDACTED)
        text = TOKEN_PATTERN.sub(REDACTED, text)
        return URL_TOKEN_PATTERN.sub(lambda m: m.group(1) + REDACTED + m.group(2), text)


_REDACTOR = Redactor()


def register_secret(token: Optional[str]) -> None:
    """Redact ``token`` from every log line from now on."""
    _REDACTOR.add(token)


def redact(text: str) -> str:
    return _REDACTOR(text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(v) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """Redacts the token from a record's message, arguments and extra fields; drops sensitive
    fields (message text) from records above DEBUG. Always lets the record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            if record.levelno > logging.DEBUG:
                fields = {k: v for k, v in fields.items() if k not in SENSITIVE_FIELDS}
            record.fields = _redact_value(fields)
        for name in SENSITIVE_FIELDS:
            if record.levelno > logging.DEBUG and hasattr(record, name):
                setattr(record, name, "<dropped>")
        return True


class ContextFilter(logging.Filter):
    """Adds the correlation id and user of the current message to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "cid", None):
            record.cid = _cid.get()
        if not getattr(record, "user", None):
            record.user = _user.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, cid, user, fields..., exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid = getattr(record, "cid", None) or _cid.get()
        user = getattr(record, "user", None) or _user.get()
        if cid:
            entry["cid"] = cid
        if user:
            entry["user"] = user
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if record.levelno > logging.DEBUG and key in SENSITIVE_FIELDS:
                    continue
                entry.setdefault(key, value)
        for key, value in vars(record).items():  # plain `extra={...}` keys
            if key in _STANDARD_ATTRS or key in ("fields", "cid", "user") or key.startswith("_"):
                continue
            if record.levelno > logging.DEBUG and key in SENSITIVE_FIELDS:
                continue
            entry.setdefault(key, value if isinstance(value, (str, int, float, bool, type(None))) else repr(value))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        # Last line of defence: whatever was formatted, the token does not leave.
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


_HANDLER_MARK = "_coach_structured"


def configure(
    level: str | int = "WARNING",
    *,
    token: Optional[str] = None,
    stream: Optional[TextIO] = sys.stderr,
    file: Optional[Path] = None,
    quiet: tuple[str, ...] = ("rasa", "tensorflow", "absl", "sanic", "apscheduler", "matplotlib", "httpx", "httpcore", "telegram", "asyncio", "aiohttp"),
) -> list[logging.Handler]:
    """Replace the root logger's handlers with JSON-lines handlers (``stream`` and/or
    ``file``), each with the context and redaction filters. Idempotent; returns the handlers."""
    register_secret(token)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False) or isinstance(handler, logging.StreamHandler):
            root.removeHandler(handler)
    handlers: list[logging.Handler] = []
    if stream is not None:
        handlers.append(logging.StreamHandler(stream))
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(file, encoding="utf-8"))
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        numeric = logging.WARNING
    for handler in handlers:
        setattr(handler, _HANDLER_MARK, True)
        handler.addFilter(ContextFilter())
        handler.addFilter(RedactingFilter())
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(numeric)
    for name in quiet:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))
    return handlers


def protect_handler(handler: logging.Handler, token: Optional[str] = None) -> logging.Handler:
    """Add redaction to a handler configured elsewhere (pytest's caplog, basicConfig...)."""
    register_secret(token)
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    return handler


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
