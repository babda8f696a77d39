"""The bot loads DIET without tracing a training graph (bot.rasa_bridge); it must predict exactly
what Rasa's own load predicts. Both loads parse every held-out utterance; the rankings and
entities must match."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter, where nothing has patched Rasa: Rasa's own model load.
PARSE_WITH_RASA_LOAD = """
import asyncio, json, sys
import bot.settings
from bot.rasa_bridge import quiet_structlog
quiet_structlog()
from rasa.core.agent import Agent
from rasa.utils.tensorflow.models import RasaModel
assert not hasattr(RasaModel, "_coach_rasa_load")
from tests.test_fast_model_load import parse_all
agent = Agent.load(sys.argv[1])
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump(asyncio.run(parse_all(agent, json.load(sys.stdin))), out)
"""


def heldout_texts() -> list[str]:
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name in ("utterances.yaml", "utterances_b.yaml"):
        walk(yaml.safe_load((ROOT / "tests" / "heldout" / name).read_text(encoding="utf-8")))
    return texts


async def parse_all(agent: Any, texts: list[str]) -> list[dict[str, Any]]:
    results = []
    for text in texts:
        parse = await agent.parse_message(text)
        results.append({
            "text": text,
            "ranking": [[r["name"], r["confidence"]] for r in parse.get("intent_ranking", [])],
            "entities": sorted(
                [e["entity"], str(e["value"]), e.get("extractor"), e.get("confidence_entity")]
                for e in parse.get("entities", [])
            ),
        })
    return results


def test_fast_load_predicts_what_rasas_load_predicts(
    trained_model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rasa.core.agent import Agent
    from rasa.utils.tensorflow.models import RasaModel

    from bot.rasa_bridge import load_tf_models_without_training_graph, quiet_structlog

    texts = heldout_texts()
    assert len(texts) > 300
    # The answers go to a file: on stdout, a line another thread printed could land inside the
    # 100 kB JSON line (seen once: "Unterminated string ... column 65534").
    answers = tmp_path / "rasa_side.json"
    rasa_side = subprocess.run(
        [sys.executable, "-c", PARSE_WITH_RASA_LOAD, str(trained_model), str(answers)],
        input=json.dumps(texts), capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert rasa_side.returncode == 0, rasa_side.stderr[-2000:]
    expected = json.loads(answers.read_text(encoding="utf-8"))

    quiet_structlog()
    load_tf_models_without_training_graph()

    def no_training(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the fast load must not run a training step")

    monkeypatch.setattr(RasaModel, "fit", no_training)
    agent = Agent.load(str(trained_model))
    actual = asyncio.run(parse_all(agent, texts))

    assert [a["text"] for a in actual] == [e["text"] for e in expected]
    for got, want in zip(actual, expected):
        assert [name for name, _ in got["ranking"]] == [name for name, _ in want["ranking"]], got["text"]
        for (_, got_conf), (_, want_conf) in zip(got["ranking"], want["ranking"]):
            assert got_conf == pytest.approx(want_conf, abs=1e-5), got["text"]
        assert got["entities"] == want["entities"], got["text"]
