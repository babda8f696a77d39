"""Train the Rasa model only when its inputs changed, quietly.

Inputs are ``config.yml``, ``domain.yml``, ``data/`` (hand-written), the knowledge-base content
and the code that turns content into training data. Their hash (the fingerprint) names the model
file, so an up-to-date model is found without training, and a stale one is never used. The
fingerprint is read from the files alone (Rasa's version from the package metadata): checking
that the model is up to date imports neither Rasa nor the knowledge base, and generates nothing.

Beside each model, ``coach-<fp>.inputs.json`` records the hash of every input and how long the
training took: the next training says which inputs changed since, and its progress line
estimates the time left from it. Rasa's own output (warnings, progress bars, banners) goes to
``var/log/train.log`` unless ``LOG_LEVEL=DEBUG`` or ``COACH_VERBOSE=1``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

import bot.settings  # noqa: F401  (quiet Rasa before it is imported)
from bot import terminal
from bot.errors import CoachError
from bot.settings import MODELS_DIR, SPACY_PIPELINE_DIR
from knowledge.db import PROJECT_ROOT, VAR_DIR

log = logging.getLogger(__name__)

FINGERPRINT_INPUTS = [
    "config.yml",
    "domain.yml",
    "data/**/*.yml",
    "knowledge/content/*.yaml",
    "bot/nlu_data.py",
    "bot/nlu_components.py",
    "knowledge/english.py",  # the normal form the KB-item classifiers train on
]
# Content the model does not learn from: the red-flag screen is read from the knowledge base at
# run time (bot/safety_gate.py), so a reviewer's change to it needs a `kb load`, not a retrain.
NOT_TRAINED_ON = {"knowledge/content/safety_screen.yaml", "knowledge/content/safety_examples.yaml"}
KEEP_MODELS = 3
# The progress line's estimate when no model was trained here before (2 cores, docs/benchmarks.md).
FIRST_TRAINING_ESTIMATE_S = 240.0
TRAIN_LOG = VAR_DIR / "log" / "train.log"


@dataclass(frozen=True)
class Project:
    """What is trained: the coach itself, or another Rasa project folder (a test fixture)."""

    root: Path
    models_dir: Path
    from_knowledge_base: bool  # generate NLU data and the spaCy pipeline from knowledge/content

    @classmethod
    def coach(cls) -> "Project":
        return cls(PROJECT_ROOT, MODELS_DIR, True)

    @classmethod
    def folder(cls, root: Path) -> "Project":
        root = root.resolve()
        if not (root / "config.yml").exists() or not (root / "domain.yml").exists():
            raise CoachError(f"{root} has no config.yml and domain.yml: not a Rasa project folder")
        return cls(root, root / "models", False)


def _project(project: Project | None) -> Project:
    # Read MODELS_DIR at call time: tests point it elsewhere.
    return project or Project.coach()


def rasa_version() -> str:
    try:
        return metadata.version("rasa")
    except metadata.PackageNotFoundError:
        return "not installed"


def input_hashes(project: Project | None = None) -> dict[str, str]:
    """Every training input (path relative to the project) and the hash of its bytes."""
    project = _project(project)
    files: dict[str, Path] = {}
    for pattern in FINGERPRINT_INPUTS:
        for path in project.root.glob(pattern):
            rel = path.relative_to(project.root)
            # What training writes (data/generated/, models/) is output, not input.
            if path.is_file() and not {"generated", "models"} & set(rel.parts) and str(rel) not in NOT_TRAINED_ON:
                files[str(rel)] = path
    return {rel: hashlib.sha256(files[rel].read_bytes()).hexdigest() for rel in sorted(files)}


def fingerprint(project: Project | None = None, hashes: dict[str, str] | None = None) -> str:
    hashes = input_hashes(project) if hashes is None else hashes
    digest = hashlib.sha256(f"rasa={rasa_version()}\n".encode())
    for path, value in hashes.items():
        digest.update(f"{path}\0{value}\n".encode())
    return digest.hexdigest()


# Prefix of an archive Rasa is still writing (see _train); never matches "coach-*.tar.gz".
PARTIAL_PREFIX = "partial-"


def model_path_for(fp: str, project: Project | None = None) -> Path:
    return _project(project).models_dir / f"coach-{fp[:16]}.tar.gz"


def manifest_path(model: Path) -> Path:
    return model.with_name(model.name[: -len(".tar.gz")] + ".inputs.json")


def current_model(project: Project | None = None) -> Path | None:
    """The model trained from the current inputs, or None when it is missing or stale."""
    path = model_path_for(fingerprint(project), project)
    return path if path.exists() else None


def latest_manifest(project: Project | None = None) -> dict[str, Any] | None:
    """The record of the newest model that has one, or None."""
    project = _project(project)
    manifests = sorted(project.models_dir.glob("coach-*.inputs.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in manifests:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # a broken record only costs the change list
            log.warning("unreadable model record %s: %s", path, exc)
    return None


def describe_changes(hashes: dict[str, str], previous: dict[str, Any] | None) -> str:
    """Why a training is needed, in one line."""
    if previous is None:
        return "No earlier model here: training from scratch."
    before: dict[str, str] = previous.get("inputs", {})
    changed = sorted(p for p in hashes if p in before and before[p] != hashes[p])
    added = sorted(p for p in hashes if p not in before)
    removed = sorted(p for p in before if p not in hashes)
    parts = [f"changed {p}" for p in changed] + [f"new {p}" for p in added] + [f"removed {p}" for p in removed]
    if previous.get("rasa") and previous.get("rasa") != rasa_version():
        parts.insert(0, f"Rasa {previous.get('rasa')} → {rasa_version()}")
    if not parts:
        return "Inputs are the same as the last model's, but its file is missing: training again."
    shown = ", ".join(parts[:4]) + (f" and {len(parts) - 4} more" if len(parts) > 4 else "")
    return f"Changed since the last model: {shown}."


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


def train(force: bool = False, progress: Callable[[str], None] = print, project: Project | None = None) -> Path:
    """Train when stale (or ``force``); return the model path. The up-to-date check comes first
    and costs a hash of the input files."""
    project = _project(project)
    target = model_path_for(fingerprint(project), project)
    if target.exists() and not force:
        progress(f"Model is up to date: {_shown(target)}")
        return target
    with training_lock(progress, project):
        return _train(force, progress, project)


def _train(force: bool, progress: Callable[[str], None], project: Project) -> Path:
    hashes = input_hashes(project)  # again: the inputs may have changed while we waited for the lock
    fp = fingerprint(project, hashes)
    target = model_path_for(fp, project)
    if target.exists() and not force:  # trained by another process while we waited
        progress(f"Model is up to date: {_shown(target)}")
        return target
    previous = latest_manifest(project)
    progress("Inputs are unchanged; training again as asked (--force)." if force and target.exists()
             else describe_changes(hashes, previous))
    # Rasa's training cache (.rasa/cache) keeps each step's output under a fingerprint of its
    # configuration and data, so a changed response or rule retrains only the dialogue policies.
    # It cannot see our own code (the components, the normal form they train on): a change
    # to any Python input (or --force) trains everything.
    before = previous.get("inputs", {}) if previous else {}
    full = force or previous is None or any(
        path.endswith(".py") and before.get(path) != value for path, value in hashes.items())
    if not full:
        progress("Rasa reuses the steps whose inputs did not change (its cache in .rasa/cache).")
    steps = 3 if project.from_knowledge_base else 2
    step = 1
    if project.from_knowledge_base:
        progress(f"[{step}/{steps}] Loading the knowledge base and generating training data…")
        counts = generate_training_data(progress)
        log.info("generated NLU examples: %s", counts)
        step += 1
    expected = float(previous.get("seconds", FIRST_TRAINING_ESTIMATE_S)) if previous else FIRST_TRAINING_ESTIMATE_S
    shown_log = _shown(TRAIN_LOG)
    progress(f"[{step}/{steps}] Training the Rasa model (about {terminal.format_duration(expected)}; "
             f"Rasa's output goes to {shown_log})…")
    # Rasa writes the archive under a partial name that is renamed only once complete: a
    # training killed half-way (Ctrl+C, SIGKILL, a timeout) must not leave a truncated file under
    # the model's own name, which every later command would take for the up-to-date model.
    for leftover in project.models_dir.glob(f"{PARTIAL_PREFIX}*"):  # we hold the training lock
        leftover.unlink(missing_ok=True)
    partial = target.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{target.name}")
    started = time.monotonic()
    try:
        result = _train_logged(project, partial, progress, expected, full)
        if result.code != 0 or not result.model or not Path(result.model).exists():
            raise CoachError(f"training failed (Rasa exit code {result.code}); the reason is at the end of {shown_log}")
        os.replace(result.model, target)
    finally:
        partial.unlink(missing_ok=True)
    seconds = time.monotonic() - started
    manifest_path(target).write_text(json.dumps(
        {"fingerprint": fp, "rasa": rasa_version(), "seconds": round(seconds, 1),
         "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "inputs": hashes}, indent=1) + "\n", encoding="utf-8")
    _prune_old_models(keep=target, project=project)
    progress(f"[{steps}/{steps}] Model trained in {terminal.format_duration(seconds)}: {_shown(target)}")
    return target


def _train_logged(project: Project, target: Path, progress: Callable[[str], None], expected_s: float,
                  full: bool) -> Any:
    """Rasa's training with its output in the train log, a live line on a terminal, and a
    failure reported as one line (the traceback in the log)."""
    if terminal.verbose():
        return train_rasa(project.models_dir, target.name[: -len(".tar.gz")], project, full)
    with terminal.output_to(TRAIN_LOG) as screen, _rasa_log_level("WARNING"):
        print(f"\n==== training {target.name} at {time.strftime('%Y-%m-%d %H:%M:%S')} ====", flush=True)
        try:
            with terminal.LiveLine(screen, "training the model", expected_s):
                return train_rasa(project.models_dir, target.name[: -len(".tar.gz")], project, full)
        except Exception as exc:
            traceback.print_exc()  # into the train log
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if len(reason) > 120 and ". " in reason:  # Rasa appends long lists: the first sentence says it
                reason = reason.split(". ")[0] + "."
            raise CoachError(f"training failed: {reason[:200]} (details in {_shown(TRAIN_LOG)})") from exc


@contextlib.contextmanager
def _rasa_log_level(level: str) -> Iterator[None]:
    """Rasa shows its progress bars unless ``LOG_LEVEL`` is WARNING or ERROR (it reads the
    variable each time): keep them out of the train log too."""
    old = os.environ.get("LOG_LEVEL")
    os.environ["LOG_LEVEL"] = level
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("LOG_LEVEL", None)
        else:
            os.environ["LOG_LEVEL"] = old


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def train_rasa(output: Path, model_name: str, project: Project | None = None, full: bool = True) -> Any:
    """Rasa's training on the project's config, domain and data; returns Rasa's result.
    ``full=False`` lets Rasa reuse cached outputs of steps whose inputs did not change."""
    from rasa.model_training import train as rasa_train

    root = _project(project).root
    output.mkdir(parents=True, exist_ok=True)
    # Rasa prints its own progress to stdout; stdout belongs to the command (say's JSON lines).
    with contextlib.redirect_stdout(sys.stderr):
        return rasa_train(
            domain=str(root / "domain.yml"),
            config=str(root / "config.yml"),
            training_files=[str(root / "data")],
            output=str(output),
            fixed_model_name=model_name,
            force_training=full,
        )


def _prune_old_models(keep: Path, project: Project) -> None:
    models = sorted(project.models_dir.glob("coach-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in models if m != keep][KEEP_MODELS - 1 :]:
        old.unlink(missing_ok=True)
        manifest_path(old).unlink(missing_ok=True)


def model_for_run(progress: Callable[[str], None] = print) -> Path:
    """The up-to-date model, training first when the inputs changed."""
    path = current_model()
    if path is None:
        project = _project(None)
        with training_lock(progress, project):
            # Another process may have trained it while we waited for the lock.
            path = current_model() or _train(False, progress, project)
    ensure_spacy_pipeline()
    return path


@contextlib.contextmanager
def training_lock(progress: Callable[[str], None] = print, project: Project | None = None) -> Iterator[None]:
    """One training at a time per project: two processes that find the model stale (two test
    runs, the bot and a benchmark) must not train the same file side by side."""
    import fcntl

    models_dir = _project(project).models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".training.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("Another process is training the model; waiting for it…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
