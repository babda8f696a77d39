"""The training's bookkeeping, without Rasa: input hashes, the fingerprint, why it retrains,
and the live line's arithmetic."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot import terminal
from bot.errors import CoachError
from bot.training import Project, describe_changes, fingerprint, input_hashes, rasa_version

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_rasa"


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    import shutil

    shutil.copytree(TINY, tmp_path / "p")
    return Project.folder(tmp_path / "p")


def test_inputs_are_the_project_files_and_not_what_training_writes(project: Project) -> None:
    (project.root / "models").mkdir()
    (project.root / "models" / "x.yml").write_text("written by training\n")
    (project.root / "data" / "generated").mkdir()
    (project.root / "data" / "generated" / "nlu_kb.yml").write_text("generated\n")
    assert sorted(input_hashes(project)) == ["config.yml", "data/nlu.yml", "data/rules.yml", "domain.yml"]


def test_the_fingerprint_follows_file_contents_only(project: Project) -> None:
    before = fingerprint(project)
    nlu = project.root / "data" / "nlu.yml"
    original = nlu.read_text()
    nlu.write_text(original + "    - yo\n")
    assert fingerprint(project) != before
    nlu.write_text(original)
    assert fingerprint(project) == before


def test_why_it_retrains_names_the_changed_files() -> None:
    now = {"config.yml": "a", "data/nlu.yml": "b2", "data/new.yml": "c"}
    before = {"inputs": {"config.yml": "a", "data/nlu.yml": "b1", "data/old.yml": "d"}, "rasa": rasa_version()}
    assert describe_changes(now, before) == (
        "Changed since the last model: changed data/nlu.yml, new data/new.yml, removed data/old.yml.")
    assert describe_changes(now, None) == "No earlier model here: training from scratch."
    assert "Rasa 3.0.0 → " in describe_changes(now, {"inputs": now, "rasa": "3.0.0"})
    assert "file is missing" in describe_changes(now, {"inputs": now, "rasa": rasa_version()})
    many = {f"f{i}.yml": "x" for i in range(7)}
    assert describe_changes(many, {"inputs": {}, "rasa": rasa_version()}).endswith("and 3 more.")


def test_a_folder_without_config_and_domain_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CoachError, match="not a Rasa project folder"):
        Project.folder(tmp_path)


def test_live_line_counts_towards_the_estimate_and_never_claims_100_percent() -> None:
    line = terminal.LiveLine(io.StringIO(), "training the model", expected_s=100)
    assert line.text(now=line.started + 25) == "  training the model   25%  about 1 min 15 s left"
    assert line.text(now=line.started + 500) == "  training the model   99%  nearly done"
    assert not line.enabled  # not a terminal: no live line at all


def test_output_to_sends_both_descriptors_to_the_log_and_restores_them(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import os

    log = tmp_path / "log" / "train.log"
    with terminal.output_to(log) as screen:
        os.write(1, b"from fd 1\n")
        os.write(2, b"from fd 2\n")
        screen.write("to the terminal\n")
    os.write(2, b"after\n")
    text = log.read_text()
    assert "from fd 1" in text and "from fd 2" in text and "to the terminal" not in text
    captured = capfd.readouterr()
    assert "to the terminal" in captured.err and "after" in captured.err and "from fd" not in captured.err + captured.out


class _Result:
    def __init__(self, model: Path) -> None:
        self.code, self.model = 0, str(model)


def test_a_training_killed_while_writing_leaves_no_model_under_its_name(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen: `timeout` killed a training while Rasa wrote the archive; the truncated file had the
    # model's own name, so every later command took it for the up-to-date model and failed
    # with "Compressed file ended before the end-of-stream marker was reached".
    from bot import training

    def killed_half_way(output: Path, model_name: str, *_args: object) -> None:
        (output / f"{model_name}.tar.gz").write_bytes(b"\x1f\x8b half an archive")
        raise KeyboardInterrupt  # what Ctrl+C raises; SIGKILL would stop at the same point

    monkeypatch.setattr(training, "train_rasa", killed_half_way)
    with pytest.raises(KeyboardInterrupt):
        training.train(progress=lambda _line: None, project=project)
    assert training.current_model(project) is None
    assert not list(project.models_dir.glob("coach-*.tar.gz"))

    def trains(output: Path, model_name: str, *_args: object) -> _Result:
        archive = output / f"{model_name}.tar.gz"
        archive.write_bytes(b"a whole archive")
        return _Result(archive)

    monkeypatch.setattr(training, "train_rasa", trains)
    model = training.train(progress=lambda _line: None, project=project)
    assert model == training.current_model(project)
    assert model.read_bytes() == b"a whole archive"
    assert [p.name for p in project.models_dir.iterdir() if p.name.endswith(".tar.gz")] == [model.name]
