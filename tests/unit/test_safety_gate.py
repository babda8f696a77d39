"""The delivery side of the safety path: a stop that cannot be recorded still gives the advice,
and the failure is loud (an error with the correlation id, a red health check)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import health
from bot.logging_setup import correlation
from bot.safety_gate import SafetyGate, red_flag_parse, without_red_flag
from knowledge.db import create_all, make_engine
from knowledge.loader import load
from knowledge.safety import triage as safety


@pytest.fixture()
def engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    create_all(engine)
    load(engine)
    yield engine
    engine.dispose()


def test_a_stop_that_cannot_be_recorded_still_stops_and_turns_health_red(
        engine, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = SafetyGate(engine)
    gate.marker_path = tmp_path / "safety-record-failed.json"
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE safety_events"))  # the record cannot be written
    with caplog.at_level(logging.ERROR), correlation("cid-123", user="u1"):
        decision = gate.decide("u1", "I wet myself this morning and my back is killing me", None)
    assert decision.action == safety.STOP and decision.flag_id == "cauda_equina"
    assert any("could not record a red-flag stop" in r.getMessage() and r.exc_info for r in caplog.records)
    marker = json.loads(gate.marker_path.read_text(encoding="utf-8"))
    assert marker["correlation_id"] == "cid-123" and marker["flag_id"] == "cauda_equina"
    assert "wet" not in gate.marker_path.read_text(encoding="utf-8")  # never the message

    monkeypatch.setattr("knowledge.safety.records.failure_marker_path", lambda: gate.marker_path)
    settings = type("S", (), {"database_url": str(engine.url)})()
    with pytest.raises(health.CheckFailed, match="could not be recorded.*cid-123"):
        health.check_safety(settings)


def test_other_failures_are_not_hidden(engine) -> None:
    gate = SafetyGate(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE safety_checks"))
    with pytest.raises(Exception):
        gate.decide("u2", "how do i do a glute bridge", "ask_howto")


def test_the_classifier_guess_is_taken_out_of_the_parse() -> None:
    parse = {"text": "x", "intent": {"name": "red_flag", "confidence": 0.9},
             "intent_ranking": [{"name": "red_flag", "confidence": 0.9}, {"name": "report_soreness", "confidence": 0.06}],
             "entities": [{"entity": "red_flag", "value": "cancer"}, {"entity": "exercise", "value": "clamshell"}]}
    plain = without_red_flag(parse)
    assert plain["intent"]["name"] == "nlu_fallback"  # the next guess is too weak
    assert [e["entity"] for e in plain["entities"]] == ["exercise"]
    strong = without_red_flag({**parse, "intent_ranking": [{"name": "red_flag", "confidence": 0.4}, {"name": "greet", "confidence": 0.55}]})
    assert strong["intent"] == {"name": "greet", "confidence": 0.55}
    stop = red_flag_parse("x", "infection")
    assert stop["intent"]["name"] == "red_flag" and stop["entities"] == [
        {"entity": "red_flag", "value": "infection", "start": 0, "end": 0, "extractor": "SafetyScreen"}]


async def test_when_the_conversation_cannot_answer_a_stop_the_gate_gives_the_advice(
        engine, caplog: pytest.LogCaptureFixture) -> None:
    from pathlib import Path as _Path

    from bot.rasa_bridge import RasaCoach

    coach = RasaCoach(agent=None, chart_dir=_Path("/nonexistent"), gate=SafetyGate(engine))

    async def broken(*_args: object) -> object:
        raise ConnectionError("the action server is down")

    coach._rasa_turn = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        turn = await coach._stop_turn("u3", "I wet myself this morning", None, "cauda_equina")
    assert turn.refs["red_flag"] is True and turn.refs["red_flag_id"] == "cauda_equina"
    assert any("emergency department" in r.text for r in turn.replies)
    assert any("could not answer a red flag" in r.getMessage() and r.exc_info for r in caplog.records)
