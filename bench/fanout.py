"""Reminder fan-out: N trainees whose daily reminder time has just passed, one scheduler worker
(``python -m bot.scheduler``, the same :class:`bot.scheduler.ReminderScheduler` the bot runs
in-process) sending through the fake Bot API.

Counted from the fake's call log: reminders per second (first to last send, and from process
start), duplicates (a chat that got more than one reminder), losses (a chat that got none), the
most sends in any one-second window, and the delivery rows' final states in the database.

    .venv/bin/python -m bench.fanout [--n 2000] [--overall-rate 30]
"""
from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import BENCH_TOKEN, PYTHON, Child, child_env, log, max_in_window, write_json

ZONES = (
    "UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney",
    "America/Los_Angeles", "Asia/Kolkata", "Europe/London",
)
FIRST_CHAT_ID = 50_000_000


def insert_due_trainees(url: str, n: int, now: datetime) -> list[int]:
    """``n`` onboarded trainees with reminders on, each due 1-20 minutes ago in its own zone."""
    from sqlalchemy import insert

    from knowledge.db import create_all, make_engine
    from knowledge.reminders import trainees_table

    engine = make_engine(url)
    create_all(engine)
    trainees = trainees_table()
    rows = []
    chat_ids = []
    for i in range(n):
        zone = ZONES[i % len(ZONES)]
        local = now.astimezone(ZoneInfo(zone))
        minutes_of_day = local.hour * 60 + local.minute
        at = max(0, minutes_of_day - (1 + i % 20))  # just passed, never yesterday
        chat_id = FIRST_CHAT_ID + i
        chat_ids.append(chat_id)
        rows.append(
            {
                "user_id": str(chat_id), "created_at": now - timedelta(days=3), "consented_at": now - timedelta(days=3),
                "onboarded_at": now - timedelta(days=3), "goal": "back relief", "equipment": ["none"],
                "experience": "beginner", "baseline_pain": 2, "timezone": zone,
                "reminder_time": f"{at // 60:02d}:{at % 60:02d}", "reminders_enabled": True, "faults": [],
                "phase": "activation", "start_short_next": False, "reduce_volume_next": False,
            }
        )
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(trainees), rows[start : start + 1000])
    engine.dispose()
    return chat_ids


def delivery_states(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        return dict(conn.execute("SELECT state, COUNT(*) FROM reminder_deliveries GROUP BY state").fetchall())


async def run_fanout(
    n: int, overall_rate: float | None, work_dir: Path, *, timeout_s: float = 600.0, stall_s: float = 60.0,
    batch_size: int = 100, profile: Path | None = None,
) -> dict[str, Any]:
    """Send ``n`` due reminders; ``overall_rate`` None means unthrottled (a huge limit)."""
    from tests.fake_telegram import FakeTelegram

    label = "unthrottled" if overall_rate is None else f"throttled {overall_rate:g}/s"
    db_path = work_dir / f"fanout-{n}-{'u' if overall_rate is None else 't'}.db"
    url = f"sqlite:///{db_path}"
    now = datetime.now(timezone.utc)
    started = time.monotonic()
    chat_ids = await asyncio.to_thread(insert_due_trainees, url, n, now)
    log(f"fan-out {label}: {n} due trainees inserted in {time.monotonic() - started:.1f}s")
    async with FakeTelegram(token=BENCH_TOKEN) as tg:
        rate = 1_000_000.0 if overall_rate is None else overall_rate
        child = Child(
            name="scheduler",
            args=[PYTHON, *(["-m", "cProfile", "-o", str(profile)] if profile else []), "-m", "bot.scheduler", "--database-url", url, "--base-url", tg.base_url,
                  "--interval", "1", "--batch-size", str(batch_size), "--overall-rate", str(rate)],
            log_path=work_dir / "logs" / f"scheduler-{n}.log",
            env=child_env({"TELEGRAM_BOT_TOKEN": tg.token, "DATABASE_URL": url, "COACH_VAR_DIR": str(work_dir / "var")}),
        )
        child.start()
        deadline = time.monotonic() + timeout_s
        last_count, last_progress = 0, time.monotonic()
        try:
            while time.monotonic() < deadline:
                sent = sum(1 for c in tg.calls if c.method == "sendMessage" and c.status == 200)
                if sent >= n:
                    break
                if sent != last_count:
                    last_count, last_progress = sent, time.monotonic()
                elif time.monotonic() - last_progress > stall_s:
                    log(f"fan-out {label}: no progress for {stall_s:.0f}s at {sent}/{n}")
                    break
                if not child.alive():
                    log(f"fan-out {label}: scheduler exited: {child.tail(5)}")
                    break
                child.sample_memory()
                await asyncio.sleep(0.25)
            await asyncio.sleep(2.0)  # anything sent twice arrives now
            child.sample_memory()
        finally:
            await asyncio.to_thread(child.stop)
        sends = [c for c in tg.calls if c.method == "sendMessage" and c.status == 200]
        errors = [c for c in tg.calls if c.method == "sendMessage" and c.status != 200]
    per_chat = Counter(c.chat_id for c in sends)
    expected = set(chat_ids)
    duplicates = sum(count - 1 for chat, count in per_chat.items() if count > 1)
    lost = len(expected - set(per_chat))
    unexpected = len(set(per_chat) - expected)
    instants = [c.at for c in sends]
    span = (max(instants) - min(instants)) if len(instants) > 1 else None
    result = {
        "label": label,
        "n": n,
        "overall_rate_limit": overall_rate,
        "batch_size": batch_size,
        "sent": len(sends),
        "send_errors": len(errors),
        "duplicates": duplicates,
        "lost": lost,
        "unexpected_chats": unexpected,
        "first_to_last_s": round(span, 2) if span else None,
        "reminders_per_s": round((len(sends) - 1) / span, 1) if span else None,
        "from_process_start_s": round(max(instants) - child.started_at, 2) if instants else None,
        "reminders_per_s_incl_start": round(len(sends) / (max(instants) - child.started_at), 1) if instants else None,
        "first_send_after_start_s": round(min(instants) - child.started_at, 2) if instants else None,
        "max_sends_in_1s_window": max_in_window(instants) if instants else 0,
        "delivery_states": delivery_states(db_path),
        "scheduler_peak_rss_mib": child.peak_rss_mib,
    }
    log(f"fan-out {label}: {result['sent']}/{n} sent, {result['reminders_per_s']}/s, "
        f"{duplicates} duplicates, {lost} lost")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--overall-rate", type=float, default=None, help="default: unthrottled")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--profile", help="write the scheduler's cProfile stats to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="coach-bench-") as tmp:
        result = asyncio.run(run_fanout(
            args.n, args.overall_rate, Path(tmp), batch_size=args.batch_size,
            profile=Path(args.profile).resolve() if args.profile else None,
        ))
    import json

    print(json.dumps(result, indent=2))
    write_json(Path(__file__).resolve().parent / "results" / "fanout.json", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
