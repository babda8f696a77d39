"""Bring the coach up for a command: model (trained if stale), database, action server, agent."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import AsyncIterator, Callable

from bot.action_server import ActionServer, is_healthy
from bot.errors import CoachError
from bot.settings import Settings

log = logging.getLogger(__name__)


def quiet_logs(level: str = "WARNING", token: str | None = None) -> None:
    """Structured (JSON-lines) logs at the chosen level with the token redacted; Rasa's,
    TensorFlow's and the HTTP libraries' chatter only when it matters."""
    from bot import logging_setup
    from bot.rasa_bridge import quiet_structlog

    logging_setup.configure(level, token=token)
    logging.getLogger("rasa.core.tracker_store").setLevel(logging.ERROR)
    # Rasa 3.6 also logs through structlog, whose default prints every level to stdout: that
    # would corrupt `say`'s JSON lines and show debug chatter in `chat`.
    quiet_structlog(max(logging.WARNING, logging.getLevelName(level)))


def _supervisor_ended(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:  # loudly: nothing watches it now
        log.error("the action server supervisor stopped: %r", task.exception(), exc_info=task.exception())


@contextlib.asynccontextmanager
async def coach_session(
    settings: Settings, progress: Callable[[str], None] = lambda m: print(m, file=sys.stderr), workers: int = 1
) -> AsyncIterator["RasaCoach"]:  # noqa: F821
    """The coach, ready to talk: in this process, or in ``workers`` worker processes (>1)."""
    from bot.rasa_bridge import RasaCoach
    from bot.training import model_for_run, prepare_knowledge

    model = model_for_run(progress=progress)
    prepare_knowledge(progress)  # the database may be new even when the model is not
    server: ActionServer | None = None
    url = settings.action_server_url
    if url:
        if not is_healthy(url, timeout=3):
            raise CoachError(f"ACTION_SERVER_URL {url} does not answer; start it or unset ACTION_SERVER_URL")
    else:
        server = ActionServer(port=settings.action_server_port, env={"DATABASE_URL": settings.database_url})
        server.launch()  # it starts while the model loads; checked before the first message
        url = server.url
    # A server that dies (killed, out of memory) is started again: without this, every later
    # message needing an action got the apology for as long as the bot ran.
    watch: asyncio.Task[None] | None = None
    if server is not None:
        watch = asyncio.create_task(server.supervise())
        watch.add_done_callback(_supervisor_ended)
    try:
        if workers > 1:
            from bot.workers import CoachPool, WorkerConfig

            config = WorkerConfig(
                model=str(model), action_server_url=url, database_url=settings.database_url,
                redis_url=settings.redis_url, action_timeout_s=settings.action_timeout_s,
                log_level=settings.log_level,
            )
            progress(f"Starting {workers} coach workers...")
            async with CoachPool(config, workers, progress=progress) as pool:
                if server is not None:
                    server.wait_ready()
                yield pool  # each worker wraps its coach in ResilientCoach itself
            return
        from bot.resilience import ResilientCoach

        coach = RasaCoach.load(
            model,
            action_server_url=url,
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            action_timeout_s=settings.action_timeout_s,
        )
        if server is not None:
            server.wait_ready()
        # Timeouts, an action server that is down, a database that blinks: an apology, never a crash.
        yield ResilientCoach(coach, action_timeout_s=settings.action_timeout_s)
    finally:
        if watch is not None:
            watch.cancel()
        if server is not None:
            server.stop()
