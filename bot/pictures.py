"""Exercise pictures drawn from data: a stick figure per key position (start, end), side by side.

Each exercise's ``positions`` in exercises.yaml give, per position, the direction of every body
segment in degrees (0 points right, 90 up; the figure faces right): trunk (pelvis to shoulders),
head, arms and legs as [near, far] pairs of [upper, lower] segments, feet, and props (a bench, a
box, a band, a weight). The figure is set on the floor by its lowest point, so a pose needs no
coordinates. The near side is drawn dark, the far side light, so left and right read apart.
A new exercise gets its picture from its content entry; ``kb validate`` checks the positions.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")  # no display on a server; must come before pyplot
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyBboxPatch  # noqa: E402

# Segment lengths in body heights (roughly anthropometric).
TRUNK, NECK, HEAD_R = 0.30, 0.04, 0.055
UPPER_ARM, FOREARM = 0.17, 0.16
THIGH, SHIN, FOOT = 0.245, 0.245, 0.08
NEAR, FAR = "#1b3a5c", "#9db4cc"
PROP, BAND = "#8d6e63", "#e4572e"


@dataclass(frozen=True)
class Figure2D:
    """The joints of one drawn pose, floor at y = 0."""

    points: Mapping[str, tuple[float, float]]

    def __getitem__(self, name: str) -> tuple[float, float]:
        return self.points[name]


def _step(origin: tuple[float, float], angle: float, length: float) -> tuple[float, float]:
    rad = math.radians(angle)
    return origin[0] + length * math.cos(rad), origin[1] + length * math.sin(rad)


def pose_points(pose: Mapping[str, Any]) -> Figure2D:
    """Joint positions of a pose, set on the floor: by its lowest point, or, with ``floor_at``,
    by the lowest of those joints (``lift`` above the floor when they stand on a box)."""
    scale = pose.get("scale") or {}

    def length(base: float, part: str, side: str = "") -> float:
        return base * float(scale.get(f"{side}_{part}", scale.get(part, 1)))

    pts: dict[str, tuple[float, float]] = {"pelvis": (0.0, 0.0)}
    trunk = float(pose["trunk"])
    head = float(pose.get("head", trunk))
    pts["shoulders"] = _step(pts["pelvis"], trunk, length(TRUNK, "trunk"))
    pts["waist"] = _step(pts["pelvis"], trunk, length(TRUNK, "trunk") / 2)
    pts["neck"] = _step(pts["shoulders"], head, NECK)
    pts["head"] = _step(pts["neck"], head, HEAD_R)
    for side, (upper, lower) in zip(("near", "far"), pose["arms"]):
        pts[f"{side}_elbow"] = _step(pts["shoulders"], float(upper), length(UPPER_ARM, "arms", side))
        pts[f"{side}_hand"] = _step(pts[f"{side}_elbow"], float(lower), length(FOREARM, "arms", side))
    feet = pose.get("feet") or [0, 0]
    for side, (thigh, shin), foot in zip(("near", "far"), pose["legs"], feet):
        pts[f"{side}_knee"] = _step(pts["pelvis"], float(thigh), length(THIGH, "thighs", side))
        pts[f"{side}_ankle"] = _step(pts[f"{side}_knee"], float(shin), length(SHIN, "shins", side))
        pts[f"{side}_toe"] = _step(pts[f"{side}_ankle"], float(foot), length(FOOT, "feet", side))
    if pose.get("floor_at"):
        lowest = min(pts[name][1] - (HEAD_R if name == "head" else 0) for name in pose["floor_at"])
        lowest -= float(pose.get("lift", 0))
    else:
        # The head's outline counts too: lying down, it rests on the floor.
        lowest = min(min(y for name, (_, y) in pts.items() if name != "head"), pts["head"][1] - HEAD_R)
    return Figure2D({name: (x, y - lowest) for name, (x, y) in pts.items()})


def _limb(ax: Any, fig: Figure2D, names: tuple[str, ...], colour: str, width: float) -> None:
    xs, ys = zip(*(fig[n] for n in names))
    ax.plot(xs, ys, color=colour, linewidth=width, solid_capstyle="round", solid_joinstyle="round", zorder=3)


def _prop(ax: Any, fig: Figure2D, prop: Mapping[str, Any]) -> None:
    kind = prop["kind"]
    if kind in ("bench", "box"):
        x, y = fig[prop["under"]]
        x += float(prop.get("dx", 0))
        width = float(prop.get("width", 0.22 if kind == "bench" else 0.16))
        top = float(prop["height"]) if "height" in prop else y - 0.012
        ax.add_patch(FancyBboxPatch((x - width / 2, 0), width, max(top, 0.02), boxstyle="round,pad=0,rounding_size=0.01",
                                    facecolor=PROP, edgecolor="none", alpha=0.75, zorder=1))
    elif kind == "band":
        if "between" in prop:
            a, b = (fig[n] for n in prop["between"])
        else:  # around one point, seen side on: a short stripe across the limb
            x, y = fig[prop["at"]]
            a, b = (x, y - 0.025), (x, y + 0.025)
        ax.plot([a[0], b[0]], [a[1], b[1]], color=BAND, linewidth=6, alpha=0.9, zorder=4, solid_capstyle="round")
    elif kind == "weight":
        x, y = fig[prop["at"]]
        radius = float(prop.get("size", 0.04))
        ax.add_patch(Circle((x, y - radius * float(prop.get("hang", 0))), radius, facecolor="#424242",
                            edgecolor="none", zorder=5))
    else:
        raise ValueError(f"unknown prop {kind!r}")


def draw_pose(ax: Any, pose: Mapping[str, Any], label: str) -> Figure2D:
    fig = pose_points(pose)
    for side, colour, width in (("far", FAR, 5), ("near", NEAR, 6)):
        _limb(ax, fig, ("shoulders", f"{side}_elbow", f"{side}_hand"), colour, width)
        _limb(ax, fig, ("pelvis", f"{side}_knee", f"{side}_ankle", f"{side}_toe"), colour, width)
    _limb(ax, fig, ("pelvis", "shoulders", "neck"), NEAR, 7)
    ax.add_patch(Circle(fig["head"], HEAD_R, facecolor=NEAR, edgecolor="none", zorder=3))
    for prop in pose.get("props") or ():
        _prop(ax, fig, prop)
    ax.axhline(0, color="#bdbdbd", linewidth=2, zorder=0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(label, fontsize=12)
    return fig


def _frame(axes: Any, figures: list[Figure2D]) -> None:
    """The same scale in every panel, so start and end compare at a glance."""
    spans = []
    for f in figures:
        xs = [x for x, _ in f.points.values()]
        spans.append(((min(xs) + max(xs)) / 2, max(xs) - min(xs), max(y for _, y in f.points.values()) + HEAD_R))
    width = max(s[1] for s in spans) + 0.16
    height = max(max(s[2] for s in spans) + 0.08, width * 0.55)
    for ax, (cx, _, _) in zip(axes, spans):
        ax.set_xlim(cx - width / 2, cx + width / 2)
        ax.set_ylim(-0.03, height)


def render_exercise_png(title: str, positions: Mapping[str, Any], path: str | Path) -> Path:
    """Draw the start and end positions side by side and write a PNG to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    try:
        drawn = []
        for ax, key in zip(axes, ("start", "end")):
            pose = positions[key]
            drawn.append(draw_pose(ax, pose, pose.get("label") or key.capitalize()))
        _frame(axes, drawn)
        fig.suptitle(title, fontsize=13, fontweight="bold")
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path


def picture_path(directory: str | Path, exercise_id: str, title: str, positions: Mapping[str, Any]) -> Path:
    """Where the picture of this content lives: a new drawing only when the positions change."""
    digest = hashlib.sha256(json.dumps([title, positions], sort_keys=True).encode()).hexdigest()[:12]
    path = Path(directory) / f"exercise-{exercise_id}-{digest}.png"
    if not path.is_file():
        tmp = path.with_name(f"partial-{path.name}")
        render_exercise_png(title, positions, tmp)
        tmp.replace(path)
    return path
