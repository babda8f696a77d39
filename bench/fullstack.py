"""Per-message latency and throughput through the whole stack, and through plain Rasa beside it.

Full stack: the fake Bot API (:mod:`tests.fake_telegram`, in this process) -> the real bot
(``python -m bot run`` via :mod:`bench.launch_bot`, its own SQLite database in a temp dir) ->
the in-process Rasa agent -> the action server it starts -> the database -> the replies the
fake records. A message's latency runs from the moment its update is queued for getUpdates to
the arrival of the last sendMessage/sendPhoto/sendDocument of that turn. The bot answers one
message per chat at a time and a user sends its next message only after the whole answer, so
the replies between two of a chat's messages belong to the first.

Plain Rasa: ``rasa run --enable-api -m <same model> --endpoints <temp endpoints>`` with the same
kind of action server (``python -m actions.server``) and the same tracker store (SQL on the
SQLite file the actions use, as the bot does); latency is the round trip of ``POST
/webhooks/rest/webhook``.

Users are closed loops: send, wait for the whole answer, send the next one. Plain Rasa: the
HTTP response, then ``think_s``. Telegram: a reply, then ``think_s`` without another (with the
limits on, at least :data:`PACED_GAP_S`, the bot's own spacing of a chat's messages).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_TOKEN,
    PROJECT_ROOT,
    PYTHON,
    Child,
    child_env,
    free_port,
    http_ok,
    latency_summary,
    log,
    onboard,
    prepare_database,
)
from bench.conversations import Step, mix, script_for

REPLY_METHODS = ("sendMessage", "sendPhoto", "sendDocument")
APOLOGY_PREFIX = "Sorry, something went wrong"


@dataclass
class Level:
    users: int
    messages_per_user: int


@dataclass
class LoadResult:
    stack: str
    users: int
    messages: int
    latencies_s: list[float] = field(default_factory=list)
    replies_per_turn: list[int] = field(default_factory=list)
    no_reply: int = 0
    apologies: int = 0
    timeouts: int = 0
    overlapped: int = 0  # sent before the previous turn's last reply (pacing saw a gap)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        done = len(self.latencies_s)
        return {
            "stack": self.stack,
            "users": self.users,
            "messages": self.messages,
            "answered": done,
            **latency_summary(self.latencies_s),
            "throughput_msg_s": round(done / self.wall_s, 2) if self.wall_s else None,
            "wall_s": round(self.wall_s, 2),
            "replies_per_turn_mean": round(sum(self.replies_per_turn) / len(self.replies_per_turn), 2)
            if self.replies_per_turn else None,
            "no_reply": self.no_reply,
            "apologies": self.apologies,
            "timeouts": self.timeouts,
            "overlapped_turns": self.overlapped,
        }


# --- the full stack -------------------------------------------------------------------------


PACED_GAP_S = 1.2  # the per-chat pace (1 message/s) plus a margin


class TelegramStack:
    """The fake Bot API plus one bot process; users are chat ids."""

    def __init__(
        self, work_dir: Path, model: Path, *, unthrottled: bool, think_s: float, workers: int = 1,
        turn_timeout_s: float = 60.0,
    ) -> None:
        self.work_dir = work_dir
        self.model = model
        self.unthrottled = unthrottled
        self.think_s = think_s
        self.workers = workers
        # A user takes the answer as complete after this long without another message. Paced to
        # Telegram's ~1 message/s per chat, two messages of one answer can be 1 s apart; a
        # shorter wait would send the next message into the middle of the answer.
        self.answer_quiet_s = think_s if unthrottled else max(think_s, PACED_GAP_S)
        self.turn_timeout_s = turn_timeout_s
        self.name = "telegram (limits off)" if unthrottled else "telegram"
        self.db_url = f"sqlite:///{work_dir / ('bot-u.db' if unthrottled else 'bot.db')}"
        self.tg: Any = None
        self.bot: Child | None = None
        self.startup_s: float | None = None
        self._indexed = 0
        self._replies_by_chat: dict[int, list[Any]] = {}

    async def start(self, onboarded: list[int], start_chat: int, start_timeout_s: float = 300.0) -> None:
        from tests.fake_telegram import FakeTelegram

        await asyncio.to_thread(prepare_database, self.db_url)
        await asyncio.to_thread(onboard, self.db_url, [str(c) for c in onboarded])
        self.tg = await FakeTelegram(token=BENCH_TOKEN).start()
        args = [PYTHON, "-m", "bench.launch_bot"] + (["--unthrottled"] if self.unthrottled else [])
        var_dir = self.work_dir / ("var-u" if self.unthrottled else "var")
        self.bot = Child(
            name=f"bot ({self.name})",
            args=args,
            log_path=self.work_dir / "logs" / f"bot{'-u' if self.unthrottled else ''}.log",
            env=child_env({
                "TELEGRAM_BOT_TOKEN": self.tg.token,
                "TELEGRAM_BASE_URL": self.tg.base_url,
                "DATABASE_URL": self.db_url,
                "COACH_VAR_DIR": str(var_dir),
                "COACH_REMINDER_INTERVAL": "30",
                "BENCH_MODEL": str(self.model),
                "COACH_WORKERS": str(self.workers),
            }),
        )
        # Start-up: process start -> the first reply to "hi" from a new user. The update is
        # queued first, so the bot finds it on its first getUpdates.
        self.tg.inject_text(start_chat, "hi")
        self.bot.start()
        deadline = time.monotonic() + start_timeout_s
        while time.monotonic() < deadline:
            if self.tg.messages_to(start_chat):
                first = self.tg.messages_to(start_chat)[0].at
                self.startup_s = round(first - self.bot.started_at, 2)
                log(f"{self.name}: first reply {self.startup_s}s after process start")
                return
            if not self.bot.alive():
                raise RuntimeError(f"the bot exited at start:\n{self.bot.tail()}")
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the bot gave no first reply within {start_timeout_s:.0f}s:\n{self.bot.tail()}")

    async def stop(self) -> None:
        if self.bot is not None:
            self.bot.sample_memory()
            await asyncio.to_thread(self.bot.stop)
        if self.tg is not None:
            await self.tg.stop()

    def memory(self) -> dict[str, Any]:
        if self.bot is None:
            return {}
        return {"bot": self.bot.peak_rss_mib, **{f"bot child: {k}": v for k, v in self.bot.descendants_peak_rss_mib.items()}}

    def _index(self) -> None:
        """Index the fake's call log by chat as it grows."""
        calls = self.tg.calls
        for call in calls[self._indexed:]:
            if call.status != 200:
                continue
            if call.method in REPLY_METHODS:
                self._replies_by_chat.setdefault(call.chat_id, []).append(call)
        self._indexed = len(calls)

    def _replies(self, chat: int) -> list[Any]:
        """Successful replies to ``chat`` so far."""
        self._index()
        return self._replies_by_chat.get(chat, [])

    def _send(self, chat: int, step: Step) -> None:
        if step.kind == "text":
            self.tg.inject_text(chat, step.text)
        elif step.kind == "command":
            self.tg.inject_command(chat, step.text, step.args)
        else:
            self.tg.inject_callback(chat, step.text)

    async def _user(self, chat: int, steps: list[Step], injected: list[float], result: LoadResult) -> None:
        for turn, step in enumerate(steps):
            injected.append(time.monotonic())
            self._send(chat, step)
            deadline = time.monotonic() + self.turn_timeout_s
            # A reply came after this message, then nothing for answer_quiet_s: answered, and
            # thought. (The bot answers one message per chat at a time and this user waits.)
            while time.monotonic() < deadline:
                replies = self._replies(chat)
                if replies and replies[-1].at > injected[-1] and time.monotonic() - replies[-1].at >= self.answer_quiet_s:
                    break
                await asyncio.sleep(0.02)
            else:
                result.timeouts += 1

    async def _drain(self, quiet_s: float = 2.0, limit_s: float = 30.0) -> None:
        """Wait until the bot has sent nothing for ``quiet_s`` (a last reply held by a limit)."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            calls = self.tg.calls
            if not calls or time.monotonic() - calls[-1].at >= quiet_s:
                return
            await asyncio.sleep(0.1)

    async def load(self, level: Level, first_chat: int) -> LoadResult:
        await asyncio.to_thread(self.bot.sample_memory)
        chats = [first_chat + i for i in range(level.users)]
        result = LoadResult(self.name, level.users, level.users * level.messages_per_user)
        injected: dict[int, list[float]] = {c: [] for c in chats}
        started = time.monotonic()
        await asyncio.gather(*(
            self._user(chat, script_for(i, level.messages_per_user), injected[chat], result)
            for i, chat in enumerate(chats)
        ))
        await self._drain()
        last_reply = started
        for chat in chats:
            self._attribute(chat, injected[chat], result)
            replies = self._replies(chat)
            if replies:
                last_reply = max(last_reply, replies[-1].at)
        result.wall_s = last_reply - started
        await asyncio.to_thread(self.bot.sample_memory)
        return result

    def _attribute(self, chat: int, injected: list[float], result: LoadResult) -> None:
        calls = [c for c in self.tg.calls if c.chat_id == chat and c.status == 200]
        typing = [c.at for c in calls if c.method == "sendChatAction"]
        replies = [c for c in calls if c.method in REPLY_METHODS]
        # A user sends its next message only after the answer to the last one (and a quiet
        # think_s), so the replies between two sends belong to the first.
        starts = injected
        bounds = injected[1:] + [float("inf")]
        for i, sent_at in enumerate(injected):
            mine = [r for r in replies if starts[i] <= r.at < bounds[i]]
            if not mine:
                result.no_reply += 1
                timeline = [(round(c.at - injected[0], 3), c.method, str(c.params.get("text", ""))[:40]) for c in calls]
                log(f"no reply to message {i} of chat {chat} (sent at {sent_at - injected[0]:.3f}); "
                    f"typing {len(typing)} for {len(injected)} messages; calls: {timeline}")
                continue
            result.latencies_s.append(mine[-1].at - sent_at)

            result.replies_per_turn.append(len(mine))
            result.apologies += sum(1 for r in mine if str(r.params.get("text", "")).startswith(APOLOGY_PREFIX))
            if i + 1 < len(injected) and mine[-1].at > injected[i + 1]:
                result.overlapped += 1


# --- plain Rasa -----------------------------------------------------------------------------


class PlainRasa:
    """``rasa run --enable-api`` with its REST channel, and an action server of its own."""

    name = "plain rasa"

    def __init__(self, work_dir: Path, model: Path, *, think_s: float, turn_timeout_s: float = 60.0) -> None:
        self.work_dir = work_dir
        self.model = model
        self.think_s = think_s
        self.turn_timeout_s = turn_timeout_s
        self.db_path = work_dir / "plain.db"
        self.db_url = f"sqlite:///{self.db_path}"
        self.actions: Child | None = None
        self.rasa: Child | None = None
        self.port = 0
        self.startup_s: float | None = None
        self.session: Any = None

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/rest/webhook"

    async def start(self, onboarded: list[int], start_sender: int, start_timeout_s: float = 300.0) -> None:
        import aiohttp

        await asyncio.to_thread(prepare_database, self.db_url)
        await asyncio.to_thread(onboard, self.db_url, [str(c) for c in onboarded])
        env = child_env({"DATABASE_URL": self.db_url, "COACH_VAR_DIR": str(self.work_dir / "var-plain")})
        action_port = free_port()
        self.actions = Child(
            name="action server (plain)",
            args=[PYTHON, "-m", "actions.server", "--port", str(action_port), "--host", "127.0.0.1"],
            log_path=self.work_dir / "logs" / "actions-plain.log", env=env,
        ).start()
        await asyncio.to_thread(
            self.actions.wait_until, lambda: http_ok(f"http://127.0.0.1:{action_port}/health"), 120
        )
        endpoints = self.work_dir / "endpoints-plain.yml"
        endpoints.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
            f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {self.db_path}\n",
            encoding="utf-8",
        )
        self.port = free_port()
        rasa_bin = str(Path(PYTHON).with_name("rasa"))
        self.rasa = Child(
            name="rasa run",
            args=[rasa_bin, "run", "--enable-api", "-m", str(self.model), "--endpoints", str(endpoints),
                  "-i", "127.0.0.1", "-p", str(self.port), "--quiet"],
            log_path=self.work_dir / "logs" / "rasa-run.log", env=env, cwd=PROJECT_ROOT,
        )
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.turn_timeout_s))
        self.rasa.start()
        deadline = time.monotonic() + start_timeout_s
        while time.monotonic() < deadline:
            if not self.rasa.alive():
                raise RuntimeError(f"rasa run exited at start:\n{self.rasa.tail()}")
            try:
                async with self.session.post(self.webhook, json={"sender": str(start_sender), "message": "hi"}) as r:
                    if r.status == 200 and await r.json():
                        self.startup_s = round(time.monotonic() - self.rasa.started_at, 2)
                        log(f"plain rasa: first reply {self.startup_s}s after process start")
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                pass
            await asyncio.sleep(0.5)
        raise RuntimeError(f"rasa run gave no reply within {start_timeout_s:.0f}s:\n{self.rasa.tail()}")

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        for child in (self.rasa, self.actions):
            if child is not None:
                child.sample_memory()
                await asyncio.to_thread(child.stop)

    def memory(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.rasa is not None:
            out["rasa run"] = self.rasa.peak_rss_mib
        if self.actions is not None:
            out["action server (plain)"] = self.actions.peak_rss_mib
        return out

    async def _user(self, sender: int, steps: list[Step], result: LoadResult, ends: list[float]) -> None:
        import aiohttp

        for step in steps:
            started = time.monotonic()
            try:
                async with self.session.post(self.webhook, json={"sender": str(sender), "message": step.rasa_text()}) as r:
                    body = await r.json() if r.status == 200 else None
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                body = None
                result.timeouts += 1
            finished = time.monotonic()
            if body:
                result.latencies_s.append(finished - started)
                result.replies_per_turn.append(sum(1 for m in body if m.get("text") or m.get("image")))
                ends.append(finished)
            else:
                result.no_reply += 1
            await asyncio.sleep(self.think_s)

    async def load(self, level: Level, first_sender: int) -> LoadResult:
        for child in (self.rasa, self.actions):
            await asyncio.to_thread(child.sample_memory)
        result = LoadResult(self.name, level.users, level.users * level.messages_per_user)
        ends: list[float] = []
        started = time.monotonic()
        await asyncio.gather(*(
            self._user(first_sender + i, script_for(i, level.messages_per_user), result, ends)
            for i in range(level.users)
        ))
        result.wall_s = (max(ends) if ends else time.monotonic()) - started
        for child in (self.rasa, self.actions):
            await asyncio.to_thread(child.sample_memory)
        return result


def level_mix(level: Level) -> dict[str, int]:
    steps: list[Step] = []
    for i in range(level.users):
        steps += script_for(i, level.messages_per_user)
    return mix(steps)
