"""Every exercise in the knowledge base gets a picture drawn from its positions: the test draws
them all and checks that each is a real image of a sensible size and that no two are the same."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from bot.pictures import picture_path, pose_points, render_exercise_png
from knowledge.validate import validate


@pytest.fixture(scope="module")
def exercises() -> list[dict]:
    result = validate()
    assert result.problems == []
    return list(result.content.items["exercise"])


def test_every_exercise_has_a_distinct_picture(exercises: list[dict], tmp_path: Path) -> None:
    assert len(exercises) >= 26
    digests: dict[str, str] = {}
    for exercise in exercises:
        path = render_exercise_png(exercise["title"], exercise["positions"], tmp_path / f"{exercise['id']}.png")
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (700, 340), exercise["id"]
            pixels = image.convert("L")
            dark = sum(1 for value in pixels.getdata() if value < 128)
            assert dark > 2000, f"{exercise['id']}: hardly anything drawn"
        digests[exercise["id"]] = hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(set(digests.values())) == len(digests)


def test_start_and_end_differ_and_stand_on_the_floor(exercises: list[dict]) -> None:
    for exercise in exercises:
        start, end = (pose_points(exercise["positions"][k]) for k in ("start", "end"))
        assert start.points != end.points, f"{exercise['id']}: start and end are the same pose"
        for pose in (start, end):
            assert min(y for name, (_, y) in pose.points.items() if name != "head") >= -0.001


def test_a_picture_is_drawn_once_per_content(tmp_path: Path, exercises: list[dict]) -> None:
    bridge = next(e for e in exercises if e["id"] == "glute_bridge")
    first = picture_path(tmp_path, "glute_bridge", bridge["title"], bridge["positions"])
    mtime = first.stat().st_mtime_ns
    assert picture_path(tmp_path, "glute_bridge", bridge["title"], bridge["positions"]) == first
    assert first.stat().st_mtime_ns == mtime  # not drawn again
    moved = {**bridge["positions"], "end": {**bridge["positions"]["end"], "trunk": 200}}
    assert picture_path(tmp_path, "glute_bridge", bridge["title"], moved) != first
