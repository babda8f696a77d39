"""``progress`` for the command line: the weekly summary as text plus the chart as a PNG."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from bot.charts import chart_from_data, render_progress_png
from knowledge.clock import SYSTEM_CLOCK, Clock
from knowledge.coaching import progress_summary
from knowledge.db import create_all, get_engine, session_factory
from knowledge.trainee_models import Trainee


def progress_command(
    user_id: str, out_path: str | Path, engine: Engine | None = None, clock: Clock | None = None
) -> tuple[int, str]:
    """(exit code, text): 0 with the summary and the chart written to ``out_path``; 1 when the
    user is unknown (nothing is created for them)."""
    engine = engine or get_engine()
    create_all(engine)
    with session_factory(engine)() as db:
        if db.get(Trainee, user_id) is None:
            text = f"No trainee '{user_id}' yet."
            print(text)
            return 1, text
    summary = progress_summary(engine, user_id, clock=clock or SYSTEM_CLOCK)
    series, zones, weeks = chart_from_data(summary.chart_data())
    path = render_progress_png(series, out_path, zones, weeks)
    text = f"{summary.text}\nChart: {path}"
    print(text)
    return 0, text
