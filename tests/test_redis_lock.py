"""Several bot processes, one conversation: Rasa's RedisLockStore (built by
``bot.rasa_bridge.lock_store_for(REDIS_URL)``) serializes its messages.

Two ``RasaCoach`` agents stand for two bot processes behind a load balancer: each has its own
lock store object, and they share only Redis and the tracker store (the database under test).
Needs ``REDIS_URL`` (``eval "$(scripts/services.sh redis)"``): skipped without it locally, FAILS
when CI=true.
"""
from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def redis_url_or_skip() -> str:
    """``REDIS_URL`` if that server answers. Unset or unreachable: skip locally, FAIL in CI."""
    import redis

    url = os.environ.get("REDIS_URL")
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if not url:
        if in_ci:
            pytest.fail("REDIS_URL is not set in CI: run scripts/services.sh redis")
        pytest.skip("REDIS_URL not set (scripts/services.sh redis prints it)")
    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the same here
        if in_ci:
            pytest.fail(f"Redis at REDIS_URL is unreachable in CI: {type(exc).__name__}")
        pytest.skip(f"Redis at REDIS_URL is unreachable: {type(exc).__name__}")
    return url


@pytest.fixture(scope="module")
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture(scope="module")
def action_server_url(database_url: str):
    from bot.action_server import ActionServer
    from bot.training import prepare_knowledge

    prepare_knowledge(lambda _m: None)
    with ActionServer(env={"DATABASE_URL": database_url}) as server:
        yield server.url


@pytest.fixture(scope="module")
def two_bot_processes(trained_model: Path, action_server_url: str, database_url: str, redis_url: str) -> tuple[Any, Any]:
    """Two coaches that share only Redis and the database, as two bot processes do.

    Loading a model takes a minute on a busy machine, so the second one reuses the first one's
    loaded model (the graph: read-only at prediction time) and gets everything that holds
    state of its own: a lock store (``lock_store_for``, its own Redis connection), a tracker
    store (its own engine) and the agent and processor objects around them."""
    import copy

    from bot.rasa_bridge import RasaCoach, lock_store_for, tracker_store_for

    first = RasaCoach.load(trained_model, action_server_url, database_url, redis_url=redis_url)
    agent = copy.copy(first.agent)
    agent.lock_store = lock_store_for(redis_url)
    agent.tracker_store = tracker_store_for(database_url, domain=first.agent.domain)
    agent.processor = copy.copy(first.agent.processor)
    agent.processor.lock_store = agent.lock_store
    agent.processor.tracker_store = agent.tracker_store
    second = RasaCoach(agent, first.chart_dir)
    return first, second


def conversation(tracker: Any) -> list[tuple[str, str]]:
    """The user messages and the returns to listening, in stored order, from the first message on."""
    from rasa.shared.core.events import ActionExecuted, UserUttered

    steps: list[tuple[str, str]] = []
    for event in tracker.events:
        if isinstance(event, UserUttered):
            steps.append(("user", event.text))
        elif isinstance(event, ActionExecuted) and event.action_name == "action_listen" and steps:
            steps.append(("listen", ""))
    return steps


async def test_both_processes_use_redis_and_concurrent_messages_never_interleave(
    two_bot_processes: tuple[Any, Any]
) -> None:
    from rasa.core.lock_store import RedisLockStore

    first, second = two_bot_processes
    assert isinstance(first.agent.lock_store, RedisLockStore)
    assert isinstance(second.agent.lock_store, RedisLockStore)
    assert first.agent.lock_store is not second.agent.lock_store
    assert first.agent.lock_store.red is not second.agent.lock_store.red
    assert first.agent.processor.tracker_store is not second.agent.processor.tracker_store
    user = f"lock-{uuid.uuid4().hex[:12]}"
    messages = [
        "how do i do a glute bridge",
        "is there an easier version?",
        "my lower back is doing the work",
        "what cue should i use for hip thrusts",
        "how do i do a clamshell",
        "thanks",
    ]
    # Alternate the processes, all at once: without the shared lock both would read the same
    # tracker, and their saves would mix or drop each other's events.
    coaches = [first, second]
    turns = await asyncio.gather(*(coaches[i % 2].handle(user, text) for i, text in enumerate(messages)))
    assert all(turn.replies for turn in turns), [t.text for t in turns if not t.replies]

    tracker = await first.agent.tracker_store.retrieve(user)
    steps = conversation(tracker)
    users = [text for kind, text in steps if kind == "user"]
    assert sorted(users) == sorted(messages)  # each message once: nothing lost, nothing doubled
    # Every message was answered to the end (back to listening) before the next one was read.
    assert [kind for kind, _ in steps] == ["user", "listen"] * len(messages), steps
    # And the lock is gone once nobody holds or waits for it.
    assert first.agent.lock_store.get_lock(user) is None


async def test_a_conversation_locked_by_another_process_waits_for_it(
    two_bot_processes: tuple[Any, Any], redis_url: str
) -> None:
    from bot.rasa_bridge import lock_store_for

    first, second = two_bot_processes
    user = f"lock-{uuid.uuid4().hex[:12]}"
    await first.handle(user, "hello")
    stored_before = len((await first.agent.tracker_store.retrieve(user)).events)

    other_process = lock_store_for(redis_url)  # a third process, in the middle of this conversation
    held = other_process.issue_ticket(user)
    task = asyncio.create_task(second.handle(user, "how do i do a glute bridge"))
    # Wait (on Redis, not the clock) until the second process has queued behind the held ticket.
    for _ in range(10_000):
        lock = other_process.get_lock(user)
        if lock is not None and len(lock.tickets) >= 2:
            break
        assert not task.done(), "the message was handled while another process held the conversation"
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the second process never asked Redis for the conversation's lock")
    # However long it is given, it may not go ahead while the ticket is held.
    done, _ = await asyncio.wait({task}, timeout=2)
    assert not done, "the message was handled while another process held the conversation"
    assert len((await first.agent.tracker_store.retrieve(user)).events) == stored_before

    other_process.cleanup(user, held)
    turn = await task
    assert "glute_bridge" in turn.refs["exercises"]
    steps = conversation(await first.agent.tracker_store.retrieve(user))
    assert [text for kind, text in steps if kind == "user"] == ["hello", "how do i do a glute bridge"]
    assert other_process.get_lock(user) is None
