"""Compare training configurations on a development split (issue 19's table in docs/benchmarks.md).

    python -m bench.train_candidates --config config.yml --config candidate.yml [--out DIR]

The development split is every tenth NLU example of each intent (chosen by a hash of its text,
so the same examples every run) from ``data/nlu.yml`` and the generated ``data/generated/``
file: those are taken out of the training data, each candidate trains on the rest from scratch
(Rasa's cache off) and is scored on them: intent accuracy, entity (type, value) F1, and how
many fell to the fallback. The held-out sets under ``tests/heldout/`` are never read here: they
confirm the chosen configuration once, through the test suite. Prints one JSON line per
candidate and a Markdown table.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NLU_FILES = ["data/nlu.yml", "data/generated/nlu_kb.yml"]
DEV_EVERY = 10


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


def is_dev(text: str) -> bool:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % DEV_EVERY == 0


def split_data(out: Path) -> Path:
    """A copy of ``data/`` without the development examples; returns the dev file's path."""
    data = out / "data"
    shutil.copytree(ROOT / "data", data)
    dev_items = []
    for rel in NLU_FILES:
        doc = yaml.safe_load((ROOT / rel).read_text(encoding="utf-8"))
        for item in doc.get("nlu", []):
            if "intent" not in item or "examples" not in item:
                if isinstance(item.get("examples"), str):
                    item["examples"] = _Literal(item["examples"])
                continue
            raw = item["examples"]
            lines = [str(x) for x in raw] if isinstance(raw, list) else [ln[2:] for ln in raw.splitlines() if ln.startswith("- ")]
            keep = [ln for ln in lines if not is_dev(ln)]
            dev = [ln for ln in lines if is_dev(ln)]
            if not keep:  # an intent with too few examples keeps them all
                keep, dev = lines, []
            item["examples"] = _Literal("".join(f"- {ln}\n" for ln in keep))
            if dev:
                dev_items.append({"intent": item["intent"], "examples": _Literal("".join(f"- {ln}\n" for ln in dev))})
        (data / rel.split("/", 1)[1]).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    dev_file = out / "dev.yml"
    dev_file.write_text(yaml.safe_dump({"version": "3.1", "nlu": dev_items}, sort_keys=False, allow_unicode=True),
                        encoding="utf-8")
    return dev_file


def train(config: Path, data: Path, out: Path) -> tuple[float, Path]:
    """Train in a child process (its own memory, Rasa's cache off); returns seconds and model."""
    env = dict(os.environ, RASA_MAX_CACHE_SIZE="0", RASA_CACHE_DIRECTORY=str(out / "cache"), LOG_LEVEL="WARNING")
    code = (
        "import sys, bot.settings; bot.settings.quiet_terminal();"
        "from rasa.model_training import train;"
        f"r = train(domain='domain.yml', config={str(config)!r}, training_files=[{str(data)!r}],"
        f" output={str(out)!r}, fixed_model_name='candidate', force_training=True);"
        "sys.exit(r.code)"
    )
    started = time.monotonic()
    with open(out / "train.log", "w") as log:
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, stdout=log, stderr=log)
    return time.monotonic() - started, out / "candidate.tar.gz"


def evaluate(model: Path, dev_file: Path) -> dict[str, float]:
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.rasa_bridge import quiet_structlog

    quiet_structlog()
    agent = Agent.load(str(model))
    examples = load_data(str(dev_file)).intent_examples
    right = fallback = tp = fp = fn = 0
    for message in examples:
        parsed = asyncio.run(agent.parse_message(message.get("text")))
        name = parsed["intent"]["name"]
        right += name == message.get("intent")
        fallback += name == "nlu_fallback"
        want = {(e["entity"], str(e.get("value"))) for e in message.get("entities", [])}
        got = {(e["entity"], str(e.get("value"))) for e in parsed.get("entities", []) if e["entity"] in {w[0] for w in want} or e.get("extractor") == "DIETClassifier"}
        tp += len(want & got)
        fp += len(got - want)
        fn += len(want - got)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"dev_examples": len(examples), "intent_acc": round(right / len(examples), 4),
            "entity_f1": round(f1, 4), "fallbacks": fallback}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True, help="a Rasa config file (repeat)")
    parser.add_argument("--out", help="working folder (default: a temporary one)")
    args = parser.parse_args(argv)
    import bot.settings

    bot.settings.quiet_terminal()
    out = Path(args.out or tempfile.mkdtemp(prefix="candidates-")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    split = out / "split"
    if split.exists():
        shutil.rmtree(split)
    split.mkdir()
    dev_file = split_data(split)
    rows = []
    for config in args.config:
        work = out / Path(config).stem
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        seconds, model = train(Path(config).resolve(), split / "data", work)
        scores = evaluate(model, dev_file)
        row = {"config": config, "train_s": round(seconds, 1), "model_mib": round(model.stat().st_size / 2**20, 1), **scores}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("\n| config | train s | model MiB | intent acc | entity F1 | fallbacks |\n|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['config']} | {r['train_s']} | {r['model_mib']} | {r['intent_acc']:.1%} | {r['entity_f1']:.3f} | {r['fallbacks']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
