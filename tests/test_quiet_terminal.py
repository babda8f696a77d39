"""The terminal during the first minutes (issue 19): stage lines, no warnings, no progress bars.

* ``python -m bot train`` on a tiny Rasa project (tests/fixtures/tiny_rasa: DIET, so TensorFlow,
  tqdm and Rasa's warnings all run) prints a few stage lines, says why it trains, puts Rasa's
  output in the train log it names, reports a broken project in one line, and says "up to date"
  without importing Rasa once nothing changed.
* ``scripts/run`` with the coach's model present answers "hi" after a few quiet lines.

Neither depends on the database back end: they run once, on SQLite (the "SQLite only:" skip
that scripts/test's parity check accepts).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.fresh_clone import MAX_LINES, NOISE  # the benchmark's fresh-clone run checks the same

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny_rasa"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _sqlite_only() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("sqlite"):
        pytest.skip("SQLite only: what the terminal shows does not depend on the database back end")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOG_LEVEL", "COACH_VERBOSE", "PYTHONWARNINGS", "TQDM_DISABLE", "TELEGRAM_BOT_TOKEN")}
    env.update(COACH_VAR_DIR=str(tmp_path / "var"), RASA_CACHE_DIRECTORY=str(tmp_path / "rasa-cache"), **extra)
    return env


def _train(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "train", "--project", str(project), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _assert_quiet(output: str) -> None:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) <= MAX_LINES, output
    noisy = [ln for ln in lines if NOISE.search(ln)]
    assert not noisy, noisy


def test_bot_train_is_quiet_says_what_changed_and_skips_an_up_to_date_model(tmp_path: Path) -> None:
    project = tmp_path / "tiny"
    shutil.copytree(TINY, project)
    env = _env(tmp_path)

    first = _train(project, env)
    assert first.returncode == 0, first.stderr
    _assert_quiet(first.stdout + first.stderr)
    assert "No earlier model here: training from scratch." in first.stderr
    log = tmp_path / "var" / "log" / "train.log"
    assert str(log) in first.stderr or "var/log/train.log" in first.stderr
    assert "Your Rasa model is trained" in log.read_text()  # Rasa's own words went to the log
    model = Path(first.stdout.strip().splitlines()[-1])
    assert model.exists() and model.parent == project / "models"
    assert model.with_name(model.name.replace(".tar.gz", ".inputs.json")).exists()

    # Nothing changed: up to date, from the file hashes alone (Rasa is never imported).
    probe = ("import sys; from bot.cli import main; code = main(['train', '--project', sys.argv[1]]);"
             "rasa = sorted(m for m in sys.modules if m == 'rasa' or m.startswith('rasa.'));"
             "print('RASA_MODULES', len(rasa)); sys.exit(code)")
    started = time.monotonic()
    again = subprocess.run([sys.executable, "-c", probe, str(project)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    seconds = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    assert "Model is up to date: " in again.stderr and model.name in again.stderr
    assert "RASA_MODULES 0" in again.stdout
    assert seconds < 5, seconds

    # One phrasing changed: it says which file and trains a new model.
    nlu = project / "data" / "nlu.yml"
    nlu.write_text(nlu.read_text().replace("    - hey there\n", "    - hey there\n    - howdy\n"))
    changed = _train(project, env)
    assert changed.returncode == 0, changed.stderr
    _assert_quiet(changed.stdout + changed.stderr)
    assert "Changed since the last model: changed data/nlu.yml." in changed.stderr
    assert "Rasa reuses the steps whose inputs did not change" in changed.stderr
    assert Path(changed.stdout.strip().splitlines()[-1]) != model


def test_a_broken_project_fails_in_one_line_with_the_log_named(tmp_path: Path) -> None:
    project = tmp_path / "tiny"
    shutil.copytree(TINY, project)
    (project / "data" / "rules.yml").write_text(
        'version: "3.1"\nrules:\n- rule: broken\n  steps:\n  - intent: greet\n  - action: utter_missing_response\n')
    env = _env(tmp_path)
    result = _train(project, env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "train.log" in errors[0]
    assert "Traceback" not in result.stderr
    assert "Traceback" in (tmp_path / "var" / "log" / "train.log").read_text()
    assert not list((project / "models").glob("coach-*.tar.gz"))


def test_scripts_run_with_the_model_present_answers_hi_after_a_few_quiet_lines(trained_model: Path,
                                                                              tmp_path: Path) -> None:
    env = _env(tmp_path)
    env.pop("COACH_VAR_DIR")  # scripts/run uses the project's var/ (its model and spaCy pipeline)
    result = subprocess.run([str(ROOT / "scripts" / "run")], cwd=ROOT, env=env, input="hi\n",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    output = result.stderr + result.stdout
    before_reply, found, _after = output.partition("coach> ")
    assert found, output
    _assert_quiet(before_reply)
    assert "Get started" in result.stdout
