"""The progress chart, drawn with matplotlib (Agg) from plain data the knowledge layer computed.

Three panels that read at a glance from day 1 to week 12:

1. each day since the start: a session done (green dot) or missed (grey cross);
2. pain (0-10) on the days it was reported, over the pain-monitoring zones;
3. glute feel (0-10, how much the glutes did the work) from the check-ins: higher is better, so
   it has its own panel rather than sitting on the pain zones;
4. sessions per week: done out of the days that counted.

The x axis is days, never less than a week wide, so one day of data does not stretch the axis
over years; tick spacing follows the span.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

import matplotlib

matplotlib.use("Agg")  # no display on a server; must come before pyplot
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

MIN_SPAN_DAYS = 7  # the x axis always shows at least a week
ZONE_COLOURS = {"safe": "#2ca02c", "acceptable": "#ff9f1c", "too_much": "#d62728"}
DONE_COLOUR = "#2ca02c"
MISSED_COLOUR = "#9e9e9e"
PAIN_COLOUR = "#d62728"
GLUTE_COLOUR = "#1f77b4"


class DayPoint(Protocol):
    local_date: date
    done: int
    pain: int | None


class WeekLike(Protocol):
    week_start: date
    done: int
    counted: int


@dataclass(frozen=True)
class Zone:
    id: str
    min: int
    max: int


@dataclass(frozen=True)
class DrawnSeries:
    """Exactly what was plotted, for callers and tests."""

    dates: tuple[date, ...]
    done: tuple[int, ...]
    pain_dates: tuple[date, ...]  # days with a pain figure only
    pain: tuple[int, ...]
    glute_dates: tuple[date, ...] = ()
    glute: tuple[int, ...] = ()
    x_range: tuple[date, date] | None = None  # first and last day the axis shows
    weeks: tuple[tuple[date, int, int], ...] = ()  # (Monday, done, counted)
    zones: tuple[str, ...] = ()


def series_to_draw(
    series: Sequence[DayPoint], weeks: Iterable[WeekLike] = (), zones: Iterable[Zone] = ()
) -> DrawnSeries:
    with_pain = [p for p in series if p.pain is not None]
    with_glute = [p for p in series if getattr(p, "glute_feel", None) is not None]
    x_range = None
    if series:
        first = series[0].local_date
        x_range = (first, max(series[-1].local_date, first + timedelta(days=MIN_SPAN_DAYS - 1)))
    return DrawnSeries(
        dates=tuple(p.local_date for p in series),
        done=tuple(int(p.done) for p in series),
        pain_dates=tuple(p.local_date for p in with_pain),
        pain=tuple(int(p.pain) for p in with_pain),  # type: ignore[arg-type]
        glute_dates=tuple(p.local_date for p in with_glute),
        glute=tuple(int(p.glute_feel) for p in with_glute),  # type: ignore[attr-defined]
        x_range=x_range,
        weeks=tuple((w.week_start, int(w.done), int(w.counted)) for w in weeks),
        zones=tuple(z.id for z in zones),
    )


def _day_axis(ax: Any, first: date, last: date) -> None:
    ax.set_xlim(mdates.date2num(first) - 0.5, mdates.date2num(last) + 0.5)
    span = (last - first).days + 1
    if span <= 14:
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%a\n%d %b"))
    else:
        ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO, interval=1 if span <= 42 else 2))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        ax.xaxis.set_minor_locator(mdates.DayLocator())


def _score_panel(
    ax: Any, dates: Sequence[date], values: Sequence[int], x_range: tuple[date, date], size: int,
    colour: str, marker: str, label: str, title: str, empty: str, yticks: list[int],
) -> None:
    """A 0-10 score per day (pain, glute feel) on the shared day axis."""
    ax.plot(dates, values, color=colour, marker=marker, markersize=size - 2, label=label)
    ax.set_ylim(0, 10.3)
    ax.set_yticks(yticks)
    ax.set_title(title, loc="left", fontsize=11)
    _day_axis(ax, *x_range)
    ax.tick_params(axis="x", labelsize=8)
    if not values:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, color="#777777")


def build_progress_figure(
    series: Sequence[DayPoint], zones: Iterable[Zone] = (), weeks: Iterable[WeekLike] = ()
) -> tuple[Figure, DrawnSeries]:
    zones = tuple(zones)
    drawn = series_to_draw(series, weeks, zones)
    fig, (ax_done, ax_pain, ax_glute, ax_week) = plt.subplots(
        4, 1, figsize=(7.5, 9), gridspec_kw={"height_ratios": [0.8, 2, 1.5, 1.5]}
    )
    if drawn.x_range is None:
        for ax in (ax_done, ax_pain, ax_glute, ax_week):
            ax.set_axis_off()
        ax_pain.text(0.5, 0.5, "No days to show yet", ha="center", va="center", transform=ax_pain.transAxes)
        fig.tight_layout()
        return fig, drawn
    first, last = drawn.x_range
    span = (last - first).days + 1
    size = 9 if span <= 14 else 6 if span <= 42 else 4

    done_days = [d for d, v in zip(drawn.dates, drawn.done) if v]
    missed_days = [d for d, v in zip(drawn.dates, drawn.done) if not v]
    ax_done.plot(done_days, [1] * len(done_days), linestyle="none", marker="o", markersize=size,
                 color=DONE_COLOUR, label="session done")
    ax_done.plot(missed_days, [1] * len(missed_days), linestyle="none", marker="x", markersize=size,
                 color=MISSED_COLOUR, label="missed")
    ax_done.set_ylim(0.5, 1.5)
    ax_done.set_yticks([])
    ax_done.set_title("Your sessions", loc="left", fontsize=11)
    ax_done.legend(loc="upper right", ncol=2, fontsize=8, frameon=False, bbox_to_anchor=(1, 1.45))
    _day_axis(ax_done, first, last)
    ax_done.tick_params(axis="x", labelsize=8)

    for z in zones:
        ax_pain.axhspan(z.min - 0.5 if z.min else 0, min(z.max + 0.5, 10), color=ZONE_COLOURS.get(z.id, "#cccccc"),
                        alpha=0.12, linewidth=0)
        ax_pain.text(1.005, (max(z.min - 0.5, 0) + min(z.max + 0.5, 10)) / 2, z.id.replace("_", " "),
                     transform=ax_pain.get_yaxis_transform(), va="center", fontsize=7, color="#555555")
    _score_panel(ax_pain, drawn.pain_dates, drawn.pain, (first, last), size, PAIN_COLOUR, "o",
                 "pain (0-10)", "Pain (0-10) and the pain zones", "No pain reported yet", [0, 2, 4, 6, 8, 10])
    _score_panel(ax_glute, drawn.glute_dates, drawn.glute, (first, last), size, GLUTE_COLOUR, "s",
                 "glute feel (0-10)", "Glute feel (0-10, higher is better)", "No check-ins yet", [0, 5, 10])

    labels = [f"wk {i + 1}\n{monday:%d %b}" for i, (monday, _, _) in enumerate(drawn.weeks)]
    xs = list(range(len(drawn.weeks)))
    ax_week.bar(xs, [c for _, _, c in drawn.weeks], color="#e0e0e0", label="days that counted")
    ax_week.bar(xs, [d for _, d, _ in drawn.weeks], color=DONE_COLOUR, width=0.5, label="sessions done")
    for x, (_, d, c) in zip(xs, drawn.weeks):
        ax_week.text(x, max(c, d) + 0.15, f"{d}/{c}", ha="center", va="bottom", fontsize=8)
    ax_week.set_xticks(xs)
    ax_week.set_xticklabels(labels, fontsize=7)
    ax_week.set_xlim(-0.6, max(len(xs), 4) - 0.4)
    ax_week.set_ylim(0, 8.2)
    ax_week.set_yticks([0, 7])
    ax_week.set_title("Sessions per week", loc="left", fontsize=11)
    ax_week.legend(loc="upper right", ncol=2, fontsize=8, frameon=False, bbox_to_anchor=(1, 1.3))
    fig.tight_layout()
    return fig, drawn


def render_progress_png(
    series: Sequence[DayPoint], path: str | Path, zones: Iterable[Zone] = (), weeks: Iterable[WeekLike] = ()
) -> Path:
    """Write the chart to ``path`` (a PNG) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, _ = build_progress_figure(series, zones, weeks)
    try:
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path


def chart_from_data(data: dict[str, Any]) -> tuple[list[Any], list[Zone], list[Any]]:
    """The chart's inputs from the plain data an action sends (see ProgressSummary.chart_data)."""
    from types import SimpleNamespace

    series = [
        SimpleNamespace(local_date=date.fromisoformat(p["local_date"]), done=int(p["done"]),
                        pain=p.get("pain"), glute_feel=p.get("glute_feel"))
        for p in data.get("series", [])
    ]
    zones = [Zone(str(z["id"]), int(z["min"]), int(z["max"])) for z in data.get("zones", [])]
    weeks = [
        SimpleNamespace(week_start=date.fromisoformat(w["week_start"]), done=int(w["done"]), counted=int(w["counted"]))
        for w in data.get("weeks", [])
    ]
    return series, zones, weeks
