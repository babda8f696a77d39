"""Faults survived: the action server down, slow, then back; the database briefly unavailable;
the bot and the reminder scheduler killed with SIGKILL; Telegram answering 5xx or slowly;
SIGTERM in the middle of work.

How each test was checked to fail without its protection is noted in the test. The Rasa tests
can be run against the bare :class:`bot.rasa_bridge.RasaCoach` (no :mod:`bot.resilience`) with
``FAULTS_UNGUARDED=1``: every test marked "guarded" must then fail.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import select, text

from bot.action_server import ActionServer, free_port
from bot.resilience import ACTION_APOLOGY, DATABASE_APOLOGY, ResilientCoach
from bot.telegram_app import build_application, make_rate_limiter, running
from knowledge.db import PROJECT_ROOT, create_all, make_engine, session_factory
from knowledge.reminder_models import CLAIMED, SENT, ReminderDelivery
from knowledge.trainee_models import Trainee
from tests.conftest_telegram import EchoCoach, fake_telegram  # noqa: F401
from tests.fake_telegram import FakeTelegram

UNGUARDED = os.environ.get("FAULTS_UNGUARDED") == "1"
ACTION_TIMEOUT_S = 2.0


def texts(turn: Any) -> list[str]:
    return [r.text for r in turn.replies]


# --- an action server we can take down, slow down and bring back --------------------------


class ActionServerProxy:
    """Forwards Rasa's calls to the real action server on a port of its own. ``down()`` closes
    the port (connection refused, as when the server is not running), ``up()`` opens it again
    on the same port; ``delay`` makes every webhook call wait that long first (a slow server)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.port = free_port()
        self.delay = 0.0
        self.calls = 0
        self._wake = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def up(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # /health
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "ok"}')

            def do_POST(self) -> None:
                proxy.calls += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.delay:
                    proxy._wake.wait(proxy.delay)
                request = urllib.request.Request(
                    proxy.target, data=body, headers={"Content-Type": self.headers.get("Content-Type", "application/json")}
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # Rasa gave up waiting

        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._wake.clear()
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            self._wake.set()  # let slow handlers finish
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def action_server() -> Iterator[ActionServer]:
    server = ActionServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(action_server: ActionServer) -> Iterator[ActionServerProxy]:
    p = ActionServerProxy(action_server.url)
    p.up()
    yield p
    p.down()


@pytest.fixture(scope="module")
def coach(trained_model: Path, database_url: str, proxy: ActionServerProxy) -> Any:
    """One loaded Rasa model for the module, its actions reached through the proxy."""
    from bot.rasa_bridge import RasaCoach
    from bot.training import prepare_knowledge

    prepare_knowledge(lambda _m: None)
    inner = RasaCoach.load(trained_model, proxy.url, database_url, action_timeout_s=ACTION_TIMEOUT_S)
    if UNGUARDED:
        return inner
    return ResilientCoach(inner, action_timeout_s=ACTION_TIMEOUT_S, db_attempts=4, db_backoff_s=0.5, db_max_backoff_s=2.0)


@pytest.fixture
def healthy(proxy: ActionServerProxy) -> Iterator[ActionServerProxy]:
    """Every test starts and ends with the action server answering at once."""
    proxy.delay = 0.0
    if proxy._server is None:
        proxy.up()
    yield proxy
    proxy.delay = 0.0
    if proxy._server is None:
        proxy.up()


async def stored_texts(coach: Any, user: str) -> list[str]:
    """The user's messages as Rasa's tracker store has them (read through a fresh store, as
    after a restart)."""
    from bot.rasa_bridge import tracker_store_for

    store = tracker_store_for(os.environ["DATABASE_URL"], coach.agent.domain)
    tracker = await store.retrieve_full_tracker(user)
    if tracker is None:
        return []
    return [e.text for e in tracker.events if getattr(e, "type_name", "") == "user"]


# --- the action server -----------------------------------------------------------------------


@pytest.mark.slow
async def test_action_server_down_then_back_resumes_the_conversation(coach: Any, healthy: ActionServerProxy) -> None:
    # Guarded. Checked with FAULTS_UNGUARDED=1: Rasa swallows the connection error, the turn
    # comes back without any reply (or only a template), so the apology assertion fails.
    user = "fault-down"
    first = await coach.handle(user, "how do i do a glute bridge")
    assert "glute_bridge" in first.refs["exercises"]

    healthy.down()
    started = time.monotonic()
    during = await coach.handle(user, "is there an easier version?")
    assert time.monotonic() - started < 3 * ACTION_TIMEOUT_S + 5
    assert texts(during) and texts(during)[-1] == ACTION_APOLOGY
    # The message is not lost: it is in the tracker.
    assert "is there an easier version?" in await stored_texts(coach, user)

    healthy.up()
    after = await coach.handle(user, "is there an easier version?")
    assert ACTION_APOLOGY not in texts(after)
    assert after.intent["name"] == "ask_easier"
    assert after.refs["exercises"], after  # the exercise of the conversation is still known


@pytest.mark.slow
async def test_action_server_slower_than_the_timeout_gets_a_quick_apology(coach: Any, healthy: ActionServerProxy) -> None:
    # Guarded. Checked with FAULTS_UNGUARDED=1: Rasa waits DEFAULT_REQUEST_TIMEOUT (300 s)
    # whatever ACTION_TIMEOUT says, so the wait_for below times out.
    user = "fault-slow"
    healthy.delay = 30.0
    started = time.monotonic()
    turn = await asyncio.wait_for(coach.handle(user, "how do i do clams"), 25)
    elapsed = time.monotonic() - started
    # One action call waits the timeout; later calls of the same turn fail at once.
    assert elapsed < 2 * ACTION_TIMEOUT_S + 6, elapsed
    assert texts(turn)[-1] == ACTION_APOLOGY
    assert "how do i do clams" in await stored_texts(coach, user)

    healthy.delay = 0.0
    again = await coach.handle(user, "how do i do clams")
    assert ACTION_APOLOGY not in texts(again)
    assert "clamshell" in again.refs["exercises"]


# --- the database ----------------------------------------------------------------------------


class SqliteLock:
    """Holds SQLite's write lock (BEGIN EXCLUSIVE) from another connection for ``seconds``."""

    def __init__(self, path: str, seconds: float) -> None:
        self.path, self.seconds = path, seconds
        self.held = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("BEGIN EXCLUSIVE")
            self.held.set()
            time.sleep(self.seconds)
            connection.execute("COMMIT")
        finally:
            connection.close()

    def __enter__(self) -> "SqliteLock":
        self.thread.start()
        assert self.held.wait(30), "could not take the database lock"
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join()


def sqlite_path_or_skip() -> str:
    url = os.environ["DATABASE_URL"]
    if not url.startswith("sqlite"):
        # The wording matters: scripts/test accepts a skip on PostgreSQL only when it says "SQLite only:".
        pytest.skip("SQLite only: this fault is SQLite's file lock; PostgreSQL has its killed-connection test")
    return url.split(":///", 1)[1]


@pytest.mark.slow
async def test_database_locked_for_a_few_seconds_loses_nothing(coach: Any, healthy: ActionServerProxy) -> None:
    # Guarded. Checked with FAULTS_UNGUARDED=1: Rasa's engine gives up after SQLite's 5 s busy
    # timeout and FailSafeTrackerStore saves the turn in memory only, so after a "restart" (a
    # fresh store) the message is missing.
    path = sqlite_path_or_skip()
    user = "fault-db-brief"
    await coach.handle(user, "how do i do a glute bridge")
    with SqliteLock(path, seconds=7):
        turn = await coach.handle(user, "why keep my pelvis level?")
    assert DATABASE_APOLOGY not in texts(turn)
    assert "pelvis_level" in turn.refs["cues"]
    assert await stored_texts(coach, user) == ["how do i do a glute bridge", "why keep my pelvis level?"]


@pytest.mark.slow
async def test_database_down_longer_than_the_retries_apologises_and_recovers(
    coach: Any, healthy: ActionServerProxy
) -> None:
    # Guarded. Checked with FAULTS_UNGUARDED=1: no apology (the turn pretends to have worked
    # while its events live only in memory).
    path = sqlite_path_or_skip()
    user = "fault-db-long"
    await coach.handle(user, "hi")
    store = coach.agent.tracker_store
    saved = getattr(store, "attempts", None), getattr(store, "backoff_s", None)
    if saved[0] is not None:
        store.attempts, store.backoff_s = 2, 0.2  # a small budget: two tries of SQLite's 5 s
    try:
        with SqliteLock(path, seconds=14):
            turn = await coach.handle(user, "how do i do clams")
    finally:
        if saved[0] is not None:
            store.attempts, store.backoff_s = saved
    assert texts(turn) == [DATABASE_APOLOGY]
    # Back to normal at once, and the conversation is intact (not a fresh one).
    after = await coach.handle(user, "how do i do clams")
    assert "clamshell" in after.refs["exercises"]
    assert (await stored_texts(coach, user))[0] == "hi"


@pytest.mark.slow
@pytest.mark.postgres
async def test_postgres_connections_killed_between_turns(coach: Any, healthy: ActionServerProxy) -> None:
    # Guarded. Without the retrying store, the first query on a killed connection fails,
    # FailSafeTrackerStore returns no tracker and Rasa starts a second session for the user.
    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        pytest.skip("DATABASE_URL is not PostgreSQL")
    user = "fault-pg-kill"
    await coach.handle(user, "how do i do a glute bridge")
    admin = make_engine(url)
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()
    turn = await coach.handle(user, "is there an easier version?")
    assert turn.refs["exercises"], turn
    from bot.rasa_bridge import tracker_store_for

    tracker = await tracker_store_for(url, coach.agent.domain).retrieve_full_tracker(user)
    sessions = [e for e in tracker.events if e.type_name == "session_started"]
    assert len(sessions) == 1


async def test_resilient_coach_never_raises() -> None:
    # Checked by calling EchoCoach directly: "boom" raises RuntimeError.
    wrapped = ResilientCoach(EchoCoach())
    turn = await wrapped.handle("u", "boom")
    assert texts(turn) and "Sorry" in texts(turn)[0]
    assert texts(await wrapped.handle("u", "fine")) == ["echo: fine"]


# --- SIGKILL: the bot mid-conversation ----------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def killed_say(trained_model: Path) -> Iterator[dict[str, Any]]:
    """``python -m bot say`` answers one message, gets a second, and is killed with SIGKILL
    while on it; a new ``say`` process then continues the same conversation."""
    from bot.training import current_model

    if current_model() is None:  # `say` would train a model: never from a test
        pytest.skip("the model is stale; retrain first")
    user = f"fault-kill-{os.getpid()}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "say", "--user", user],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, env=env,
    )
    orphans: list[int] = []
    try:
        assert proc.stdin and proc.stdout
        proc.stdin.write("how do i do a glute bridge\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())
        children = _children(proc.pid)  # the action server it started
        proc.stdin.write("is there an easier version?\n")
        proc.stdin.flush()
        time.sleep(0.3)  # inside the second turn
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        time.sleep(0.5)
        orphans = [pid for pid in children if _alive(pid)]
        result = {"user": user, "first": first, "orphans": list(orphans)}
        restarted = subprocess.run(
            [sys.executable, "-m", "bot", "say", "--user", user],
            input="why keep my pelvis level?\n", capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=600,
        )
        result["restart"] = [json.loads(line) for line in restarted.stdout.splitlines() if line.strip()]
        result["restart_stderr"] = restarted.stderr
        yield result
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in orphans:  # our own grandchildren, left behind by the SIGKILL
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.slow
async def test_sigkill_mid_conversation_keeps_the_tracker_whole(killed_say: dict[str, Any]) -> None:
    # Checked: reading the tracker of a user who never talked gives [] and fails the first
    # assertion; a turn saved twice (e.g. a retry that re-ran the message) fails the Counter check.
    from bot.rasa_bridge import tracker_store_for

    assert "glute_bridge" in killed_say["first"]["refs"]["exercises"]
    [turn] = killed_say["restart"]
    assert "pelvis_level" in turn["refs"]["cues"], killed_say["restart_stderr"][-2000:]
    store = tracker_store_for(os.environ["DATABASE_URL"])
    from rasa.shared.core.domain import Domain

    store.domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    tracker = await store.retrieve_full_tracker(killed_say["user"])
    said = [e.text for e in tracker.events if e.type_name == "user"]
    counts = Counter(said)
    assert counts["how do i do a glute bridge"] == 1
    assert counts["why keep my pelvis level?"] == 1
    assert counts["is there an easier version?"] <= 1  # the killed turn: whole or not at all
    assert said[0] == "how do i do a glute bridge" and said[-1] == "why keep my pelvis level?"
    # A saved turn is complete: every user message is followed by at least one bot action.
    events = [e.type_name for e in tracker.events]
    for index, name in enumerate(events):
        if name == "user":
            assert "action" in events[index + 1 :], events


@pytest.mark.slow
def test_sigkill_of_the_bot_leaves_no_orphan_action_server(killed_say: dict[str, Any]) -> None:
    # MISSING protection (fails today): ActionServer starts rasa-sdk with start_new_session=True,
    # so when the bot dies by SIGKILL its action server keeps running (and holds a port and DB
    # connections). Fix in bot/action_server.py: have the child die with its parent, e.g.
    # preexec_fn setting prctl(PR_SET_PDEATHSIG, SIGTERM) (Linux) or a watchdog thread in
    # actions/server.py that exits when os.getppid() changes.
    assert killed_say["orphans"] == [], "action server still running after the bot was killed"


# --- SIGKILL / SIGTERM: the reminder scheduler ----------------------------------------------

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
REMINDER_CHATS = list(range(8_100_001, 8_100_007))
SLOW_CHAT = REMINDER_CHATS[2]


def seed_reminders(url: str) -> None:
    engine = make_engine(url)
    create_all(engine)
    with session_factory(engine)() as session:
        for chat in REMINDER_CHATS:
            session.query(ReminderDelivery).filter(ReminderDelivery.user_id == str(chat)).delete()
            session.query(Trainee).filter(Trainee.user_id == str(chat)).delete()
        session.commit()
        for chat in REMINDER_CHATS:
            session.add(
                Trainee(user_id=str(chat), created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), timezone="UTC",
                        reminder_time="08:00", reminders_enabled=True)
            )
        session.commit()
    engine.dispose()


def delivery_states(url: str) -> dict[str, tuple[str, Any]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(ReminderDelivery.user_id, ReminderDelivery.state, ReminderDelivery.claimed_by).where(
                ReminderDelivery.user_id.in_([str(c) for c in REMINDER_CHATS])
            )
        ).all()
    engine.dispose()
    return {user: (state, claimed_by) for user, state, claimed_by in rows}


async def start_scheduler(tg: FakeTelegram, url: str, now: datetime, worker: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": tg.token, "PYTHONPATH": str(PROJECT_ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.scheduler", "--database-url", url, "--base-url", tg.base_url,
        "--interval", "0.2", "--overall-rate", "1000", "--worker-id", worker, "--fixed-now", now.isoformat(),
        env=env, cwd=str(PROJECT_ROOT),
    )


async def wait_until(condition: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(condition)
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_sigkill_mid_reminder_run_neither_loses_nor_repeats(fake_telegram: FakeTelegram, database_url: str) -> None:
    # Protection: knowledge.reminders leases. Checked by making the restart use a clock inside
    # the lease (NOW + 1 min): the slow chat's reminder is then not sent and the last
    # assertion fails; and a lease of 0 (claimable at once) lets two workers double-send.
    await asyncio.to_thread(seed_reminders, database_url)
    fake_telegram.fail(200, method="sendMessage", chat_id=SLOW_CHAT, delay=30)  # hangs mid-send
    first = await start_scheduler(fake_telegram, database_url, NOW, "killed-worker")
    try:
        others = [c for c in REMINDER_CHATS if c != SLOW_CHAT]
        await wait_until(
            lambda: sum(1 for s, _ in delivery_states(database_url).values() if s == SENT) == len(others)
            and delivery_states(database_url).get(str(SLOW_CHAT), ("", None))[0] == CLAIMED,
            timeout=60,
        )
    finally:
        first.kill()  # SIGKILL: no release, no clean-up
        await first.wait()
    assert delivery_states(database_url)[str(SLOW_CHAT)] == (CLAIMED, "killed-worker")

    # Restarted at once: the dead worker's lease is still live, nothing is sent twice.
    again = await start_scheduler(fake_telegram, database_url, NOW + timedelta(seconds=30), "restart-1")
    await asyncio.sleep(3)
    again.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(again.wait(), 30) == 0
    # Restarted after the lease ran out: the one in flight is sent, once.
    later = await start_scheduler(fake_telegram, database_url, NOW + timedelta(minutes=6), "restart-2")
    try:
        await wait_until(lambda: delivery_states(database_url)[str(SLOW_CHAT)][0] == SENT, timeout=60)
    finally:
        later.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(later.wait(), 30) == 0
    per_chat = Counter(c.chat_id for c in fake_telegram.calls_to("sendMessage") if c.chat_id in REMINDER_CHATS)
    assert sorted(per_chat) == REMINDER_CHATS
    assert set(per_chat.values()) == {1}, per_chat


async def test_sigterm_finishes_the_reminder_in_flight_and_leaves_nothing_claimed(
    fake_telegram: FakeTelegram, database_url: str
) -> None:
    # Checked by sending SIGKILL instead of SIGTERM: the slow chat's row stays "claimed" and the
    # reminder is not sent, so both assertions fail.
    await asyncio.to_thread(seed_reminders, database_url)
    fake_telegram.fail(200, method="sendMessage", chat_id=SLOW_CHAT, delay=3)
    worker = await start_scheduler(fake_telegram, database_url, NOW, "sigterm-worker")
    await wait_until(lambda: delivery_states(database_url).get(str(SLOW_CHAT), ("", None))[0] == CLAIMED, timeout=60)
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(worker.wait(), 40) == 0
    states = delivery_states(database_url)
    assert all(state == SENT and claimed_by is None for state, claimed_by in states.values()), states
    assert len(fake_telegram.calls_to("sendMessage", SLOW_CHAT)) == 1


# --- Telegram failing -----------------------------------------------------------------------

CHAT = 5151


def quick_app(coach: Any, tg: FakeTelegram, **kwargs: Any) -> Any:
    limiter = make_rate_limiter(overall_rate=1000, private_chat_rate=1000, private_chat_burst=100)
    return build_application(coach, tg.token, tg.base_url, base_file_url=tg.base_file_url, rate_limiter=limiter, **kwargs)


async def test_telegram_5xx_on_a_reply_is_retried(fake_telegram: FakeTelegram) -> None:
    # MISSING protection (fails today): bot.telegram_render.send_messages sends each message
    # once; a 502 from Telegram loses the reply (PTB raises NetworkError, on_error logs it).
    # Fix: in send_messages (or converse), retry NetworkError/TimedOut (not BadRequest/Forbidden)
    # 2-3 times with a short backoff, as bot.scheduler does for reminders.
    coach = EchoCoach()
    fake_telegram.fail(502, method="sendMessage", chat_id=CHAT, times=1)
    async with running(quick_app(coach, fake_telegram), poll_timeout=1):
        fake_telegram.inject_text(CHAT, "hello after a 502")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT), timeout=15)
    assert fake_telegram.texts_to(CHAT) == ["echo: hello after a 502"]


def once_per_run() -> None:
    """Delivery faults do not depend on the database: run them in the SQLite run only."""
    if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        # The wording matters: scripts/test accepts a skip on PostgreSQL only when it says "SQLite only:".
        pytest.skip("SQLite only: Telegram delivery faults do not depend on the back end; they run once")


@pytest.mark.slow
async def test_the_real_bot_sends_each_reply_once_through_429s_500s_and_a_late_answer(
    trained_model: Path, tmp_path: Path
) -> None:
    """``python -m bot run`` on the fake Bot API: one chat gets 429 five times in a row, one 500
    five times, one a send that Telegram accepts but answers 7 s late. Each gets its reply
    exactly once."""
    once_per_run()
    from tests.test_telegram_real import Process, bot_env, fresh_chat_id, set_now

    throttled, failing, late = (int(fresh_chat_id()) for _ in range(3))
    now_file = tmp_path / "now"
    set_now(now_file, datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    async with FakeTelegram() as tg:
        bot = Process(["run"], bot_env(tg, now_file), tmp_path / "bot.log").start()
        try:
            await tg.wait_for(lambda: tg.calls_to("setMyCommands"), timeout=600)
            tg.fail(429, method="sendMessage", chat_id=throttled, times=5, retry_after=1)
            tg.fail(500, method="sendMessage", chat_id=failing, times=5)
            tg.fail(200, method="sendMessage", chat_id=late, times=1, delay=7, answer_late=True)
            for chat in (throttled, failing, late):
                tg.inject_command(chat, "help")
            for chat in (throttled, failing, late):
                await tg.wait_for(lambda: tg.texts_to(chat), timeout=90)
            await asyncio.sleep(10)  # past every back-off step: a second copy would be here
        finally:
            bot.kill()
        for chat in (throttled, failing, late):
            got = tg.texts_to(chat)
            assert len(got) == 1 and got[0].startswith("Here's what I can do"), (chat, got, bot.output()[-2000:])
        assert [c.status for c in tg.calls_to("sendMessage", throttled, ok_only=False)] == [429] * 5 + [200]
        assert [c.status for c in tg.calls_to("sendMessage", failing, ok_only=False)] == [500] * 5 + [200]
        assert len(tg.calls_to("sendMessage", late, ok_only=False)) == 1


def _action_server_of(pid: int) -> int | None:
    for child in _children(pid):
        try:
            if b"actions.server" in Path(f"/proc/{child}/cmdline").read_bytes() and _alive(child):
                return child
        except OSError:
            continue
    return None


@pytest.mark.slow
async def test_the_real_bot_starts_its_killed_action_server_again(trained_model: Path, tmp_path: Path) -> None:
    """SIGKILL the action server of ``python -m bot run``: messages meanwhile get the apology,
    and the bot starts the server again, so the next message is answered normally. Checked
    without bot.runtime's supervise task: the apology went on for as long as the bot ran."""
    once_per_run()
    from tests.test_telegram_real import Process, bot_env, fresh_chat_id, set_now

    chat = int(fresh_chat_id())
    now_file = tmp_path / "now"
    set_now(now_file, datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    async with FakeTelegram() as tg:
        bot = Process(["run"], bot_env(tg, now_file), tmp_path / "bot.log").start()
        try:
            assert bot.proc is not None
            await tg.wait_for(lambda: tg.calls_to("setMyCommands"), timeout=600)

            async def answer(command: str) -> str:
                before = len(tg.texts_to(chat))
                tg.inject_command(chat, command)
                got = await tg.wait_for(lambda: tg.texts_to(chat)[before:], timeout=60)
                return got[0]

            first = await answer("progress")  # needs action_progress
            assert first != ACTION_APOLOGY, bot.output()[-2000:]
            old = _action_server_of(bot.proc.pid)
            assert old is not None
            os.kill(old, signal.SIGKILL)
            await wait_until(lambda: not _alive(old), 10)
            new = await wait_until(lambda: _action_server_of(bot.proc.pid), 30)
            assert new != old
            answers = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                answers.append(await answer("progress"))
                if answers[-1] != ACTION_APOLOGY:
                    break
                await asyncio.sleep(1)
            assert answers[-1] == first, (answers, bot.output()[-2000:])
            assert bot.proc.poll() is None  # the bot itself never went down
        finally:
            bot.kill()
        assert "starting it again" in bot.output()  # the bot's log goes to its stderr


async def test_telegram_429_five_times_in_a_row_is_waited_out_and_sent_once(fake_telegram: FakeTelegram) -> None:
    once_per_run()
    # Checked against the limiter before this test (AIORateLimiter max_retries=2): the third
    # 429 was raised and the reply lost. Now 429s are waited out by time, not count.
    fake_telegram.fail(429, method="sendMessage", chat_id=CHAT, times=5, retry_after=1)
    async with running(quick_app(EchoCoach(), fake_telegram), poll_timeout=1):
        fake_telegram.inject_text(CHAT, "hello through 429s")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT), timeout=40)
        await asyncio.sleep(1.5)  # a second copy would be on its way by now
    assert fake_telegram.texts_to(CHAT) == ["echo: hello through 429s"]
    statuses = [c.status for c in fake_telegram.calls_to("sendMessage", CHAT, ok_only=False)]
    assert statuses == [429] * 5 + [200]


async def test_telegram_429_beyond_the_budget_is_given_up_loudly(
    fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    once_per_run()
    # The bound holds: a 429 asking for longer than the whole budget is not waited out (the
    # turn would hold its chat for ever) and the give-up is logged as an error.
    fake_telegram.fail(429, method="sendMessage", chat_id=CHAT, times=1, retry_after=30)
    limiter = make_rate_limiter(overall_rate=1000, private_chat_rate=1000, private_chat_burst=100, retry_after_budget_s=5)
    app = build_application(EchoCoach(), fake_telegram.token, fake_telegram.base_url, rate_limiter=limiter)
    async with running(app, poll_timeout=1):
        fake_telegram.inject_text(CHAT, "too long a wait")
        await fake_telegram.wait_for(lambda: fake_telegram.calls_to("sendMessage", CHAT, ok_only=False), timeout=15)
        await fake_telegram.wait_for(lambda: "giving up" in caplog.text, timeout=10)
    assert fake_telegram.texts_to(CHAT) == []
    assert any(r.levelname == "ERROR" and "429" in r.getMessage() for r in caplog.records)


async def test_telegram_500_five_times_in_a_row_is_retried_and_sent_once(
    fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    once_per_run()
    # Checked against SEND_ATTEMPTS = 3 (the code before this test): lost after the third 500.
    # The back-off is shortened here (0.1 s doubling) to keep the test quick; its shape is the same.
    monkeypatch.setattr("bot.telegram_render.SEND_BACKOFF_S", 0.1)
    fake_telegram.fail(500, method="sendMessage", chat_id=CHAT, times=5)
    async with running(quick_app(EchoCoach(), fake_telegram), poll_timeout=1):
        fake_telegram.inject_text(CHAT, "hello through 500s")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT), timeout=30)
        await asyncio.sleep(1.0)
    assert fake_telegram.texts_to(CHAT) == ["echo: hello through 500s"]
    statuses = [c.status for c in fake_telegram.calls_to("sendMessage", CHAT, ok_only=False)]
    assert statuses == [500] * 5 + [200]


async def test_a_send_telegram_accepts_but_answers_late_is_not_sent_again(fake_telegram: FakeTelegram) -> None:
    once_per_run()
    # Checked with PTB's default 5 s read timeout (the code before this test): the late answer
    # was taken for a failed send, retried, and the person got the reply twice.
    fake_telegram.fail(200, method="sendMessage", chat_id=CHAT, times=1, delay=7, answer_late=True)
    async with running(quick_app(EchoCoach(), fake_telegram), poll_timeout=1):
        fake_telegram.inject_text(CHAT, "answered late")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT), timeout=15)
        await asyncio.sleep(8)  # past the late answer: a retry would have landed by now
        fake_telegram.inject_text(CHAT, "next")
        await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(CHAT)) >= 2, timeout=15)
    assert fake_telegram.texts_to(CHAT) == ["echo: answered late", "echo: next"]


async def test_telegram_down_for_a_while_does_not_stop_the_bot(fake_telegram: FakeTelegram) -> None:
    # Checked without the fake failing: then the 500s of getUpdates are absent and the test is
    # trivially green; with getUpdates failing, PTB's polling must keep retrying (it does), and
    # the message queued meanwhile is answered once Telegram is back.
    coach = EchoCoach()
    async with running(quick_app(coach, fake_telegram), poll_timeout=1):
        fake_telegram.fail(500, method="getUpdates", times=3)
        fake_telegram.inject_text(CHAT, "queued while Telegram was down")
        texts_ = await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT), timeout=30)
    assert texts_ == ["echo: queued while Telegram was down"]


async def test_telegram_slow_answer_does_not_block_other_chats(fake_telegram: FakeTelegram) -> None:
    # Checked with concurrent_updates off (Application.builder().concurrent_updates(False)):
    # the other chat's answer then waits behind the slow send and the elapsed time check fails.
    coach = EchoCoach()
    fake_telegram.fail(200, method="sendMessage", chat_id=CHAT, delay=4)
    async with running(quick_app(coach, fake_telegram), poll_timeout=1):
        fake_telegram.inject_text(CHAT, "slow one")
        await asyncio.sleep(0.5)
        started = time.monotonic()
        fake_telegram.inject_text(CHAT + 1, "quick one")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT + 1), timeout=10)
        assert time.monotonic() - started < 2
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT), timeout=20)


async def test_a_chat_flooding_300_messages_does_not_hold_up_another_chat(fake_telegram: FakeTelegram) -> None:
    """Telegram's own pace (one message a second per chat) with one chat sending 300 at once:
    the probe chat is answered within 5 s. Checked with PTB's concurrent_updates(True): the
    flood's waiting updates held every slot and the probe waited about 45 s."""
    once_per_run()
    coach = EchoCoach()
    limiter = make_rate_limiter()
    app = build_application(coach, fake_telegram.token, fake_telegram.base_url, rate_limiter=limiter)
    flood, probe = CHAT, CHAT + 1
    async with running(app, poll_timeout=1):
        for i in range(300):
            fake_telegram.inject_text(flood, f"flood {i}")
        await fake_telegram.wait_for(lambda: len(coach.calls) >= 3, timeout=15)  # the flood is under way
        started = time.monotonic()
        fake_telegram.inject_text(probe, "am I heard?")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(probe), timeout=60)
        waited = time.monotonic() - started
        flooded = fake_telegram.texts_to(flood)
        # Stopping waits for every fetched update: let the rest of the flood go at the overall
        # pace (30/s) instead of one a second.
        limiter._private_rate = 0
    assert waited < 5, f"the probe waited {waited:.1f}s behind the flood"
    assert fake_telegram.texts_to(probe) == ["echo: am I heard?"]
    # The flood keeps its order (it need not drain in the test).
    assert flooded == [f"echo: flood {i}" for i in range(len(flooded))]


# --- SIGTERM: the bot with a turn in flight -------------------------------------------------

_SLOW_BOT = r"""
import asyncio, sys
from bot.telegram_app import build_application, make_rate_limiter, serve_polling, _stop_on_signals
from bot.turns import Reply, Turn

class SlowCoach:
    async def handle(self, user, text, metadata=None):
        print("turn started", flush=True)
        await asyncio.sleep(3)
        return Turn(user=user, text=text, replies=[Reply("finished: " + text)])

async def main():
    token, base_url = sys.argv[1], sys.argv[2]
    limiter = make_rate_limiter(overall_rate=1000, private_chat_rate=1000, private_chat_burst=100)
    app = build_application(SlowCoach(), token, base_url, rate_limiter=limiter)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    await serve_polling(app, stop)

asyncio.run(main())
"""


async def test_sigterm_finishes_the_message_in_flight(fake_telegram: FakeTelegram) -> None:
    # Checked by sending SIGKILL instead: "finished: ..." never arrives.
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SLOW_BOT, fake_telegram.token, fake_telegram.base_url,
        cwd=str(PROJECT_ROOT), env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        await fake_telegram.wait_for(lambda: fake_telegram.calls_to("setMyCommands"), timeout=60)
        fake_telegram.inject_text(CHAT, "in flight")
        assert bot.stdout is not None
        line = await asyncio.wait_for(bot.stdout.readline(), 30)
        assert b"turn started" in line
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.wait(), 30) == 0
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert fake_telegram.texts_to(CHAT) == ["finished: in flight"]
