"""The foundation: a model trains, ``say`` turns lines into JSON lines, the action server starts
and answers, and a conversation survives a restart."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from bot.action_server import ActionServer, is_healthy
from bot.say import parse_line
from bot.training import current_model, fingerprint
from tests.say_runner import run_say

pytestmark = pytest.mark.slow

TURN_KEYS = {"user", "text", "intent", "entities", "replies", "refs"}


def test_model_trains_and_is_found_by_fingerprint(trained_model: Path) -> None:
    assert trained_model.exists() and trained_model.stat().st_size > 100_000
    assert fingerprint()[:16] in trained_model.name
    assert current_model() == trained_model


def test_fingerprint_changes_with_the_knowledge_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.training as training

    before = fingerprint()
    content = training.PROJECT_ROOT / "knowledge" / "content" / "vocabulary.yaml"
    original = content.read_bytes()
    try:
        content.write_bytes(original + b"\n# touched by a test\n")
        assert fingerprint() != before
    finally:
        content.write_bytes(original)
    assert fingerprint() == before


@pytest.mark.parametrize(
    "line, expected",
    [
        ("hi there", ("cli", "hi there")),
        ('{"user": "u1", "text": "hello"}', ("u1", "hello")),
        ('{"user": 42, "text": "hello"}', ("42", "hello")),
    ],
)
def test_parse_line_accepts_text_and_json(line: str, expected: tuple[str, str]) -> None:
    assert parse_line(line, "cli") == expected


@pytest.mark.parametrize("line", ['{"user": "u1", "text": ', '{"user": "u1"}', '{"user": "", "text": "x"}', '{"text": 5}'])
def test_parse_line_rejects_bad_json(line: str) -> None:
    with pytest.raises(ValueError):
        parse_line(line, "cli")


def test_say_prints_one_json_line_per_message_and_survives_bad_lines(trained_model: Path) -> None:
    lines = ["hi", '{"user": "say-json", "text": "how do i do clams"}', '{"user": broken', "why keep my pelvis level?"]
    outputs, proc = run_say(lines, user="say-plain")
    assert len(outputs) == 4, proc.stderr[-2000:]
    first, second, error, fourth = outputs
    for turn in (first, second, fourth):
        assert TURN_KEYS <= set(turn)
        assert set(turn["intent"]) == {"name", "confidence"}
        assert set(turn["refs"]) >= {"faults", "cues", "exercises", "red_flag"}
        assert turn["replies"], turn
        for reply in turn["replies"]:
            assert {"text", "buttons", "image"} <= set(reply)
    assert first["user"] == "say-plain" and first["intent"]["name"] == "greet"
    assert second["user"] == "say-json" and "clamshell" in second["refs"]["exercises"]
    assert error["line"] == 3 and "malformed JSON" in error["error"]
    assert "pelvis_level" in fourth["refs"]["cues"]
    assert proc.returncode == 1  # one line failed


def test_action_server_starts_answers_and_stops() -> None:
    server = ActionServer().start()
    try:
        assert is_healthy(server.url)
        request = {
            "next_action": "action_why_cue",
            "sender_id": "action-test",
            "tracker": {
                "sender_id": "action-test",
                "slots": {},
                "latest_message": {
                    "text": "why knees out?",
                    "intent": {"name": "ask_why_cue", "confidence": 1.0},
                    "entities": [{"entity": "cue", "value": "push_knees_out"}],
                },
                "events": [],
                "paused": False,
                "followup_action": None,
                "active_loop": {},
                "latest_action_name": "action_listen",
            },
            "domain": {},
            "version": "3.6.2",
        }
        req = urllib.request.Request(server.url, data=json.dumps(request).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as response:
            body = json.loads(response.read())
        texts = [r.get("text") or "" for r in body["responses"]]
        refs = [r["custom"]["kb_refs"] for r in body["responses"] if r.get("custom")]
        assert any("Why:" in t for t in texts)
        assert refs and refs[0]["cues"] == ["push_knees_out"]
    finally:
        server.stop()
    assert not is_healthy(server.url)


async def test_conversation_survives_a_restart(trained_model: Path, database_url: str) -> None:
    from bot.rasa_bridge import RasaCoach
    from bot.training import prepare_knowledge

    prepare_knowledge(lambda _m: None)
    user = "restart-test"
    with ActionServer() as server:
        first = RasaCoach.load(trained_model, server.url, database_url)
        turn = await first.handle(user, "how do i do a glute bridge")
        assert "glute_bridge" in turn.refs["exercises"]
        del first
        # A new agent, as after a restart: the tracker (and the exercise slot) come from the database.
        second = RasaCoach.load(trained_model, server.url, database_url)
        tracker = await second.agent.tracker_store.retrieve(user)
        assert tracker is not None
        assert any(getattr(e, "text", None) == "how do i do a glute bridge" for e in tracker.events)
        follow_up = await second.handle(user, "is there an easier version?")
        assert follow_up.intent["name"] == "ask_easier"
        assert follow_up.refs["exercises"], follow_up
        assert follow_up.refs["exercises"][0] != "glute_bridge" or "easiest" in follow_up.replies[0].text


def test_run_without_a_token_opens_a_terminal_conversation_that_answers_hi(trained_model: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--user", "chat-test"],
        input="hi\n/quit\n", capture_output=True, text=True, env=env, timeout=600,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "TELEGRAM_BOT_TOKEN is not set" in proc.stderr
    reply = proc.stdout.split("coach>", 1)[1]
    assert "glute coach" in reply.lower() and "[1] Get started" in reply
