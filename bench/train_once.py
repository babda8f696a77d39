"""Train the model from scratch into a temporary folder and report the time (bench part 3).

Runs as its own process (``python -m bench.train_once --out DIR``) so that its memory is its own:
the knowledge base goes into a fresh SQLite file under DIR, the NLU data and the spaCy pipeline
are generated again, and Rasa trains with its training cache off (``RASA_MAX_CACHE_SIZE=0``,
cache folder under DIR), so nothing from an earlier training is reused. The model file lands in
DIR, never in ``models/``. Prints one JSON line: the seconds of each step.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="a folder for the database, cache and model")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{out / 'train.db'}"
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    os.environ["RASA_CACHE_DIRECTORY"] = str(out / "rasa-cache")
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"

    started = time.monotonic()
    from bot.rasa_bridge import quiet_structlog
    from bot.training import generate_training_data, train_rasa

    quiet_structlog()
    data_started = time.monotonic()
    generate_training_data(progress=lambda _m: None)
    data_s = time.monotonic() - data_started

    train_started = time.monotonic()
    result = train_rasa(out, "bench-model")
    rasa_s = time.monotonic() - train_started
    ok = result.code == 0 and bool(result.model) and Path(result.model).exists()
    print(json.dumps({
        "ok": ok,
        "seconds": round(time.monotonic() - started, 1),
        "generate_data_s": round(data_s, 1),
        "rasa_train_s": round(rasa_s, 1),
        "model_mib": round(Path(result.model).stat().st_size / 2**20, 1) if ok else None,
    }))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
