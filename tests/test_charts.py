"""The progress chart: drawn for 1 day, 1 week and 12 weeks of data, checked on its axis range and
on the series it plotted (a new user's chart once spanned several years for a single day)."""
from __future__ import annotations

from datetime import date, timedelta

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pytest

from bot.charts import Zone, build_progress_figure, chart_from_data, render_progress_png
from knowledge.adherence import adherence_report

ZONES = (Zone("safe", 0, 2), Zone("acceptable", 3, 5), Zone("too_much", 6, 10))
START = date(2024, 3, 4)  # a Monday


def trainee(days: int):
    """``days`` of a made-up trainee: done unless the day number is divisible by 3; pain on done
    days, glute feel on every other done day."""
    today = START + timedelta(days=days - 1)
    done = {START + timedelta(days=i) for i in range(days) if i % 3 != 2}
    pain = {d: (d - START).days % 8 for d in done}
    glute = {d: min(10, 3 + (d - START).days // 7) for d in done if (d - START).days % 2 == 0}
    return adherence_report(done, pain, START, today, glute)


def lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


@pytest.mark.parametrize("days, shown_days, weeks", [(1, 7, 1), (7, 7, 1), (84, 84, 12)])
def test_axis_range_and_series(days, shown_days, weeks):
    report = trainee(days)
    fig, drawn = build_progress_figure(report.series, ZONES, report.weeks)
    try:
        ax_done, ax_pain, ax_glute, ax_week = fig.axes
        # Days on the x axis: from day 1, at least a week wide, never more than the data.
        for ax in (ax_done, ax_pain, ax_glute):
            lo, hi = ax.get_xlim()
            assert mdates.num2date(lo + 0.5).date() == START
            assert round(hi - lo) == shown_days
        assert drawn.x_range == (START, START + timedelta(days=shown_days - 1))

        series = report.series
        assert len(series) == days
        done = lines(ax_done)["session done"]
        missed = lines(ax_done)["missed"]
        assert [mdates.num2date(x).date() if not isinstance(x, date) else x for x in done.get_xdata()] == [
            p.local_date for p in series if p.done
        ]
        assert len(missed.get_xdata()) == sum(1 for p in series if not p.done)

        pain = lines(ax_pain)["pain (0-10)"]
        assert list(pain.get_ydata()) == [p.pain for p in series if p.pain is not None]
        glute = lines(ax_glute)["glute feel (0-10)"]
        assert list(glute.get_ydata()) == [p.glute_feel for p in series if p.glute_feel is not None]
        assert ax_pain.get_ylim()[0] == 0 and 10 <= ax_pain.get_ylim()[1] < 11
        # The three pain-monitoring zones are drawn as bands behind the pain line.
        assert len(ax_pain.patches) == 3 and drawn.zones == ("safe", "acceptable", "too_much")

        bars = ax_week.patches
        assert len(bars) == 2 * weeks  # days that counted, and sessions done, per week
        done_heights = [b.get_height() for b in bars[weeks:]]
        assert done_heights == [w.done for w in report.weeks]
        assert sum(done_heights) == sum(p.done for p in series)
    finally:
        plt.close(fig)


def test_twelve_weeks_by_hand():
    report = trainee(84)
    # Today (day 83, 83 % 3 == 2) is still open, so the last week counts 6 days so far.
    assert [w.counted for w in report.weeks] == [7] * 11 + [6]
    # Days 0..83, done unless i % 3 == 2: 56 done; week 1 = days 0-6 → 0,1,3,4,6 done.
    assert report.weeks[0].done == 5 and sum(w.done for w in report.weeks) == 56


def test_the_chart_is_the_same_from_the_actions_data(tmp_path):
    from knowledge.coaching import ProgressSummary

    report = trainee(10)
    summary = ProgressSummary("", report.series, report, (), tuple((z.id, z.min, z.max) for z in ZONES))
    series, zones, weeks = chart_from_data(summary.chart_data())
    assert [(p.local_date, p.done, p.pain, p.glute_feel) for p in series] == [
        (p.local_date, p.done, p.pain, p.glute_feel) for p in report.series
    ]
    assert tuple(zones) == ZONES
    assert [(w.week_start, w.done, w.counted) for w in weeks] == [
        (w.week_start, w.done, w.counted) for w in report.weeks
    ]
    path = render_progress_png(series, tmp_path / "out" / "progress.png", zones, weeks)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_no_data_still_draws():
    fig, drawn = build_progress_figure([], ZONES, [])
    try:
        assert drawn.x_range is None and drawn.dates == ()
    finally:
        plt.close(fig)
