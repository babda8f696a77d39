"""The real bot process on the fake Bot API (``python -m bot run`` / ``python -m bot scheduler``)
and the reminder's text (:mod:`bot.telegram_main`).

The long test (marked ``slow``: it loads the Rasa model, twice) talks to the bot only through
tests/fake_telegram.py, as a trainee would: commands, typed answers and button presses in,
the bot's messages out. Time is the fake instant in ``COACH_FAKE_NOW_FILE``, which the bot, its
reminder scheduler and the action server all read, so days pass without waiting.
"""
from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.scheduler import REMINDER_BUTTONS
from bot.telegram_main import EnvClock
from knowledge.reminder_text import plain_reminder, reminder_text, reminder_texts
from knowledge import coaching
from knowledge.clock import FixedClock
from knowledge.db import create_all, make_engine, session_factory
from knowledge.progression import load_coach_content
from knowledge.reminder_models import KIND_DAILY, KIND_SNOOZE, ReminderDelivery
from knowledge.trainee_models import ProgressionChange, Trainee
from tests.fake_telegram import ApiCall, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123:TEST"
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+5:30: a half-hour offset shows any UTC mix-up
DAY = date(2030, 3, 4)  # the trainee's first day (a Monday)
PLAIN_REMINDER = plain_reminder(KIND_DAILY)
SNOOZE_REMINDER = plain_reminder(KIND_SNOOZE)


def ist(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=KOLKATA)


# --- the reminder's text (no process) ---------------------------------------------------------


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Any]:
    engine = make_engine(f"sqlite:///{tmp_path / 'coach.db'}")
    create_all(engine)
    yield engine
    engine.dispose()


def onboard(engine: Any, user: str, clock: FixedClock) -> None:
    coaching.save_onboarding(engine, user, goal="stronger glutes", equipment=["none"], experience="beginner",
                             baseline_pain=2, timezone="Asia/Kolkata", clock=clock)
    coaching.set_reminder(engine, user, "09:00", clock=clock)


def train(engine: Any, user: str, clock: FixedClock) -> None:
    step = coaching.start_or_resume_session(engine, user, clock=clock)
    while step.kind == "exercise":
        step = coaching.session_event(engine, user, "done", clock=clock)
    assert step.kind == "checkin"


def text_at(engine: Any, user: str, at: datetime, kind: str = KIND_DAILY) -> str:
    with session_factory(engine)() as session:
        return reminder_text(session, user, kind, FixedClock(at))


def test_reminder_text_follows_the_trainees_record(engine: Any) -> None:
    clock = FixedClock(ist(DAY, 8, 0))
    assert text_at(engine, "stranger", ist(DAY, 9, 1)) == PLAIN_REMINDER  # no trainee
    onboard(engine, "u1", clock)
    assert text_at(engine, "u1", ist(DAY, 9, 1)) == PLAIN_REMINDER  # first day: nothing missed
    train(engine, "u1", clock)
    assert "already done" in text_at(engine, "u1", ist(DAY, 9, 1))
    assert text_at(engine, "u1", ist(DAY + timedelta(days=1), 9, 1)) == PLAIN_REMINDER

    # Day 2 skipped: on day 3 it asks what got in the way; "Start now" would give the full
    # session, so the 5-minute version is offered as skipping what does not fit.
    missed_one = text_at(engine, "u1", ist(DAY + timedelta(days=2), 9, 1))
    assert missed_one.startswith("Yesterday's session didn't happen. What got in the way?")
    assert "skip what doesn't fit" in missed_one and "5-minute version" in missed_one
    assert "No session for 2 days" in text_at(engine, "u1", ist(DAY + timedelta(days=3), 9, 1))

    # Three days missed: the coach shortens the next session by itself, so "Start now" gets it.
    day5 = DAY + timedelta(days=4)
    missed_three = text_at(engine, "u1", ist(day5, 9, 1))
    assert missed_three.startswith("No session for 3 days. What got in the way?")
    assert "5-minute version to get going again: tap Start now" in missed_three
    assert text_at(engine, "u1", ist(day5, 9, 1), KIND_SNOOZE) == SNOOZE_REMINDER

    # The gap is handled at the first contact (deload recorded, short version next); the
    # reminder still offers it; once today's session is under way it points back to it.
    clock.set(ist(day5, 9, 30))
    contact = coaching.first_contact_of_day(engine, "u1", clock=clock)
    assert contact.offer_short_version
    assert "5-minute version to get going again" in text_at(engine, "u1", ist(day5, 9, 31))
    coaching.start_or_resume_session(engine, "u1", clock=clock)
    coaching.session_event(engine, "u1", "done", clock=clock)
    assert "waiting where you left off" in text_at(engine, "u1", ist(day5, 10, 0))


def test_reminders_composed_together_match_each_composed_alone(engine: Any) -> None:
    # The scheduler composes a batch's texts in a few queries for all its trainees; no trainee's
    # record may leak into another's text.
    at = ist(DAY + timedelta(days=4), 9, 31)
    for user, trained_on in {"done-today": [0, 4], "done-yesterday": [3], "missed-one": [2],
                             "missed-three": [0], "new": []}.items():
        onboard(engine, user, FixedClock(ist(DAY, 8, 0)))
        for day in trained_on:
            train(engine, user, FixedClock(ist(DAY + timedelta(days=day), 8, 30)))
    wanted = [("missed-three", KIND_DAILY), ("done-today", KIND_DAILY), ("stranger", KIND_DAILY),
              ("missed-one", KIND_DAILY), ("missed-three", KIND_SNOOZE), ("done-yesterday", KIND_DAILY),
              ("new", KIND_DAILY)]
    with session_factory(engine)() as session:
        together = reminder_texts(session, wanted, FixedClock(at))
    alone = [text_at(engine, user, at, kind) for user, kind in wanted]
    assert together == alone
    assert together[0].startswith("No session for 3 days") and "already done" in together[1]
    assert together[3].startswith("Yesterday's session didn't happen")
    assert together[2] == together[5] == PLAIN_REMINDER and together[4] == SNOOZE_REMINDER


def test_composing_a_reminder_changes_nothing(engine: Any) -> None:
    clock = FixedClock(ist(DAY, 8, 0))
    onboard(engine, "u2", clock)
    train(engine, "u2", clock)
    sessions = session_factory(engine)

    def snapshot() -> tuple[Any, ...]:
        with sessions() as session:
            t = session.get(Trainee, "u2")
            changes = session.execute(select(func.count()).select_from(ProgressionChange)).scalar()
            return (t.last_contact_on, t.start_short_next, t.reduce_volume_next, changes)

    before = snapshot()
    for days in range(1, 6):
        text_at(engine, "u2", ist(DAY + timedelta(days=days), 9, 1))
    assert snapshot() == before


def test_env_clock_reads_the_fake_instant_on_every_call(tmp_path: Path) -> None:
    path = tmp_path / "now"
    clock = EnvClock(str(path))
    assert abs((clock.now() - datetime.now(timezone.utc)).total_seconds()) < 60  # no file: real time
    path.write_text("2030-03-04T03:00:00+00:00")
    assert clock.now() == datetime(2030, 3, 4, 3, 0, tzinfo=timezone.utc)
    path.write_text("2030-03-05T03:31:00+00:00")
    assert clock.now() == datetime(2030, 3, 5, 3, 31, tzinfo=timezone.utc)


# --- processes --------------------------------------------------------------------------------


class CountingTelegram(FakeTelegram):
    """The fake Bot API, also counting getUpdates calls (which it does not record)."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(token=token)
        self.get_updates_calls = 0

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.get_updates_calls += 1
        return await super()._get_updates(params)


class Process:
    """``python -m bot <args>`` with its output in a file (read it on failure)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Process":
        handle = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *self.args], cwd=ROOT, env=self.env,
            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        handle.close()
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def wait(self, timeout: float = 120) -> int:
        assert self.proc is not None
        return await asyncio.to_thread(self.proc.wait, timeout)

    async def stop(self, timeout: float = 120) -> int:
        """SIGTERM, then the exit code (the event loop keeps serving the fake API meanwhile)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def bot_env(tg: FakeTelegram, now_file: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("ACTION_SERVER_URL", "TELEGRAM_WEBHOOK_SECRET", "REDIS_URL"):
        env.pop(key, None)
    env.update(
        TELEGRAM_BOT_TOKEN=tg.token,
        TELEGRAM_BASE_URL=tg.base_url,
        DATABASE_URL=os.environ["DATABASE_URL"],
        COACH_FAKE_NOW_FILE=str(now_file),
        COACH_REMINDER_INTERVAL="0.3",
        RASA_TELEMETRY_ENABLED="false",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def fresh_chat_id() -> str:
    """A trainee no earlier run left in the suite's database (which may be a shared PostgreSQL)."""
    return str(5_000_000_000 + secrets.randbelow(1_000_000_000))


def set_now(now_file: Path, at: datetime) -> None:
    tmp = now_file.with_suffix(".tmp")
    tmp.write_text(at.astimezone(timezone.utc).isoformat())
    tmp.replace(now_file)  # atomic: a reader never sees half an instant


async def test_bad_token_is_one_clear_line_without_the_token(tmp_path: Path) -> None:
    async with CountingTelegram() as tg:
        wrong = "123:WRONG-secret-value"
        env = bot_env(tg, tmp_path / "now", TELEGRAM_BOT_TOKEN=wrong)
        process = Process(["run"], env, tmp_path / "bot.log").start()
        try:
            code = await process.wait(120)
        finally:
            process.kill()
    out = process.output()
    assert code == 2, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in errors[0] and "@BotFather" in errors[0]
    assert "WRONG-secret-value" not in out
    assert "Traceback" not in out


async def test_bad_reminder_interval_is_refused(tmp_path: Path) -> None:
    async with CountingTelegram() as tg:
        env = bot_env(tg, tmp_path / "now", COACH_REMINDER_INTERVAL="soon")
        process = Process(["scheduler"], env, tmp_path / "scheduler.log").start()
        try:
            code = await process.wait(120)
        finally:
            process.kill()
    assert code == 2
    assert "error: COACH_REMINDER_INTERVAL='soon' is not a number" in process.output()


async def test_scheduler_worker_sends_due_reminders_and_never_polls(tmp_path: Path, database_url: str) -> None:
    user = fresh_chat_id()
    engine = make_engine(database_url)
    create_all(engine)
    clock = FixedClock(ist(DAY, 8, 0))
    onboard(engine, user, clock)
    train(engine, user, clock)
    now_file = tmp_path / "now"
    set_now(now_file, ist(DAY + timedelta(days=2), 9, 5))  # the day after a missed day
    async with CountingTelegram() as tg:
        process = Process(["scheduler"], bot_env(tg, now_file), tmp_path / "scheduler.log").start()
        try:
            reminder = await tg.wait_for(lambda: tg.calls_to("sendMessage", int(user)), timeout=120)
            assert await process.stop() == 0, process.output()
        finally:
            process.kill()
        assert tg.get_updates_calls == 0
    [call] = reminder
    assert call.params["text"].startswith("Yesterday's session didn't happen. What got in the way?")
    assert "5-minute version" in call.params["text"]
    assert [b["text"] for b in buttons(call)] == [title for title, _ in REMINDER_BUTTONS]
    with session_factory(engine)() as session:
        [row] = session.query(ReminderDelivery).filter(ReminderDelivery.user_id == user).all()
        assert (row.state, row.local_date) == ("sent", DAY + timedelta(days=2))
    engine.dispose()
    assert "Stopped." in process.output()


# --- the whole bot ----------------------------------------------------------------------------


def buttons(call: ApiCall) -> list[dict[str, str]]:
    markup = call.params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


class Trainee_:
    """One chat with the bot through the fake API."""

    def __init__(self, tg: FakeTelegram, chat: int) -> None:
        self.tg, self.chat = tg, chat
        self.seen = 0  # messages already read

    def _new(self) -> list[ApiCall]:
        return self.tg.messages_to(self.chat)[self.seen:]

    async def expect(self, needle: str, timeout: float = 90) -> ApiCall:
        """The first new message whose text contains ``needle``; marks everything up to it read."""
        def find() -> ApiCall | None:
            for call in self._new():
                if needle in (call.params.get("text") or call.params.get("caption") or ""):
                    return call
            return None

        try:
            call = await self.tg.wait_for(find, timeout)
        except AssertionError:
            shown = [(c.params.get("text") or c.params.get("caption") or c.method)[:160] for c in self._new()]
            raise AssertionError(f"no message with {needle!r} within {timeout}s; new messages: {shown}") from None
        self.seen = self.tg.messages_to(self.chat).index(call) + 1
        return call

    def command(self, name: str, args: str = "") -> None:
        self.tg.inject_command(self.chat, name, args)

    def type(self, text: str) -> None:
        self.tg.inject_text(self.chat, text)

    def press(self, message: ApiCall, title: str) -> dict[str, Any]:
        """Press the button titled ``title`` under ``message``; returns the injected update."""
        found = [b for b in buttons(message) if b["text"] == title]
        assert found, f"no button {title!r} in {[b['text'] for b in buttons(message)]}"
        return self.tg.inject_callback(self.chat, found[0]["callback_data"])

    def texts(self) -> list[str]:
        return self.tg.texts_to(self.chat)


STEP = re.compile(r"(\d+)/(\d+): (.+?) — ")


async def run_session(me: Trainee_, first: ApiCall) -> list[str]:
    """Press Done on every exercise from ``first``; returns the exercise titles shown."""
    titles: list[str] = []
    step = first
    while True:
        match = STEP.search(step.params["text"])
        assert match, step.params["text"]
        position, total, title = int(match[1]), int(match[2]), match[3]
        assert position == len(titles) + 1
        titles.append(title)
        assert [b["text"] for b in buttons(step)][0].startswith("Done")
        me.press(step, buttons(step)[0]["text"])
        if position == total:
            return titles
        step = await me.expect(f"{position + 1}/{total}: ")


@pytest.mark.slow
async def test_real_bot_on_the_fake_api(trained_model: Path, tmp_path: Path) -> None:
    chat = int(fresh_chat_id())
    now_file = tmp_path / "now"
    set_now(now_file, ist(DAY, 8, 30))
    catalogue_titles = {e.title for e in load_coach_content().catalogue.by_id.values()}
    async with CountingTelegram() as tg:
        env = bot_env(tg, now_file)
        bot = Process(["run"], env, tmp_path / "bot.log").start()
        try:
            await tg.wait_for(lambda: tg.calls_to("setMyCommands"), timeout=600)
            me = Trainee_(tg, chat)

            # --- onboarding: buttons pressed, values typed --------------------------------------
            me.command("start")
            consent = await me.expect("Shall we go on?")
            # Only the welcome comes before the first question (no complaints about empty answers).
            assert me.texts()[:2] == ["Welcome! A few questions so I can fit the routine to you.", consent.params["text"]]
            pressed = me.press(consent, "Yes, let's go")
            screen = await me.expect("A quick safety check")
            # The press round-trips: answered (spinner stopped), keyboard taken away.
            await tg.wait_for(lambda: any(
                c.params.get("callback_query_id") == pressed["callback_query"]["id"]
                for c in tg.calls_to("answerCallbackQuery")))
            assert tg.calls_to("editMessageReplyMarkup", chat)
            me.press(screen, "No, none of these")
            me.press(await me.expect("What's your main goal?"), "Stronger glutes")
            me.press(await me.expect("What equipment do you have"), "Resistance band")
            me.press(await me.expect("How much strength training"), "New to it")
            await me.expect("How much does your back hurt right now")
            me.type("2")
            await me.expect("What time should I remind you each day?")
            me.type("09:00")
            await me.expect("Which time zone are you in?")
            me.type("Asia/Kolkata")
            done = await me.expect("You're set up.")
            assert "I'll remind you every day at 09:00 (Asia/Kolkata)" in done.params["text"]

            # --- today's session: every exercise done, then the check-in --------------------------
            me.command("session")
            first_step = await me.expect("1/")
            # Each step comes with its exercise's picture, just before the step's text.
            sent = tg.messages_to(chat)
            picture = sent[sent.index(first_step) - 1]
            assert picture.method == "sendPhoto" and picture.files["photo"].startswith(b"\x89PNG"), "no picture with the step"
            titles = await run_session(me, first_step)
            assert titles and set(titles) <= catalogue_titles, titles
            await me.expect("How much pain do you feel right now")
            me.type("1")
            await me.expect("Did you feel it in your glutes?")
            me.type("7")
            me.press(await me.expect("And the effort?"), "About right")
            answer = await me.expect("")  # the check-in's answer
            assert "My progress" in [b["text"] for b in buttons(answer)]
            photos_before = len(tg.calls_to("sendPhoto", chat))
            me.command("progress")
            summary = await me.expect("This week: 1 of")
            photo = (await tg.wait_for(lambda: tg.calls_to("sendPhoto", chat)[photos_before:]))
            assert photo[0].files["photo"].startswith(b"\x89PNG\r\n\x1a\n")
            assert len(photo[0].files["photo"]) > 1000  # a drawn chart, not a placeholder
            png = photo[0].files["photo"]
            width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
            assert height > width  # the four panels: sessions, pain, glute feel, weeks
            assert "Streak: 1 day" in summary.params["text"]
            assert "Completion: 1 of 1 day since you started." in summary.params["text"]
            # 08:30 in Kolkata all along: the 09:00 reminder has not gone out.
            assert not [t for t in me.texts() if t in (PLAIN_REMINDER, SNOOZE_REMINDER)]

            # --- day 2, 09:01 in Kolkata (03:31 UTC): the reminder ------------------------------
            day2 = DAY + timedelta(days=1)
            set_now(now_file, ist(day2, 9, 1))
            reminder = await me.expect(PLAIN_REMINDER)
            assert [b["text"] for b in buttons(reminder)] == [t for t, _ in REMINDER_BUTTONS]
            me.press(reminder, "In an hour")
            await me.expect("I'll remind you again in an hour")

            # --- restart mid-day: SIGTERM stops cleanly, the new process does not repeat ---------
            assert await bot.stop() == 0, bot.output()
            first_run = bot.output()
            assert "Stopped." in first_run and "Traceback" not in first_run
            assert TOKEN not in first_run
            commands_before = len(tg.calls_to("setMyCommands"))
            bot = Process(["run"], env, tmp_path / "bot2.log").start()
            await tg.wait_for(lambda: len(tg.calls_to("setMyCommands")) > commands_before, timeout=600)
            set_now(now_file, ist(day2, 10, 2))  # the snoozed reminder is due
            snoozed = await me.expect(SNOOZE_REMINDER)
            me.command("help")  # one more turn: whatever the scheduler's round sent is in by now
            await me.expect("Here's what I can do")
            assert me.texts().count(PLAIN_REMINDER) == 1
            assert me.texts().count(SNOOZE_REMINDER) == 1
            assert buttons(snoozed)

            # --- day 4: days 2 and 3 were missed -----------------------------------------------
            set_now(now_file, ist(DAY + timedelta(days=3), 9, 1))
            missed = await me.expect("What got in the way?")
            assert missed.params["text"].startswith("No session for 2 days.")
            assert "5-minute version" in missed.params["text"]

            # --- day 5: three missed, "Start now" gets the 5-minute version --------------------
            set_now(now_file, ist(DAY + timedelta(days=4), 9, 1))
            offer = await me.expect("No session for 3 days.")
            assert "5-minute version to get going again: tap Start now" in offer.params["text"]
            me.press(offer, "Start now")
            question = await me.expect("Want the 5-minute version today")
            # The offer waits for its answer, with a button for each choice.
            assert [b["text"] for b in buttons(question)] == ["5-minute version", "Full session"]
            steps_before = len([t for t in me.texts() if STEP.search(t)])
            await asyncio.sleep(1.5)  # a turn's replies go out back to back: a step would be here
            assert len([t for t in me.texts() if STEP.search(t)]) == steps_before, "a session started under the question"
            me.press(question, "5-minute version")
            step = await me.expect("1/")
            assert STEP.search(step.params["text"])[3] in catalogue_titles
            assert int(STEP.search(step.params["text"])[2]) <= 3  # the 5-minute version
            # The session's opening sentence is said once, in its first step.
            assert not [t for t in me.texts() if t.startswith("Today's session, about")]
            assert await bot.stop() == 0, bot.output()
        finally:
            bot.kill()
        assert TOKEN not in bot.output()
