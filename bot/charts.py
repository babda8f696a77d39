"""The progress chart: sessions done and pain per local date, drawn with matplotlib (Agg)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol, Sequence

import matplotlib

matplotlib.use("Agg")  # no display on a server; must come before pyplot
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


class DayPoint(Protocol):
    local_date: date
    done: int
    pain: int | None


@dataclass(frozen=True)
class DrawnSeries:
    """Exactly what was plotted, for callers and tests."""

    dates: tuple[date, ...]
    done: tuple[int, ...]
    pain_dates: tuple[date, ...]  # days with a pain figure only
    pain: tuple[int, ...]


def series_to_draw(series: Sequence[DayPoint]) -> DrawnSeries:
    with_pain = [p for p in series if p.pain is not None]
    return DrawnSeries(
        dates=tuple(p.local_date for p in series),
        done=tuple(int(p.done) for p in series),
        pain_dates=tuple(p.local_date for p in with_pain),
        pain=tuple(int(p.pain) for p in with_pain),  # type: ignore[arg-type]
    )


def build_progress_figure(series: Sequence[DayPoint]) -> tuple[Figure, DrawnSeries]:
    """Top: a session-done line (0/1) per day; bottom: pain 0-10 on the days it was reported."""
    drawn = series_to_draw(series)
    fig, (ax_done, ax_pain) = plt.subplots(2, 1, sharex=True, figsize=(7, 4.5))
    ax_done.plot(drawn.dates, drawn.done, drawstyle="steps-mid", color="tab:green",
                 marker="o", label="session done")
    ax_done.set_ylim(-0.1, 1.1)
    ax_done.set_yticks([0, 1])
    ax_done.set_yticklabels(["missed", "done"])
    ax_done.set_title("Daily sessions and pain")
    ax_pain.plot(drawn.pain_dates, drawn.pain, color="tab:red", marker="o", label="pain (0-10)")
    ax_pain.axhline(5, color="grey", linestyle="--", linewidth=0.8)  # above 5: too much
    ax_pain.set_ylim(0, 10)
    ax_pain.set_ylabel("pain")
    ax_pain.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig, drawn


def render_progress_png(series: Sequence[DayPoint], path: str | Path) -> Path:
    """Write the chart to ``path`` (a PNG) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, _ = build_progress_figure(series)
    try:
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path
