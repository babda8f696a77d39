"""Two per-turn savings in bot.rasa_bridge must not change a conversation: the tracker kept
between turns (instead of re-reading the session from SQL) and the action calls that carry only
this turn's events. The same conversation (onboarding form, questions, a session with its
check-in form, a restart of the coach in the middle) runs through a coach with them and one
without; every answer must be the same."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

CONVERSATION = [
    "/start", "/affirm", "/deny", '/inform{"goal": "back_relief"}', '/inform{"equipment": "none"}',
    '/inform{"experience": "beginner"}', '/inform{"pain": "2"}', "what does pain mean here?",
    '/inform{"pain": "2"}', '/inform{"time": "07:30"}', "Europe/Berlin",
    "my lower back takes over when i do bridges", "why should i keep my pelvis level?",
    "how do i do a glute bridge", "/start_session", "/session_done", "/session_done", "/session_done",
    "/session_done", "/session_done", '/inform{"pain": "3"}', '/inform{"pain": "6"}',
    '/inform{"effort": "about_right"}', "knees cave in wen i squat", "thanks!",
]
RESTART_AFTER = 14  # a new coach process would start with an empty cache here


@pytest.fixture(scope="module")
def server(trained_model: Path, database_url: str) -> Iterator[Any]:
    from bot.action_server import ActionServer
    from bot.training import prepare_knowledge

    prepare_knowledge(lambda _m: None)
    with ActionServer(env={"DATABASE_URL": database_url}) as running:
        yield running


def load(trained_model: Path, server: Any, database_url: str, keep_trackers: bool) -> Any:
    import bot.rasa_bridge as bridge

    original = bridge.tracker_store_for
    bridge.tracker_store_for = lambda url, domain=None: original(url, domain, keep_trackers=keep_trackers)
    try:
        return bridge.RasaCoach.load(trained_model, server.url, database_url)
    finally:
        bridge.tracker_store_for = original


def summary(turn: Any) -> tuple[Any, ...]:
    return (turn.intent["name"], [(r.text, [b.payload for b in r.buttons]) for r in turn.replies],
            {k: sorted(v) if isinstance(v, list) else v for k, v in turn.refs.items()})


def test_conversation_is_the_same_with_and_without_the_savings(
    trained_model: Path, server: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.core.actions.action import RemoteAction

    from bot.rasa_bridge import speed_up_rasa

    speed_up_rasa()
    trimmed_format = RemoteAction._action_call_format

    async def talk(user: str, keep_trackers: bool) -> tuple[list[tuple[Any, ...]], int]:
        coach = load(trained_model, server, database_url, keep_trackers)
        turns, hits = [], 0
        for index, text in enumerate(CONVERSATION):
            if index == RESTART_AFTER:
                hits += _hits(coach)
                coach = load(trained_model, server, database_url, keep_trackers)
            turns.append(summary(await coach.handle(user, text)))
            await same_as_a_read(coach, user, index)
        return turns, hits + _hits(coach)

    # The same person both times (today's session is chosen by person and date), forgotten
    # in between as /delete would.
    with_savings, hits = asyncio.run(talk("cache-compare", keep_trackers=True))
    forget("cache-compare", database_url)
    monkeypatch.setattr(RemoteAction, "_action_call_format", RemoteAction._coach_call_format)
    without, no_hits = asyncio.run(talk("cache-compare", keep_trackers=False))
    monkeypatch.setattr(RemoteAction, "_action_call_format", trimmed_format)

    assert hits >= len(CONVERSATION) - 3 and no_hits == 0  # the kept tracker was really used
    for index, (got, want) in enumerate(zip(with_savings, without)):
        assert got == want, (index, CONVERSATION[index])
    assert any("You're set up" in text for _intent, replies, _refs in with_savings for text, _b in replies)
    assert any("Check-in" in text for _intent, replies, _refs in with_savings for text, _b in replies)


async def same_as_a_read(coach: Any, user: str, index: int) -> None:
    """A kept tracker holds exactly the events a database read gives."""
    from rasa.core.tracker_store import SQLTrackerStore

    from bot.resilience import primary_tracker_store

    store = primary_tracker_store(coach.agent.tracker_store)
    kept = getattr(store, "_kept", {}).get(user)
    if kept is None:
        return
    read = await SQLTrackerStore.retrieve(store, user)

    def stored(tracker: Any) -> Any:  # as the database holds it (JSON: tuples become lists)
        return json.loads(json.dumps([e.as_dict() for e in tracker.events]))

    assert stored(kept[0]) == stored(read), (index, CONVERSATION[index])
    state = json.loads(json.dumps(read.current_state()))
    assert json.loads(json.dumps(kept[0].current_state())) == state, (index, CONVERSATION[index])


def forget(user: str, database_url: str) -> None:
    from sqlalchemy import text as sql

    from knowledge.db import get_engine
    from knowledge.privacy import delete_user

    engine = get_engine(database_url)
    delete_user(engine, user)
    with engine.begin() as conn:
        conn.execute(sql("DELETE FROM events WHERE sender_id = :user"), {"user": user})


def _hits(coach: Any) -> int:
    from bot.resilience import primary_tracker_store

    return getattr(primary_tracker_store(coach.agent.tracker_store), "cache_hits", 0)


def test_a_changed_conversation_is_read_again(trained_model: Path, server: Any, database_url: str) -> None:
    """Another process writing to the conversation, or a failed turn, makes the kept tracker stale."""
    from sqlalchemy import text as sql

    from bot.resilience import primary_tracker_store

    coach = load(trained_model, server, database_url, keep_trackers=True)
    store = primary_tracker_store(coach.agent.tracker_store)

    async def scenario() -> None:
        await coach.handle("stale-1", "hi")
        assert "stale-1" not in store._kept  # a session's first turn holds its start action
        await coach.handle("stale-1", "how do i do a glute bridge")
        kept = store._kept["stale-1"][0]
        assert await store.retrieve("stale-1") is kept  # unchanged: handed back
        await store.save(kept)
        now = time.time()
        event = json.dumps({"event": "slot", "name": "goal", "value": "x", "timestamp": now})
        with store.engine.begin() as conn:  # "another process" adds an event
            conn.execute(sql("INSERT INTO events (sender_id, type_name, timestamp, data) "
                             "VALUES ('stale-1', 'slot', :now, :data)"), {"now": now, "data": event})
        fresh = await store.retrieve("stale-1")
        assert fresh is not kept and fresh.get_slot("goal") == "x"
        await store.save(fresh)
        from rasa.shared.core.events import SlotSet

        fresh.update(SlotSet("goal", "unsaved"))  # a turn that changed it and then failed
        again = await store.retrieve("stale-1")
        assert again is not fresh and again.get_slot("goal") == "x"

    asyncio.run(scenario())
