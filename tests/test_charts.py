"""The progress chart draws exactly the series it is given."""
from __future__ import annotations

from datetime import date, timedelta

import matplotlib.pyplot as plt

from bot.charts import build_progress_figure, render_progress_png
from knowledge.adherence import SeriesPoint

SERIES = tuple(
    SeriesPoint(date(2024, 3, 1) + timedelta(days=i), done, pain)
    for i, (done, pain) in enumerate([(1, 2), (0, None), (1, 4), (1, 7), (0, 5), (1, None), (1, 1)])
)


def test_png_is_written(tmp_path):
    path = render_progress_png(SERIES, tmp_path / "out" / "progress.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000


def test_lines_carry_the_series():
    fig, drawn = build_progress_figure(SERIES)
    try:
        ax_done, ax_pain = fig.axes
        done_line, = [l for l in ax_done.get_lines() if l.get_label() == "session done"]
        pain_line, = [l for l in ax_pain.get_lines() if l.get_label() == "pain (0-10)"]
        assert list(done_line.get_ydata()) == [1, 0, 1, 1, 0, 1, 1]
        assert list(done_line.get_xdata()) == [p.local_date for p in SERIES]
        assert list(pain_line.get_ydata()) == [2, 4, 7, 5, 1]  # days without a figure are left out
        assert list(pain_line.get_xdata()) == [SERIES[i].local_date for i in (0, 2, 3, 4, 6)]
        assert drawn.done == (1, 0, 1, 1, 0, 1, 1) and drawn.pain == (2, 4, 7, 5, 1)
    finally:
        plt.close(fig)
