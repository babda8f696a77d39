"""Privacy: /export gives a person all of their data, /delete erases all of it (the project's
tables and Rasa's conversation), one chat never sees another's data, the bot token never
reaches a log or an error message, and /stats is for the admins only.

The conversation tests drive the real Rasa coach (one loaded model and action server for the
module); the seeded rows carry marker strings so that leaks are easy to spot.
How each test was checked to fail without its protection is noted in the test.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import inspect, select, text

from knowledge.db import PROJECT_ROOT, create_all, get_engine, session_factory
from knowledge.reminder_models import ReminderDelivery
from knowledge.trainee_models import CheckIn, PainEntry, Trainee
from tests.conftest_telegram import EchoCoach, fake_telegram  # noqa: F401
from tests.fake_telegram import FakeTelegram

UTC = timezone.utc
# A realistic token shape (digits, colon, 35 url-safe characters), unique to this test run.
TOKEN = f"{7000000000 + os.getpid()}:AAH" + "x7Kq9ZpLmN3vB8cR2tY6uJ4wE1sD5fG0h"[: 32]


def seed(user: str, marker: str) -> None:
    """Rows in every per-person table, each carrying ``marker`` where it can."""
    engine = get_engine(os.environ["DATABASE_URL"])
    create_all(engine)
    now = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    with session_factory(engine)() as session:
        for model in (PainEntry, CheckIn, ReminderDelivery):
            session.query(model).filter(model.user_id == user).delete()
        session.query(Trainee).filter(Trainee.user_id == user).delete()
        session.commit()
        session.add(Trainee(user_id=user, created_at=now, consented_at=now, onboarded_at=now, goal=f"goal {marker}",
                            timezone="Europe/Berlin", reminder_time="07:30"))
        session.flush()
        session.add(PainEntry(user_id=user, at=now, local_date=date(2026, 5, 1), value=3, source="report", zone=marker[:32]))
        session.add(CheckIn(user_id=user, local_date=date(2026, 5, 1), at=now, pain=2, glute_feel=7, effort="about_right"))
        session.add(ReminderDelivery(user_id=user, local_date=date(2026, 5, 1), kind="daily", state="sent",
                                     due_at=datetime(2026, 5, 1, 5, 30), attempts=1, last_error=marker))
        session.commit()


def rows_about(user: str) -> dict[str, int]:
    """Every table of the live database (reflected, so Rasa's and any future table count)
    with a user_id or sender_id column: how many rows it has for ``user``."""
    engine = get_engine(os.environ["DATABASE_URL"])
    counts: dict[str, int] = {}
    inspector = inspect(engine)
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            columns = {c["name"] for c in inspector.get_columns(table)}
            for column in ("user_id", "sender_id"):
                if column in columns:
                    n = connection.execute(text(f'SELECT COUNT(*) FROM "{table}" WHERE "{column}" = :u'), {"u": user}).scalar_one()
                    if n:
                        counts[f"{table}.{column}"] = int(n)
    return counts




def say(coach: Any, loop: asyncio.AbstractEventLoop, user: str, message: str) -> Any:
    return loop.run_until_complete(coach.handle(user, message))


def exported(turn: Any) -> dict[str, Any]:
    documents = [r.document for r in turn.replies if r.document]
    assert len(documents) == 1, [r.to_json() for r in turn.replies]
    return json.loads(Path(documents[0]).read_text(encoding="utf-8"))


# --- /export ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_export_is_a_json_document_with_every_table(coach: Any, loop: asyncio.AbstractEventLoop) -> None:
    # Checked by dropping pain_log from knowledge.privacy._user_tables (a copy): the
    # tables assertion fails.
    user = "privacy-export"
    seed(user, "marker-export-1")
    say(coach, loop, user, "how do i do a glute bridge")
    turn = say(coach, loop, user, "/export_data")
    document = exported(turn)
    assert document["user"] == user
    tables = document["tables"]
    assert {"trainees", "pain_log", "checkins", "reminder_deliveries"} <= set(tables)
    assert tables["trainees"][0]["goal"] == "goal marker-export-1"
    for name, rows in tables.items():
        assert all(row.get("user_id", user) == user for row in rows), name


@pytest.mark.slow
def test_export_includes_the_conversation(coach: Any, loop: asyncio.AbstractEventLoop) -> None:
    # MISSING protection (fails today): knowledge.privacy.export_user walks the project's
    # tables only; Rasa's `events` table (every message the person wrote, with its parse) is
    # not in the export. Fix: in actions/privacy.py ActionExport (or export_user), add the
    # tracker's events for the sender, e.g. SELECT type_name, timestamp, data FROM events
    # WHERE sender_id = :user, as "conversation": [{"type", "timestamp", "text"}...].
    user = "privacy-export-conv"
    say(coach, loop, user, "how do i do clams")
    document = exported(say(coach, loop, user, "/export_data"))
    assert "how do i do clams" in json.dumps(document), "the person's own messages are missing from the export"


# --- /delete ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_delete_with_confirmation_erases_every_row(coach: Any, loop: asyncio.AbstractEventLoop) -> None:
    # Checked by answering "/deny" instead of "/delete_confirm": rows remain and the final
    # assertion fails; and (before the bridge deleted Rasa's events) events.sender_id remained.
    user = "privacy-delete"
    other = "privacy-delete-bystander"
    seed(user, "marker-delete")
    seed(other, "marker-bystander")
    say(coach, loop, user, "how do i do a glute bridge")
    say(coach, loop, other, "how do i do clams")
    assert rows_about(user).keys() >= {"trainees.user_id", "pain_log.user_id", "events.sender_id"}

    ask = say(coach, loop, user, "/delete_data")
    payloads = [b.payload for r in ask.replies for b in r.buttons]
    assert "/delete_confirm" in payloads, [r.to_json() for r in ask.replies]
    assert rows_about(user), "nothing may be deleted before the confirmation"
    done = say(coach, loop, user, "/delete_confirm")
    assert any("erased" in r.text for r in done.replies)
    assert rows_about(user) == {}
    # The bystander keeps everything.
    assert rows_about(other).keys() >= {"trainees.user_id", "pain_log.user_id", "events.sender_id"}
    # A later message starts from nothing (no slot, no history comes back).
    tracker = loop.run_until_complete(coach.agent.tracker_store.retrieve_full_tracker(user))
    assert tracker is None or not [e for e in tracker.events if e.type_name == "user"]


@pytest.mark.slow
def test_delete_also_removes_files_written_for_the_user(coach: Any, loop: asyncio.AbstractEventLoop) -> None:
    # MISSING protection (fails today): the export JSON (coach-export-<user>.json) and the
    # progress chart (progress-<user>.png) stay in var/charts after /delete. Fix: in
    # RasaCoach.delete_conversation (bot/rasa_bridge.py), also unlink chart_dir files named
    # for the user (_safe_name(user)); better still, write exports to a temporary file that the
    # front end removes once sent.
    user = "privacy-delete-files"
    seed(user, "marker-files")
    export = exported(say(coach, loop, user, "/export_data"))
    assert export["user"] == user
    say(coach, loop, user, "/delete_data")
    say(coach, loop, user, "/delete_confirm")
    left = [p.name for p in Path(coach.chart_dir).glob("*") if user in p.name]
    assert left == [], f"files about the deleted user remain: {left}"


def sqlite_bytes() -> bytes:
    """The raw bytes of the suite's SQLite database and its WAL, read by another process: a
    close() of any file descriptor on the database in this process would drop the POSIX locks
    of this process's own SQLite connections (and so corrupt the file under concurrent writes)."""
    path = Path(os.environ["DATABASE_URL"].split("sqlite:///", 1)[1])
    files = [str(p) for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return subprocess.run(["cat", *files], check=True, capture_output=True).stdout


@pytest.mark.slow
def test_deleted_words_do_not_stay_in_the_sqlite_files(coach: Any, loop: asyncio.AbstractEventLoop) -> None:
    # Checked without knowledge.db's secure_delete pragma and bot.rasa_bridge's scrub: the
    # marker stayed in the file's free pages and in the WAL (found there minutes later).
    if not os.environ["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite only: secure_delete and the WAL are SQLite's; PostgreSQL's VACUUM is the operator's")
    user = "privacy-scrub"
    marker = f"marker{secrets.token_hex(8)}"
    seed(user, marker)
    say(coach, loop, user, f"how do i do a glute bridge {marker}")
    assert marker.encode() in sqlite_bytes()  # stored, so the check below can see it
    say(coach, loop, user, "/delete_data")
    say(coach, loop, user, "/delete_confirm")
    assert rows_about(user) == {}
    assert marker.encode() not in sqlite_bytes()


# --- one chat never sees another's data ----------------------------------------------------


@pytest.mark.slow
def test_two_users_interleaved_never_see_each_other(coach: Any, loop: asyncio.AbstractEventLoop) -> None:
    # Checked by exporting as the wrong user (say(..., a, ...) for b): the marker assertions fail.
    a, b = "privacy-alice", "privacy-bob"
    seed(a, "marker-alice-7f3")
    seed(b, "marker-bob-9k2")
    script = [
        (a, "how do i do a glute bridge"),
        (b, "my knee caves in"),
        (a, "is there an easier version?"),
        (b, "/ask_progress"),
        (a, "/ask_progress"),
    ]
    replies: dict[str, list[str]] = {a: [], b: []}
    for user, message in script:
        turn = say(coach, loop, user, message)
        assert turn.user == user
        replies[user] += [json.dumps(r.to_json()) for r in turn.replies]
    export_a = json.dumps(exported(say(coach, loop, a, "/export_data")))
    export_b = json.dumps(exported(say(coach, loop, b, "/export_data")))
    assert "marker-alice-7f3" in export_a and "marker-bob-9k2" not in export_a and b not in export_a
    assert "marker-bob-9k2" in export_b and "marker-alice-7f3" not in export_b and a not in export_b
    assert not any("marker-bob" in r or b in r for r in replies[a])
    assert not any("marker-alice" in r or a in r for r in replies[b])
    # Rasa keeps the two conversations apart too.
    tracker_b = loop.run_until_complete(coach.agent.tracker_store.retrieve_full_tracker(b))
    said_b = [e.text for e in tracker_b.events if e.type_name == "user"]
    assert "is there an easier version?" not in said_b and "how do i do a glute bridge" not in said_b


# --- the token -------------------------------------------------------------------------------


class EchoingErrorServer:
    """A Bot API stand-in that answers 500 and quotes the request path (with the token) back,
    as a proxy or a misbehaving server might."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                body = json.dumps({"ok": False, "error_code": 500, "description": f"cannot route {self.path}"}).encode()
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/bot"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("command", ["run", "scheduler"])
@pytest.mark.parametrize("server_kind", ["refused", "echoing-500"])
def test_token_never_in_output_or_logs(command: str, server_kind: str, tmp_path: Path) -> None:
    # Checked by removing the redaction in bot/cli.py _redact and in bot/telegram_main's
    # error path (a copy printing str(exc)): the echoing-500 case prints the token.
    # `run` stops at the token check (getMe) before any model is loaded.
    echo = EchoingErrorServer() if server_kind == "echoing-500" else None
    base_url = echo.base_url if echo else "http://127.0.0.1:9/bot"  # port 9: connection refused
    var = tmp_path / "var"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": base_url,
        "COACH_VAR_DIR": str(var),
        "LOG_LEVEL": "DEBUG",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bot", command], capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=180
        )
    finally:
        if echo:
            echo.close()
    assert proc.returncode != 0, "the command must fail with a bad Telegram URL"
    assert proc.stderr.strip(), "the failure must be explained"
    secret_part = TOKEN.split(":", 1)[1]
    outputs = {"stdout": proc.stdout, "stderr": proc.stderr}
    for log_file in list(var.glob("**/*.log")) + list((PROJECT_ROOT / "var").glob("*.log")):
        outputs[str(log_file)] = log_file.read_text(encoding="utf-8", errors="replace")
    for name, content in outputs.items():
        assert TOKEN not in content and secret_part not in content, f"token in {name}: {content[-800:]}"


def test_logging_setup_redacts_and_never_logs_text_at_info(tmp_path: Path) -> None:
    # Checked by removing RedactingFilter from configure() and the final redact() in
    # JsonFormatter.format: the token shows up in the URL line and in the traceback.
    import io
    import logging

    from bot.logging_setup import configure, correlation, describe_text

    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure("DEBUG", token=TOKEN, stream=stream, file=tmp_path / "coach.log")
        log = logging.getLogger("bot.privacy-test")
        with correlation(user="42") as cid:
            log.info("message received", extra={"fields": {**describe_text("my secret words"), "text": "my secret words"}})
            log.warning("GET https://api.telegram.org/bot%s/getMe failed", TOKEN)
            try:
                raise RuntimeError(f"POST /bot{TOKEN}/sendMessage: 500")
            except RuntimeError:
                log.exception("send failed")
            log.debug("debug may carry text", extra={"fields": {"text": "debug words"}})
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all(line.get("cid") == cid and line.get("user") == "42" for line in lines)
    everything = stream.getvalue() + (tmp_path / "coach.log").read_text()
    assert TOKEN not in everything and TOKEN.split(":")[1] not in everything
    assert "my secret words" not in everything
    assert lines[0]["chars"] == len("my secret words")
    assert "debug words" in everything  # only DEBUG may carry the text


# --- /stats for admins ----------------------------------------------------------------------


async def test_stats_only_for_admins(fake_telegram: FakeTelegram, tmp_path: Path) -> None:
    # MISSING feature (fails today): there is no /stats. Expected: build_application(...,
    # admin_ids=frozenset({...}), sessions=...) registers /stats; for a chat id in ADMIN_IDS it
    # answers aggregate numbers only (trainees, active in the last 7 days, reminders sent today)
    # without calling the coach; for anyone else it answers like an unknown command and shows no
    # numbers. bot/telegram_main.py passes settings.admin_ids.
    from bot.telegram_app import UNKNOWN_COMMAND, build_application, make_rate_limiter, running
    from knowledge.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'stats.db'}")
    create_all(engine)
    with session_factory(engine)() as session:
        for n in range(3):
            session.add(Trainee(user_id=f"stats-{n}", created_at=datetime(2026, 1, 1, tzinfo=UTC), timezone="UTC"))
        session.commit()
    coach = EchoCoach()
    limiter = make_rate_limiter(overall_rate=1000, private_chat_rate=1000, private_chat_burst=100)
    app = build_application(
        coach, fake_telegram.token, fake_telegram.base_url, rate_limiter=limiter,
        sessions=session_factory(engine), admin_ids=frozenset({"111"}),  # type: ignore[call-arg]
    )
    async with running(app, poll_timeout=1):
        fake_telegram.inject_command(111, "stats")
        fake_telegram.inject_command(222, "stats")
        admin = await fake_telegram.wait_for(lambda: fake_telegram.texts_to(111))
        stranger = await fake_telegram.wait_for(lambda: fake_telegram.texts_to(222))
    assert "3" in admin[0] and "trainee" in admin[0].lower()
    assert stranger == [UNKNOWN_COMMAND]
    assert coach.calls == []
    engine.dispose()
