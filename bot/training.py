"""Train the Rasa model only when its inputs changed.

Inputs are ``config.yml``, ``domain.yml``, ``data/`` (hand-written), the knowledge-base content
and the code that turns content into training data. Their hash (the fingerprint) names the model
file, so an up-to-date model is found without training, and a stale one is never used.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import bot.settings  # noqa: F401  (quiet Rasa before it is imported)
from bot.errors import CoachError
from bot.settings import MODELS_DIR, SPACY_PIPELINE_DIR
from knowledge.db import PROJECT_ROOT

log = logging.getLogger(__name__)

FINGERPRINT_INPUTS = [
    "config.yml",
    "domain.yml",
    "data/**/*.yml",
    "knowledge/content/*.yaml",
    "bot/nlu_data.py",
    "bot/nlu_components.py",
]
# Content the model does not learn from: the red-flag screen is read from the knowledge base at
# run time (bot/safety_gate.py), so a reviewer's change to it needs a `kb load`, not a retrain.
NOT_TRAINED_ON = {"knowledge/content/safety_screen.yaml", "knowledge/content/safety_examples.yaml"}
KEEP_MODELS = 3


def fingerprint() -> str:
    import rasa

    digest = hashlib.sha256(f"rasa={rasa.__version__}\n".encode())
    files: set[Path] = set()
    for pattern in FINGERPRINT_INPUTS:
        files.update(p for p in PROJECT_ROOT.glob(pattern)
                     if "generated" not in p.parts and str(p.relative_to(PROJECT_ROOT)) not in NOT_TRAINED_ON)
    for path in sorted(files):
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def model_path_for(fp: str) -> Path:
    return MODELS_DIR / f"coach-{fp[:16]}.tar.gz"


def current_model() -> Path | None:
    """The model trained from the current inputs, or None when it is missing or stale."""
    path = model_path_for(fingerprint())
    return path if path.exists() else None


def prepare_knowledge(progress: Callable[[str], None] = print):
    """Load the knowledge base into the database (idempotent) and return it."""
    from knowledge.db import create_all, get_engine
    from knowledge.loader import load
    from knowledge.queries import KnowledgeBase

    engine = get_engine()
    create_all(engine)
    report = load(engine)
    if not report.ok:
        raise CoachError(
            f"the knowledge base has {len(report.problems)} problem(s); run 'python -m bot kb validate' to list them"
        )
    return KnowledgeBase.load(engine)


def generate_training_data(progress: Callable[[str], None] = print) -> dict[str, int]:
    from bot.nlu_data import generate

    kb = prepare_knowledge(progress)
    return generate(kb, SPACY_PIPELINE_DIR)


def ensure_spacy_pipeline() -> None:
    """The spaCy pipeline lives under var/ (built, not committed): rebuild it when missing."""
    if not (SPACY_PIPELINE_DIR / "config.cfg").exists():
        generate_training_data(progress=lambda _m: None)


def train(force: bool = False, progress: Callable[[str], None] = print) -> Path:
    """Train when stale (or ``force``); return the model path."""
    with training_lock(progress):
        return _train(force, progress)


def _train(force: bool, progress: Callable[[str], None]) -> Path:
    progress("[1/3] Loading the knowledge base and generating training data…")
    counts = generate_training_data(progress)
    progress("      " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    fp = fingerprint()
    target = model_path_for(fp)
    if target.exists() and not force:
        progress(f"[3/3] Model is up to date: {target}")
        return target

    progress("[2/3] Training the Rasa model (a few minutes on 2 cores; DIET shows its epochs)…")
    started = time.monotonic()
    result = train_rasa(MODELS_DIR, target.name[: -len(".tar.gz")])
    if result.code != 0 or not result.model or not Path(result.model).exists():
        raise CoachError(f"training failed (Rasa exit code {result.code}); see the messages above")
    _prune_old_models(keep=target)
    progress(f"[3/3] Model trained in {time.monotonic() - started:.0f}s: {target}")
    return target


def train_rasa(output: Path, model_name: str) -> Any:
    """Rasa's training on the project's config, domain and data; returns Rasa's result."""
    from rasa.model_training import train as rasa_train

    output.mkdir(parents=True, exist_ok=True)
    # Rasa prints its own progress to stdout; stdout belongs to the command (say's JSON lines).
    with contextlib.redirect_stdout(sys.stderr):
        return rasa_train(
            domain=str(PROJECT_ROOT / "domain.yml"),
            config=str(PROJECT_ROOT / "config.yml"),
            training_files=[str(PROJECT_ROOT / "data")],
            output=str(output),
            fixed_model_name=model_name,
            force_training=True,
        )


def _prune_old_models(keep: Path) -> None:
    models = sorted(MODELS_DIR.glob("coach-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in models if m != keep][KEEP_MODELS - 1 :]:
        old.unlink(missing_ok=True)


def model_for_run(progress: Callable[[str], None] = print) -> Path:
    """The up-to-date model, training first when the inputs changed."""
    path = current_model()
    if path is None:
        with training_lock(progress):
            # Another process may have trained it while we waited for the lock.
            path = current_model() or _train(False, progress)
    ensure_spacy_pipeline()
    return path


@contextlib.contextmanager
def training_lock(progress: Callable[[str], None] = print) -> Iterator[None]:
    """One training at a time per project: two processes that find the model stale (two test
    runs, the bot and a benchmark) must not train the same file side by side."""
    import fcntl

    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    with open(MODELS_DIR / ".training.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("Another process is training the model; waiting for it…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
