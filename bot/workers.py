"""Several Rasa workers behind one Telegram front end (``bot run --workers N``, ``COACH_WORKERS``).

A turn costs ~30 ms of CPU in Rasa, all on one event loop, so one process answers at most about
30 messages a second whatever the number of cores. With N workers, the front end (polling,
sending, reminders) stays in this process and each worker process loads the model and answers
turns. The front end already handles one message per chat at a time, so a chat's messages stay
in order whichever worker answers; a chat keeps the same worker while it lives (by its id). All
workers share the database and the action server (and Redis, when set).

A worker that dies fails only the turns it was answering (their chats get the usual apology);
it is started again, and its chats go to the others meanwhile.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import signal
import zlib
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

from bot.errors import CoachError
from bot.turns import Turn

log = logging.getLogger(__name__)

READY = "ready"


@dataclass(frozen=True)
class WorkerConfig:
    model: str
    action_server_url: str
    database_url: str
    redis_url: str | None
    action_timeout_s: float
    log_level: str


# --- the worker process ----------------------------------------------------------------------


def _worker_main(conn: Connection, config: WorkerConfig, parent_pid: int) -> None:
    """Entry point of a worker process (spawned: a fresh interpreter, no TensorFlow state)."""
    from bot.action_server import die_with_parent

    die_with_parent()
    if os.getppid() != parent_pid:  # the front end died before we could ask for the signal
        return

    # Ctrl+C and systemd's SIGTERM reach the whole group; the front end stops us itself after
    # its last turn. A SIGTERM when the front end is gone (the death signal) ends us at once.
    def on_sigterm(_signum: int, _frame: Any) -> None:
        if os.getppid() != parent_pid:
            os._exit(0)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_sigterm)
    os.environ.pop("TELEGRAM_BOT_TOKEN", None)  # a worker never talks to Telegram: nothing to leak
    from bot.runtime import quiet_logs

    quiet_logs(config.log_level)
    asyncio.run(_serve(conn, config))


async def _serve(conn: Connection, config: WorkerConfig) -> None:
    from bot.rasa_bridge import RasaCoach
    from bot.resilience import ResilientCoach

    coach = ResilientCoach(
        RasaCoach.load(
            Path(config.model),
            action_server_url=config.action_server_url,
            database_url=config.database_url,
            redis_url=config.redis_url,
            action_timeout_s=config.action_timeout_s,
        ),
        action_timeout_s=config.action_timeout_s,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    turns: set[asyncio.Task[None]] = set()

    async def answer(request_id: int, user: str, text: str, metadata: dict[str, Any] | None) -> None:
        try:
            reply: tuple[int, Turn | None, str | None] = (request_id, await coach.handle(user, text, metadata), None)
        except Exception as exc:  # noqa: BLE001 - ResilientCoach apologises; this is a last guard
            reply = (request_id, None, type(exc).__name__)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            stop.set()  # the front end is gone

    def on_request() -> None:
        while not stop.is_set() and conn.poll():
            try:
                request = conn.recv()
            except (EOFError, OSError):
                request = None
            if request is None:  # asked to stop, or the front end closed its end
                stop.set()
                return
            task = loop.create_task(answer(*request))
            turns.add(task)
            task.add_done_callback(turns.discard)

    loop.add_reader(conn.fileno(), on_request)
    conn.send((READY, os.getpid()))
    await stop.wait()
    loop.remove_reader(conn.fileno())
    if turns:  # finish what was asked before the stop
        await asyncio.wait(set(turns), timeout=30)


# --- the front end's side ---------------------------------------------------------------------


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: Any = None
        self.conn: Connection | None = None
        self.ready = False
        self.pending: dict[int, asyncio.Future[Turn]] = {}


class CoachPool:
    """Implements :class:`bot.turns.Coach` with ``size`` worker processes."""

    def __init__(self, config: WorkerConfig, size: int, progress: Callable[[str], None] = lambda _m: None,
                 start_timeout_s: float = 300.0) -> None:
        if size < 2:
            raise ValueError("a pool needs at least two workers; one runs in the bot's own process")
        self.config = config
        self.size = size
        self.progress = progress
        self.start_timeout_s = start_timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._workers = [_Worker(i) for i in range(size)]
        self._ids = itertools.count(1)
        self._closing = False
        self._restarts: set[asyncio.Task[None]] = set()

    # life cycle

    async def start(self) -> "CoachPool":
        await asyncio.gather(*(self._start_worker(w) for w in self._workers))
        self.progress(f"{self.size} coach workers ready (pids {', '.join(str(w.process.pid) for w in self._workers)})")
        return self

    async def _start_worker(self, worker: _Worker) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main, args=(theirs, self.config, os.getpid()), name=f"coach-worker-{worker.index}",
            daemon=True,
        )
        process.start()
        theirs.close()
        worker.process, worker.conn, worker.ready = process, ours, False
        deadline = loop.time() + self.start_timeout_s
        while loop.time() < deadline:
            if await loop.run_in_executor(None, ours.poll, 0.5):
                try:
                    message = ours.recv()
                except (EOFError, OSError):
                    break
                if message and message[0] == READY:
                    worker.ready = True
                    loop.add_reader(ours.fileno(), self._on_answer, worker)
                    return
            if not process.is_alive():
                break
        process.kill()
        raise CoachError(
            f"coach worker {worker.index} did not start (exit code {process.exitcode}); run with LOG_LEVEL=INFO to see why"
        )

    async def close(self) -> None:
        self._closing = True
        for task in list(self._restarts):
            task.cancel()
        loop = asyncio.get_running_loop()
        for worker in self._workers:
            if worker.conn is not None:
                loop.remove_reader(worker.conn.fileno())
                try:
                    worker.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
        for worker in self._workers:
            if worker.process is not None:
                await loop.run_in_executor(None, worker.process.join, 35)
                if worker.process.is_alive():
                    worker.process.kill()
            if worker.conn is not None:
                worker.conn.close()
            self._fail_pending(worker, "the coach is stopping")

    async def __aenter__(self) -> "CoachPool":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # turns

    def worker_for(self, user: str) -> _Worker:
        """The chat's own worker while it is up, otherwise the next one that is."""
        first = zlib.crc32(user.encode("utf-8")) % self.size
        for offset in range(self.size):
            worker = self._workers[(first + offset) % self.size]
            if worker.ready:
                return worker
        raise CoachError("no coach worker is running")

    async def handle(self, user: str, text: str, metadata: dict[str, Any] | None = None) -> Turn:
        worker = self.worker_for(user)
        request_id = next(self._ids)
        future: asyncio.Future[Turn] = asyncio.get_running_loop().create_future()
        worker.pending[request_id] = future
        try:
            assert worker.conn is not None
            worker.conn.send((request_id, user, text, metadata))
        except (BrokenPipeError, OSError):
            worker.pending.pop(request_id, None)
            self._worker_lost(worker)
            raise CoachError(f"coach worker {worker.index} is gone") from None
        try:
            return await future
        finally:
            worker.pending.pop(request_id, None)  # answered, failed or given up (timeout)

    def _on_answer(self, worker: _Worker) -> None:
        conn = worker.conn
        assert conn is not None
        try:
            while conn.poll():
                request_id, turn, error = conn.recv()
                future = worker.pending.pop(request_id, None)
                if future is None or future.done():
                    continue  # the front end stopped waiting (timeout)
                if error is None:
                    future.set_result(turn)
                else:
                    future.set_exception(CoachError(f"coach worker {worker.index}: {error}"))
        except (EOFError, OSError):
            self._worker_lost(worker)

    def _worker_lost(self, worker: _Worker) -> None:
        if not worker.ready:
            return
        worker.ready = False
        if worker.conn is not None:
            asyncio.get_running_loop().remove_reader(worker.conn.fileno())
        code = worker.process.exitcode if worker.process is not None else None
        self._fail_pending(worker, f"coach worker {worker.index} exited (code {code})")
        if self._closing:
            return
        log.error("coach worker %s exited (code %s); starting it again", worker.index, code)
        task = asyncio.get_running_loop().create_task(self._restart(worker))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _restart(self, worker: _Worker) -> None:
        if worker.process is not None:
            await asyncio.get_running_loop().run_in_executor(None, worker.process.join, 5)
        if worker.conn is not None:
            worker.conn.close()
        try:
            await self._start_worker(worker)
            log.warning("coach worker %s is back", worker.index)
        except CoachError as exc:
            log.error("%s", exc)

    @staticmethod
    def _fail_pending(worker: _Worker, reason: str) -> None:
        pending, worker.pending = worker.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(CoachError(reason))

    @property
    def pids(self) -> list[int | None]:
        return [w.process.pid if w.process is not None and w.ready else None for w in self._workers]
