"""A fake Telegram Bot API server for tests: a real HTTP server (aiohttp, 127.0.0.1, a free port)
that python-telegram-bot talks to instead of api.telegram.org.

It answers the methods the bot calls, records every call, lets a test inject updates (texts,
commands, button presses, stickers, edited and group messages) and failures (429 with
retry_after, 403, 5xx, slow answers) for one chat or for the next N calls.

Usage (inside an async test)::

    async with FakeTelegram() as tg:
        app = build_application(coach, token=tg.token, base_url=tg.base_url,
                                base_file_url=tg.base_file_url)
        ...
        tg.inject_text(chat_id=42, text="hello")
        await tg.wait_for(lambda: tg.messages_to(42))

PTB appends the token to ``base_url``, so ``base_url`` is ``http://127.0.0.1:<port>/bot`` and
requests arrive at ``/bot<token>/<method>``, as on the real API.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

FAKE_TOKEN = "123456:TEST-fake-token-for-tests-only"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Coach", "username": "fake_coach_bot"}

# Parameters PTB sends as JSON strings inside the form body.
_JSON_PARAMS = {"reply_markup", "commands", "allowed_updates", "scope", "entities", "reply_parameters"}


@dataclass
class ApiCall:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    status: int = 200

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None


@dataclass
class Failure:
    """An injected failure: matches ``method`` (None: any) and ``chat_id`` (None: any)."""

    status: int  # 429, 403, 500...; 200 with a delay gives a slow success
    method: str | None = None
    chat_id: int | None = None
    times: int = 1  # how many matching calls fail
    retry_after: int | None = None
    delay: float = 0.0  # seconds to wait before answering
    description: str | None = None
    # With status 200: the call takes effect at once (a message is delivered) and only the
    # answer comes ``delay`` seconds later, as when Telegram is slow to reply.
    answer_late: bool = False

    def matches(self, method: str, chat_id: int | None) -> bool:
        return (
            self.times > 0
            and (self.method is None or self.method == method)
            and (self.chat_id is None or self.chat_id == chat_id)
        )


class FakeTelegram:
    """The fake Bot API. Start with ``await start()`` or ``async with``."""

    def __init__(self, token: str = FAKE_TOKEN, bot_user: dict[str, Any] | None = None) -> None:
        self.token = token
        # Each fake is its own bot (its own id), as two tokens would be: a bot's inbox rows left
        # by one test are never taken by the next test's bot on the shared database.
        self.bot_user = dict(bot_user or {**BOT_USER, "id": 100_000_000 + secrets.randbelow(10**9)})
        self.calls: list[ApiCall] = []
        self.received: list[ApiCall] = []  # every request as it arrives (before any delay), but getUpdates
        self.handed_out: dict[int, float] = {}  # update_id -> when a getUpdates first returned it
        self.failures: list[Failure] = []
        self._updates: list[dict[str, Any]] = []
        # Like Telegram's, update ids start anywhere: two fakes on one database (a test run's
        # shared one) do not hand out the same ids, so the bot's inbox never takes one for the other.
        self._update_ids = itertools.count(secrets.randbelow(2**40) + 1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self.photo_ids: set[str] = set()  # file ids this fake has handed out
        self._new_update = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port: int = 0

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> "FakeTelegram":
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._new_update.set()  # wake long polls so the server can close
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeTelegram":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # --- what the bot sent --------------------------------------------------------------------

    def calls_to(self, method: str, chat_id: int | None = None, *, ok_only: bool = True) -> list[ApiCall]:
        return [
            c
            for c in self.calls
            if c.method == method
            and (chat_id is None or c.chat_id == chat_id)
            and (not ok_only or c.status == 200)
        ]

    def messages_to(self, chat_id: int) -> list[ApiCall]:
        """Successful sendMessage/sendPhoto/sendDocument calls to ``chat_id``, in order."""
        return [
            c
            for c in self.calls
            if c.method in ("sendMessage", "sendPhoto", "sendDocument")
            and c.chat_id == chat_id
            and c.status == 200
        ]

    def texts_to(self, chat_id: int) -> list[str]:
        return [c.params.get("text", "") for c in self.messages_to(chat_id) if c.method == "sendMessage"]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``condition()`` is truthy and return its value; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s; calls: {self.summary()}")
            await asyncio.sleep(0.02)

    def summary(self) -> list[tuple[str, Any, int]]:
        return [(c.method, c.chat_id, c.status) for c in self.calls[-30:]]

    # --- failures -----------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        times: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
        description: str | None = None,
        answer_late: bool = False,
    ) -> Failure:
        """Make the next ``times`` matching calls fail with ``status`` (or, with status 200 and a
        ``delay``, answer slowly: before acting, or with ``answer_late`` after acting)."""
        failure = Failure(status, method, chat_id, times, retry_after, delay, description, answer_late)
        self.failures.append(failure)
        return failure

    # --- updates ------------------------------------------------------------------------------

    def inject(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (``update_id`` is filled in)."""
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._new_update.set()
        return update

    def message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        chat_type: str = "private",
        from_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A Message object as Telegram would send it."""
        user_id = from_id if from_id is not None else abs(chat_id)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id, chat_type),
            "from": {"id": user_id, "is_bot": False, "first_name": "Trainee", "language_code": "en"},
        }
        if text is not None:
            message["text"] = text
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(extra or {})
        return message

    def inject_text(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.inject({"message": self.message(chat_id, text, **kwargs)})

    def inject_command(self, chat_id: int, command: str, args: str = "", **kwargs: Any) -> dict[str, Any]:
        """``/command args``; ``command`` may carry ``@botname``."""
        name = command if command.startswith("/") else f"/{command}"
        text = f"{name} {args}".strip()
        entities = [{"type": "bot_command", "offset": 0, "length": _utf16_len(name)}]
        return self.inject({"message": self.message(chat_id, text, entities=entities, **kwargs)})

    def inject_callback(
        self, chat_id: int, data: str, *, message_id: int | None = None, from_id: int | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """A press of an inline button whose callback_data is ``data`` (in a group when
        ``chat_type`` says so)."""
        message = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id, chat_type),
            "from": self.bot_user,
            "text": "(the message with the button)",
        }
        user_id = from_id if from_id is not None else abs(chat_id)
        query = {
            "id": f"cq{next(self._update_ids)}",
            "from": {"id": user_id, "is_bot": False, "first_name": "Trainee"},
            "chat_instance": f"ci{chat_id}",
            "message": message,
            "data": data,
        }
        return self.inject({"callback_query": query})

    def inject_sticker(self, chat_id: int) -> dict[str, Any]:
        sticker = {
            "file_id": "sticker-file",
            "file_unique_id": "sticker-unique",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self.inject({"message": self.message(chat_id, extra={"sticker": sticker})})

    def inject_voice(self, chat_id: int) -> dict[str, Any]:
        voice = {"file_id": "voice-file", "file_unique_id": "voice-unique", "duration": 3}
        return self.inject({"message": self.message(chat_id, extra={"voice": voice})})

    def inject_edited_text(self, chat_id: int, text: str) -> dict[str, Any]:
        message = self.message(chat_id, text, extra={"edit_date": int(time.time())})
        return self.inject({"edited_message": message})

    def inject_group_text(
        self, chat_id: int, text: str, *, mention: bool = False, reply_to_bot: bool = False
    ) -> dict[str, Any]:
        """A message in a group; ``mention`` prefixes ``@botname``, ``reply_to_bot`` replies to
        a message of the bot."""
        entities = None
        if mention:
            handle = f"@{self.bot_user['username']}"
            text = f"{handle} {text}"
            entities = [{"type": "mention", "offset": 0, "length": _utf16_len(handle)}]
        reply_to = None
        if reply_to_bot:
            reply_to = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "group", "title": "Group"},
                "from": self.bot_user,
                "text": "an earlier answer",
            }
        return self.inject(
            {
                "message": self.message(
                    chat_id, text, chat_type="group", from_id=777, entities=entities, reply_to=reply_to
                )
            }
        )

    # --- HTTP ---------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, bytes] = {}
        content_type = request.content_type
        if content_type == "application/json":
            params.update(await request.json())
        elif content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:  # type: ignore[union-attr]
                if part.filename:
                    files[part.name or ""] = await part.read()
                else:
                    params[part.name or ""] = await part.text()
        elif request.can_read_body:
            params.update(await request.post())
        for key in _JSON_PARAMS & params.keys():
            if isinstance(params[key], str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    pass
        return params, files

    async def _handle_file(self, request: web.Request) -> web.Response:
        return web.Response(body=b"fake file content")

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = await self._params(request)
        call = ApiCall(method, params, files)
        if method != "getUpdates":
            self.received.append(call)
        failure = next((f for f in self.failures if f.matches(method, call.chat_id)), None)
        if failure is not None:
            failure.times -= 1
            if failure.status == 200 and failure.answer_late and method != "getUpdates":
                self.calls.append(call)
                handler = getattr(self, f"_api_{method}", None)
                result = True if handler is None else handler(params, files)
                await asyncio.sleep(failure.delay)  # the client may give up meanwhile
                return web.json_response({"ok": True, "result": result})
            if failure.delay:
                await asyncio.sleep(failure.delay)
                if request.transport is None or request.transport.is_closing():
                    # The client went away (killed) before Telegram acted: nothing happens.
                    call.status = 499
                    self.calls.append(call)
                    return web.Response(status=499)
            if failure.status != 200:
                call.status = failure.status
                self.calls.append(call)
                return self._error(failure)
        if "chat_id" in params and not _is_chat_id(params["chat_id"]):
            # Telegram's answer to a chat id that cannot exist (a test's made-up user, say).
            call.status = 400
            self.calls.append(call)
            return web.json_response({"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
                                     status=400)
        if method == "sendPhoto" and "photo" not in files and params.get("photo") not in self.photo_ids:
            call.status = 400
            self.calls.append(call)
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: wrong file identifier/HTTP URL specified"}, status=400)
        if method == "getUpdates":
            # Long polls are not recorded: they would drown the log.
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        self.calls.append(call)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response({"ok": True, "result": True})
        return web.json_response({"ok": True, "result": handler(params, files)})

    def _error(self, failure: Failure) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": failure.status}
        if failure.status == 429:
            body["description"] = failure.description or f"Too Many Requests: retry after {failure.retry_after}"
            body["parameters"] = {"retry_after": failure.retry_after or 1}
        elif failure.status == 403:
            body["description"] = failure.description or "Forbidden: bot was blocked by the user"
        else:
            body["description"] = failure.description or "Internal Server Error"
        return web.json_response(body, status=failure.status)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        # A getUpdates offset confirms every update before it: forget them.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        now = time.monotonic()
        for update in self._updates[:limit]:
            self.handed_out.setdefault(update["update_id"], now)
        return self._updates[:limit]

    def _sent_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self.bot_user,
            **content,
        }
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _api_getMe(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _api_sendMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return self._sent_message(params, text=params.get("text", ""))

    def _api_sendPhoto(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        # Like Telegram: an upload gets a new file id; a known file id is sent again as it is.
        if "photo" in files:
            file_id = f"photo-file-{next(self._file_ids)}"
            self.photo_ids.add(file_id)
        else:
            file_id = str(params["photo"])
        size = {"file_id": file_id, "file_unique_id": f"{file_id}-unique", "width": 800, "height": 600}
        return self._sent_message(params, photo=[size])

    def _api_sendDocument(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        document = {"file_id": "doc-file", "file_unique_id": "doc-unique", "file_name": "export.json"}
        return self._sent_message(params, document=document)

    def _api_editMessageReplyMarkup(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if "chat_id" not in params:
            return True
        return {**self._sent_message(params, text="(edited)"), "message_id": int(params.get("message_id", 0))}


def _chat(chat_id: int, chat_type: str) -> dict[str, Any]:
    """A Chat object: a private chat has the person's first name, a group its title."""
    names = {"first_name": "Trainee"} if chat_type == "private" else {"title": "Group"}
    return {"id": chat_id, "type": chat_type, **names}


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _is_chat_id(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True
