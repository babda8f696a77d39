"""Two Rasa worker processes behind one front end (bot.workers): real model, real action server."""
from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.errors import CoachError


@pytest.fixture(scope="module")
def action_server(trained_model: Path, database_url: str) -> Iterator[Any]:
    from bot.action_server import ActionServer
    from bot.training import prepare_knowledge

    prepare_knowledge(lambda _m: None)
    with ActionServer(env={"DATABASE_URL": database_url}) as server:
        yield server


def pool_config(model: Path, server: Any, database_url: str) -> Any:
    from bot.workers import WorkerConfig

    return WorkerConfig(
        model=str(model), action_server_url=server.url, database_url=database_url,
        redis_url=os.environ.get("REDIS_URL") or None, action_timeout_s=10, log_level="WARNING",
    )


def test_pool_answers_many_chats_and_survives_a_dead_worker(
    trained_model: Path, action_server: Any, database_url: str
) -> None:
    from bot.workers import CoachPool

    async def scenario() -> None:
        async with CoachPool(pool_config(trained_model, action_server, database_url), 2) as pool:
            users = [f"pool-{i}" for i in range(8)]
            assert {pool.worker_for(u).index for u in users} == {0, 1}  # both workers get chats
            first = await asyncio.gather(*(pool.handle(u, "my knee caves in when i squat") for u in users))
            for turn in first:
                assert turn.intent["name"] == "report_fault"
                assert "knee_valgus" in turn.refs["faults"]
                assert turn.replies and all(r.text for r in turn.replies)
            # The same chat's next message goes to the same worker and continues its conversation.
            follow = await pool.handle(users[0], "why does that cue matter?")
            assert follow.replies

            victim = pool.worker_for(users[0])
            old_pid = victim.process.pid
            os.kill(old_pid, signal.SIGSTOP)  # the turn sent now is in the worker's hands...
            stuck = asyncio.ensure_future(pool.handle(users[0], "hi"))
            await asyncio.sleep(0.5)
            os.kill(old_pid, signal.SIGKILL)  # ...when it dies
            with pytest.raises(CoachError, match="exited"):
                await asyncio.wait_for(stuck, 30)
            # Meanwhile the chat is answered by the other worker, then its own worker is back.
            other = await pool.handle(users[0], "hi")
            assert other.intent["name"] == "greet"
            assert pool.worker_for(users[0]) is not victim
            for _ in range(600):
                if victim.ready:
                    break
                await asyncio.sleep(0.2)
            assert victim.ready and victim.process.pid != old_pid
            assert pool.worker_for(users[0]) is victim
            again = await pool.handle(users[0], "my knee caves in when i squat")
            assert "knee_valgus" in again.refs["faults"]
        assert all(pid is None or not _alive(pid) for pid in [old_pid, *pool.pids])

    asyncio.run(scenario())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_pool_of_one_is_refused_and_bad_worker_counts_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import Settings
    from bot.workers import CoachPool

    with pytest.raises(ValueError, match="at least two"):
        CoachPool(None, 1)  # type: ignore[arg-type]
    monkeypatch.setenv("COACH_WORKERS", "0")
    with pytest.raises(CoachError, match="COACH_WORKERS must be a whole number of at least 1"):
        Settings.from_env()
    monkeypatch.setenv("COACH_WORKERS", "3")
    assert Settings.from_env().workers == 3


POOL_FRONT_END = """
import asyncio, json, sys
from bot.workers import CoachPool, WorkerConfig
config = WorkerConfig(**json.loads(sys.argv[1]))
async def main():
    async with CoachPool(config, 2) as pool:
        print(json.dumps(pool.pids), flush=True)
        await asyncio.sleep(600)
asyncio.run(main())
"""


def test_workers_end_with_a_killed_front_end_and_ignore_group_signals(
    trained_model: Path, action_server: Any, database_url: str
) -> None:
    """SIGINT/SIGTERM to the whole group leave the stopping to the front end; a front end
    killed outright takes its workers with it (no orphan holding 750 MiB)."""
    import dataclasses
    import json
    import subprocess
    import sys
    import time

    config = dataclasses.asdict(pool_config(trained_model, action_server, database_url))
    front = subprocess.Popen(
        [sys.executable, "-c", POOL_FRONT_END, json.dumps(config)], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        line = front.stdout.readline() if front.stdout else ""
        pids = json.loads(line)
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        for pid in pids:
            os.kill(pid, signal.SIGINT)
            os.kill(pid, signal.SIGTERM)
        time.sleep(1.0)
        assert all(_alive(p) for p in pids), "a worker stopped on a group signal"
        front.kill()
        front.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in pids), "a worker outlived its front end"
    finally:
        if front.poll() is None:
            front.kill()
