"""Turn → Telegram messages: plain text (no parse mode, so no user or content text can break a
message; bold names go as message entities, which need no escaping), inline keyboards for
buttons, photos for charts, documents for exports.

Rendering (:func:`render_reply`) is pure; :func:`send_messages` does the sending.
"""
from __future__ import annotations

from typing import Any

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity

from bot.turns import Button, Reply, Turn

logger = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 4096  # Telegram's limit for a text message, in UTF-16 code units
MAX_CALLBACK_DATA_BYTES = 64  # Telegram's limit for callback_data, in UTF-8 bytes
LONG_PAYLOAD_PREFIX = "#p:"  # marks callback_data that stands for a longer payload
BUTTONS_ONLY_TEXT = "Choose one:"  # Telegram sends no keyboard without a text


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji can count twice)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` (Telegram) characters, cutting between
    paragraphs if possible, else between lines, else between words, else anywhere."""
    text = text.strip()
    if not text:
        return []
    if telegram_length(text) <= limit:
        return [text]
    for separator in ("\n\n", "\n", " "):
        pieces = text.split(separator)
        if len(pieces) > 1:
            return _pack(pieces, separator, limit)
    return _hard_cut(text, limit)


def _pack(pieces: list[str], separator: str, limit: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}{separator}{piece}" if current else piece
        if telegram_length(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        if telegram_length(piece) <= limit:
            current = piece
        else:  # one piece too long by itself: split it at the next finer boundary
            *whole, current = split_text(piece, limit)
            parts.extend(whole)
    if current.strip():
        parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def _hard_cut(text: str, limit: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for char in text:  # per code point, so a surrogate pair is never cut in half
        if telegram_length(current + char) > limit:
            parts.append(current)
            current = ""
        current += char
    if current:
        parts.append(current)
    return parts


class CallbackPayloads:
    """Payloads too long for callback_data, kept under a short key (bounded, oldest dropped).

    The mapping lives in memory: after a restart an old long-payload button resolves to None
    and the user is asked to type instead. Short payloads (all Rasa intents) need no mapping.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def encode(self, payload: str) -> str:
        if len(payload.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES and not payload.startswith(
            LONG_PAYLOAD_PREFIX
        ):
            return payload
        key = LONG_PAYLOAD_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        while len(self._payloads) > self._capacity:
            self._payloads.popitem(last=False)
        return key

    def decode(self, data: str) -> str | None:
        """The payload a button's callback_data stands for; None if it is no longer known."""
        if not data.startswith(LONG_PAYLOAD_PREFIX):
            return data
        return self._payloads.get(data)


def keyboard(buttons: list[Button], payloads: CallbackPayloads) -> InlineKeyboardMarkup | None:
    """Buttons as an inline keyboard: short titles side by side (up to 3), long ones one a row."""
    if not buttons:
        return None
    inline = [
        InlineKeyboardButton(button.title or button.payload, callback_data=payloads.encode(button.payload))
        for button in buttons
    ]
    per_row = 3 if all(len(b.title) <= 12 for b in buttons) else 1
    return InlineKeyboardMarkup([inline[i : i + per_row] for i in range(0, len(inline), per_row)])


@dataclass(frozen=True)
class OutgoingMessage:
    """One Telegram message to send: a text, a photo or a document."""

    kind: str  # "text" | "photo" | "document"
    text: str = ""
    path: str | None = None
    reply_markup: InlineKeyboardMarkup | None = None
    entities: tuple[MessageEntity, ...] = ()


def bold_entities(text: str, parts: list[str]) -> tuple[MessageEntity, ...]:
    """Bold entities for the first place each of ``parts`` stands in ``text``, with offsets and
    lengths in UTF-16 code units as Telegram counts them; parts not in ``text`` are skipped."""
    entities = []
    for part in dict.fromkeys(parts):
        index = text.find(part) if part else -1
        if index >= 0:
            entities.append(MessageEntity(MessageEntity.BOLD, telegram_length(text[:index]), telegram_length(part)))
    return tuple(sorted(entities, key=lambda e: e.offset))


def render_reply(reply: Reply, payloads: CallbackPayloads) -> list[OutgoingMessage]:
    """The messages for one reply; its keyboard goes on the last one, so it sits at the bottom."""
    messages: list[OutgoingMessage] = []
    if reply.image:
        messages.append(OutgoingMessage("photo", path=reply.image))
    document = getattr(reply, "document", None)
    if document:
        messages.append(OutgoingMessage("document", path=document))
    messages += [OutgoingMessage("text", text=part, entities=bold_entities(part, reply.bold)) for part in split_text(reply.text)]
    markup = keyboard(reply.buttons, payloads)
    if markup is not None:
        if not messages:
            messages.append(OutgoingMessage("text", text=BUTTONS_ONLY_TEXT))
        last = messages[-1]
        messages[-1] = OutgoingMessage(last.kind, last.text, last.path, markup, last.entities)
    return messages


def render_turn(turn: Turn, payloads: CallbackPayloads) -> list[OutgoingMessage]:
    return [message for reply in turn.replies for message in render_reply(reply, payloads)]


# 5xx answers and network errors are retried with back-off for up to this long: longer than a
# blip (Telegram's own incidents are mostly over within a minute), bounded so a turn does not
# hold its chat for ever.
SEND_RETRY_BUDGET_S = 60.0
SEND_BACKOFF_S = 0.5
SEND_BACKOFF_MAX_S = 8.0


def retry_after_seconds(value: int | float | timedelta) -> float:
    """``RetryAfter.retry_after`` as seconds (PTB gives an int or, opted in, a timedelta)."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def _with_retry(send: Any) -> Message:
    """Telegram's 5xx answers and network errors are passing: try again with back-off (0.5 s,
    doubling up to 8 s) for up to ``SEND_RETRY_BUDGET_S``, so a reply is not lost to a bad
    minute. 4xx answers (bad request, blocked) are final and not retried; 429 is waited out by
    the rate limiter (``ChatRateLimiter``), as often as Telegram asks within its own budget.

    A send that timed out may have reached Telegram (``sendMessage`` has no idempotency key):
    it is retried, so a reply whose answer never came within the read timeout (30 s, see
    ``build_application``) can arrive twice. An answer that comes late but within it is not
    re-sent. docs/deploy.md states this."""
    from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

    deadline = time.monotonic() + SEND_RETRY_BUDGET_S
    delay = SEND_BACKOFF_S
    attempt = 0
    while True:
        attempt += 1
        try:
            return await send()
        except (BadRequest, Forbidden, RetryAfter):  # BadRequest is a NetworkError in PTB
            raise
        except NetworkError as exc:  # includes TimedOut and 5xx answers
            if time.monotonic() + delay > deadline:
                logger.error("Telegram send failed %d times over %.0fs (%s): giving up",
                             attempt, SEND_RETRY_BUDGET_S, type(exc).__name__)
                raise
            logger.warning("Telegram send failed (%s), try %d; retrying in %.1fs",
                           type(exc).__name__, attempt, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, SEND_BACKOFF_MAX_S)


async def send_text(bot: Bot, chat_id: int | str, text: str) -> Message:
    """One plain message, with the same retries as a coach's reply (apologies, pointers)."""
    return await _with_retry(lambda: bot.send_message(chat_id, text))


# A picture Telegram already has is sent by its file id: no upload, and it shows at once.
# Keyed by the bytes' digest (an exercise's picture is the same for everyone); per process.
_PHOTO_IDS: OrderedDict[str, str] = OrderedDict()
PHOTO_ID_CACHE = 512


async def _send_photo(bot: Bot, chat_id: int | str, data: bytes, markup: InlineKeyboardMarkup | None) -> Message:
    from telegram.error import BadRequest

    key = hashlib.sha256(data).hexdigest()
    file_id = _PHOTO_IDS.get(key)
    if file_id is not None:
        try:
            message = await _with_retry(lambda: bot.send_photo(chat_id, file_id, reply_markup=markup))
            _PHOTO_IDS.move_to_end(key)
            return message
        except BadRequest as exc:  # e.g. the bot's token changed: its file ids are no longer valid
            logger.warning("Telegram refused a cached photo id (%s): uploading the picture again", exc)
            _PHOTO_IDS.pop(key, None)
    message = await _with_retry(lambda: bot.send_photo(chat_id, data, reply_markup=markup))
    if message.photo:
        _PHOTO_IDS[key] = message.photo[-1].file_id
        while len(_PHOTO_IDS) > PHOTO_ID_CACHE:
            _PHOTO_IDS.popitem(last=False)
    return message


async def send_messages(
    bot: Bot, chat_id: int | str, messages: list[OutgoingMessage]
) -> list[Message]:
    """Send rendered messages in order. A missing image or document file is replaced by a
    short note instead of failing the whole turn; passing Telegram errors are retried."""
    sent: list[Message] = []
    for message in messages:
        if message.kind in ("photo", "document"):
            path = Path(message.path or "")
            if not path.is_file():
                logger.warning("attachment file missing for chat %s: %s", chat_id, path.name)
                note = "(The chart could not be drawn this time.)" if message.kind == "photo" else (
                    "(The file could not be prepared this time.)"
                )
                sent.append(await _with_retry(
                    lambda: bot.send_message(chat_id, note, reply_markup=message.reply_markup)
                ))
                continue
            data = path.read_bytes()  # bytes, so a retry can send them again
            if message.kind == "photo":
                sent.append(await _send_photo(bot, chat_id, data, message.reply_markup))
            else:
                sent.append(await _with_retry(
                    lambda: bot.send_document(chat_id, data, filename=path.name, reply_markup=message.reply_markup)
                ))
        else:
            sent.append(await _with_retry(
                lambda: bot.send_message(chat_id, message.text, reply_markup=message.reply_markup,
                                         entities=list(message.entities) or None)
            ))
    return sent

