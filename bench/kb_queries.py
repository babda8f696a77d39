"""Times every knowledge-base query on SQLite and prints a table (min / median / max per call).

    .venv/bin/python bench/kb_queries.py [content_dir] [--runs N]

Uses the real content in knowledge/content when it validates, else the test fixture set. The
database is a temporary SQLite file; nothing under var/ is touched.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge.db import make_engine  # noqa: E402
from knowledge.loader import load  # noqa: E402
from knowledge.queries import KnowledgeBase  # noqa: E402
from knowledge.safety.screen import screen_from_file  # noqa: E402
from knowledge.validate import DEFAULT_CONTENT_DIR, validate  # noqa: E402

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "kb_small"


def timed(call: Callable[[], Any], runs: int) -> list[float]:
    """Microseconds per call, one sample per run."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("content_dir", nargs="?", default=None)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    content_dir = Path(args.content_dir) if args.content_dir else (
        DEFAULT_CONTENT_DIR if validate(DEFAULT_CONTENT_DIR).ok else FIXTURE_DIR)

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'kb.db'}")
        start = time.perf_counter()
        report = load(engine, content_dir)
        load_seconds = time.perf_counter() - start
        if not report.ok:
            print(f"{content_dir}: {len(report.problems)} problem(s); run kb validate", file=sys.stderr)
            return 1
        reload_samples = timed(lambda: load(engine, content_dir), 5)
        kb_samples = timed(lambda: KnowledgeBase.load(engine), 20)
        kb = KnowledgeBase.load(engine)
        engine.dispose()

    fault = kb.faults()[0].id
    exercise = next(e.id for e in kb.exercises() if kb.easier(e.id) and kb.harder(e.id)) if any(
        kb.easier(e.id) and kb.harder(e.id) for e in kb.exercises()) else kb.exercises()[0].id
    # The red-flag screen moved out of KnowledgeBase into knowledge.safety (its own content file).
    red_flags = screen_from_file()
    queries: list[tuple[str, Callable[[], Any]]] = [
        (f"fault({fault!r})", lambda: kb.fault(fault)),
        (f"exercise({exercise!r})", lambda: kb.exercise(exercise)),
        ("references(5 ids)", lambda: kb.references([r for r in kb.fault(fault).sources][:5])),
        ("exercises()", kb.exercises),
        (f"cues_for_fault({fault!r})", lambda: kb.cues_for_fault(fault)),
        (f"exercises_for_fault({fault!r})", lambda: kb.exercises_for_fault(fault)),
        (f"easier({exercise!r})", lambda: kb.easier(exercise)),
        (f"harder({exercise!r})", lambda: kb.harder(exercise)),
        (f"alternatives({exercise!r}, {{'none'}})", lambda: kb.alternatives(exercise, {"none"})),
        (f"alternatives(painful)", lambda: kb.alternatives(exercise, None, painful=True)),
        ("find('clams')", lambda: kb.find("clams")),
        ("find('glute brige')", lambda: kb.find("glute brige")),
        ("find('clamshels')", lambda: kb.find("clamshels")),
        ("find(sentence, 8 words)", lambda: kb.find("how do i do clams with a band")),
        ("find(sentence, 25 words)", lambda: kb.find(
            "yesterday i tried the single leg glute bridge and then some hip thrusts but honestly my lower back "
            "was doing most of the work and my knees kept caving in")),
        ("closest_fault(short)", lambda: kb.closest_fault("my back does the work in bridges")),
        ("closest_fault(25 words)", lambda: kb.closest_fault(
            "yesterday i tried the single leg glute bridge and then some hip thrusts but honestly my lower back "
            "was doing most of the work and my knees kept caving in")),
        ("red-flag screen(benign)", lambda: red_flags.screen("my glutes are sore after training")),
        ("red-flag screen(flag)", lambda: red_flags.screen("i went numb between my legs when i wipe")),
        ("phrasings()", kb.phrasings),
    ]
    print(f"content: {content_dir}  ({sum(1 for _ in kb.all_ids())} ids, fingerprint {kb.fingerprint[:12]})")
    print(f"first load {load_seconds * 1000:.1f} ms; reload (no change) median "
          f"{statistics.median(reload_samples) / 1000:.1f} ms; KnowledgeBase.load median "
          f"{statistics.median(kb_samples) / 1000:.1f} ms")
    print(f"{'query':45} {'min us':>9} {'median us':>10} {'max us':>9}")
    worst = 0.0
    for name, call in queries:
        samples = timed(call, args.runs)
        worst = max(worst, statistics.median(samples))
        print(f"{name[:45]:45} {min(samples):9.1f} {statistics.median(samples):10.1f} {max(samples):9.1f}")
    print(f"slowest median: {worst:.1f} us (budget 5000 us)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
