"""The real PTB Application, polling the fake Bot API in-process, driven by a fake coach."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from telegram.ext import Application

from bot.telegram_app import (
    APOLOGY,
    COMMANDS,
    NON_TEXT_ANSWER,
    PRIVATE_ONLY,
    SECRET_HEADER,
    UNKNOWN_COMMAND,
    build_application,
    make_rate_limiter,
    running,
    webhook_web_app,
)
from bot.telegram_render import MAX_MESSAGE_LENGTH
from tests.conftest_telegram import EchoCoach, fake_telegram, tiny_png  # noqa: F401
from tests.fake_telegram import FakeTelegram

CHAT = 4242


@pytest.fixture
def coach(tmp_path: Path) -> EchoCoach:
    return EchoCoach(chart_path=tiny_png(tmp_path / "chart.png"))


def make_app(coach: EchoCoach, tg: FakeTelegram, **kwargs: object) -> Application:
    # Fast limits: these tests check behaviour, not pacing.
    limiter = make_rate_limiter(overall_rate=1000, private_chat_rate=1000, private_chat_burst=100)
    return build_application(
        coach, tg.token, tg.base_url, base_file_url=tg.base_file_url, rate_limiter=limiter, **kwargs
    )


@pytest_asyncio.fixture
async def bot_app(coach: EchoCoach, fake_telegram: FakeTelegram) -> AsyncIterator[Application]:
    app = make_app(coach, fake_telegram, coach_timeout_s=0.5)
    async with running(app, poll_timeout=1):
        yield app


async def test_text_round_trips(bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach) -> None:
    fake_telegram.inject_text(CHAT, "hello coach")
    texts = await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT))
    assert texts == ["echo: hello coach"]
    user, text, metadata = coach.calls[0]
    assert (user, text) == (str(CHAT), "hello coach")
    assert metadata is not None and metadata["channel"] == "telegram" and metadata["source"] == "text"
    # No parse mode: whatever the coach says is shown as it is.
    assert "parse_mode" not in fake_telegram.calls_to("sendMessage", CHAT)[0].params


async def test_commands_registered_at_start(bot_app: Application, fake_telegram: FakeTelegram) -> None:
    [call] = fake_telegram.calls_to("setMyCommands")
    assert [c["command"] for c in call.params["commands"]] == [spec.command for spec in COMMANDS]
    assert all(c["description"] for c in call.params["commands"])


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("start", "", "/start"),
        ("session", "", "/start_session"),
        ("progress", "", "/ask_progress"),
        ("why", "", "/ask_why_cue"),
        ("why", "pelvis level", "why pelvis level"),
        ("remind", "", "/set_reminder"),
        ("remind", "07:30", "remind me at 07:30"),
        ("pause", "", "/pause_reminders"),
        ("resume", "", "/resume_reminders"),
        ("help", "", "/help"),
        ("export", "", "/export_data"),
        ("delete", "", "/delete_data"),
        ("warmup", "", "/pre_workout"),
        ("warmup", "squats", "warm up for squats"),
    ],
)
async def test_command_becomes_its_payload(
    bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach, command: str, args: str, expected: str
) -> None:
    fake_telegram.inject_command(CHAT, command, args)
    await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT))
    assert coach.texts() == [expected]
    assert coach.calls[0][2]["source"] == "command"


async def test_unknown_command_is_not_sent_to_coach(
    bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach
) -> None:
    fake_telegram.inject_command(CHAT, "frobnicate")
    assert await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT)) == [UNKNOWN_COMMAND]
    assert coach.calls == []


async def test_button_press_round_trips(
    bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach
) -> None:
    fake_telegram.inject_text(CHAT, "buttons")
    await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT))
    [question] = fake_telegram.calls_to("sendMessage", CHAT)
    buttons = [b for row in question.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["Yes", "No", "Long"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)

    pressed = fake_telegram.inject_callback(CHAT, buttons[0]["callback_data"])
    await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(CHAT)) == 2)
    assert coach.texts()[-1] == "/affirm"
    assert coach.calls[-1][2]["source"] == "button"
    [answer] = fake_telegram.calls_to("answerCallbackQuery")
    assert answer.params["callback_query_id"] == pressed["callback_query"]["id"]
    assert fake_telegram.calls_to("editMessageReplyMarkup", CHAT)  # keyboard taken away

    # A payload over 64 bytes travels under a short key and arrives whole.
    fake_telegram.inject_callback(CHAT, buttons[2]["callback_data"])
    await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(CHAT)) == 3)
    assert coach.texts()[-1] == "/inform" + '{"note":"' + "x" * 80 + '"}'


async def test_unknown_long_payload_key_asks_to_type(
    bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach
) -> None:
    fake_telegram.inject_callback(CHAT, "#p:" + "0" * 32)  # e.g. a button from before a restart
    texts = await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT))
    assert "expired" in texts[0]
    assert fake_telegram.calls_to("answerCallbackQuery")
    assert coach.calls == []


async def test_chart_is_sent_as_photo(bot_app: Application, fake_telegram: FakeTelegram) -> None:
    fake_telegram.inject_text(CHAT, "chart")
    await fake_telegram.wait_for(lambda: len(fake_telegram.messages_to(CHAT)) == 2)
    photo, caption = fake_telegram.messages_to(CHAT)
    assert photo.method == "sendPhoto"
    assert photo.files["photo"].startswith(b"\x89PNG")
    assert caption.params["text"] == "Your progress"


async def test_a_picture_telegram_has_is_sent_by_its_file_id(bot_app: Application, fake_telegram: FakeTelegram) -> None:
    from bot import telegram_render

    telegram_render._PHOTO_IDS.clear()
    fake_telegram.inject_text(CHAT, "chart")
    await fake_telegram.wait_for(lambda: len(fake_telegram.messages_to(CHAT)) == 2)
    fake_telegram.inject_text(CHAT, "chart")
    await fake_telegram.wait_for(lambda: len(fake_telegram.messages_to(CHAT)) == 4)
    first, _, second, _ = fake_telegram.messages_to(CHAT)
    assert first.files["photo"].startswith(b"\x89PNG")
    assert "photo" not in second.files  # not uploaded again
    assert second.params["photo"] in fake_telegram.photo_ids

    # Telegram no longer knows the id (a new token, say): the picture is uploaded again.
    fake_telegram.photo_ids.clear()
    fake_telegram.inject_text(CHAT, "chart")
    await fake_telegram.wait_for(lambda: len(fake_telegram.messages_to(CHAT)) == 6)
    refused = [c for c in fake_telegram.calls_to("sendPhoto", CHAT, ok_only=False) if c.status == 400]
    assert len(refused) == 1
    assert fake_telegram.messages_to(CHAT)[4].files["photo"].startswith(b"\x89PNG")


async def test_bold_names_arrive_as_entities_without_a_parse_mode(bot_app: Application, fake_telegram: FakeTelegram) -> None:
    fake_telegram.inject_text(CHAT, "bold")
    await fake_telegram.wait_for(lambda: len(fake_telegram.messages_to(CHAT)) == 1)
    [sent] = fake_telegram.messages_to(CHAT)
    assert sent.params["text"] == "👋 Next: Bird dog, 2 x 8 <b>as typed</b>"
    assert "parse_mode" not in sent.params
    assert sent.params["entities"] == [{"type": "bold", "offset": 9, "length": 8}]


async def test_long_text_is_split(bot_app: Application, fake_telegram: FakeTelegram) -> None:
    fake_telegram.inject_text(CHAT, "long")
    texts = await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT))
    await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(CHAT)) >= 2)
    texts = fake_telegram.texts_to(CHAT)
    assert all(len(t) <= MAX_MESSAGE_LENGTH for t in texts)
    assert "\n\n".join(texts).count("end.") == 5
    assert all(t.endswith("end.") for t in texts)  # cut between paragraphs


async def test_sticker_gets_polite_text(bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach) -> None:
    fake_telegram.inject_sticker(CHAT)
    fake_telegram.inject_voice(CHAT + 1)
    assert await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT)) == [NON_TEXT_ANSWER]
    assert await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT + 1)) == [NON_TEXT_ANSWER]
    assert coach.calls == []


async def test_edited_message_is_ignored(bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach) -> None:
    fake_telegram.inject_edited_text(CHAT, "edited words")
    fake_telegram.inject_text(CHAT, "after")
    await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT))
    assert fake_telegram.texts_to(CHAT) == ["echo: after"]
    assert coach.texts() == ["after"]


async def test_group_chat_answers_only_when_addressed(
    bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach
) -> None:
    group = -1001234
    fake_telegram.inject_group_text(group, "just chatting")
    fake_telegram.inject_group_text(group, "hello", mention=True)
    fake_telegram.inject_group_text(group, "and you?", reply_to_bot=True)
    fake_telegram.inject_command(group, "start@fake_coach_bot", chat_type="group", from_id=5)
    await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(group)) >= 3)
    fake_telegram.inject_text(CHAT, "sync")  # once this is answered, the group updates are done
    await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT))
    expected = PRIVATE_ONLY.format(username="fake_coach_bot")
    assert fake_telegram.texts_to(group) == [expected] * 3
    assert coach.texts() == ["sync"]


async def test_a_button_pressed_in_a_group_never_reaches_the_coach(
    bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach
) -> None:
    # Before the fix the press went to the coach, which made a trainee record for the group id.
    group = -1005678
    fake_telegram.inject_text(CHAT, "buttons")
    await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT))
    [question] = fake_telegram.calls_to("sendMessage", CHAT)
    data = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    fake_telegram.inject_callback(group, data, chat_type="group", from_id=5)
    await fake_telegram.wait_for(lambda: fake_telegram.texts_to(group))
    assert fake_telegram.texts_to(group) == [PRIVATE_ONLY.format(username="fake_coach_bot")]
    assert fake_telegram.calls_to("answerCallbackQuery")  # the spinner still stops
    assert coach.texts() == ["buttons"]
    assert all(call[0] != str(group) for call in coach.calls)


async def test_coach_error_apologises_and_keeps_running(
    bot_app: Application, fake_telegram: FakeTelegram, coach: EchoCoach, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake_telegram.inject_text(CHAT, "boom")
    assert await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT)) == [APOLOGY]
    fake_telegram.inject_text(CHAT, "slow")  # the fixture's coach timeout is 0.5 s
    await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(CHAT)) == 2)
    fake_telegram.inject_text(CHAT, "still there?")
    await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(CHAT)) == 3)
    assert fake_telegram.texts_to(CHAT) == [APOLOGY, APOLOGY, "echo: still there?"]
    assert "RuntimeError" in caplog.text
    for private in ("boom", "the coach broke", "slow", "still there?", fake_telegram.token):
        assert private not in caplog.text


async def test_typing_shown_only_while_an_answer_takes_long(
    coach: EchoCoach, fake_telegram: FakeTelegram
) -> None:
    app = make_app(coach, fake_telegram, coach_timeout_s=5, typing_after_s=0.1)
    async with running(app, poll_timeout=1):
        fake_telegram.inject_text(CHAT, "quick")
        await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT))
        assert fake_telegram.calls_to("sendChatAction", CHAT) == []
        fake_telegram.inject_text(CHAT, "slowish")  # answers after 0.4 s
        await fake_telegram.wait_for(lambda: len(fake_telegram.texts_to(CHAT)) == 2)
    [typing] = fake_telegram.calls_to("sendChatAction", CHAT)
    assert typing.params["action"] == "typing"
    [_, slow_answer] = fake_telegram.calls_to("sendMessage", CHAT)
    assert typing.at < slow_answer.at
    assert fake_telegram.texts_to(CHAT) == ["echo: quick", "echo: slowish"]


async def test_rate_limited_reply_is_retried(
    bot_app: Application, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail(429, method="sendMessage", chat_id=CHAT, retry_after=1)
    fake_telegram.inject_text(CHAT, "hi")
    assert await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT)) == ["echo: hi"]
    assert [c.status for c in fake_telegram.calls if c.method == "sendMessage"] == [429, 200]


async def test_webhook_checks_secret_token(coach: EchoCoach, fake_telegram: FakeTelegram) -> None:
    app = make_app(coach, fake_telegram, with_updater=False)
    secret = "s3cret-token_1"
    update = {
        "update_id": 1,
        "message": fake_telegram.message(CHAT, "via webhook"),
    }
    async with running(app, poll=False):
        runner = web.AppRunner(webhook_web_app(app, secret, "/hook"))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{port}/hook"
                async with http.post(url, json=update) as response:
                    assert response.status == 403
                async with http.post(url, json=update, headers={SECRET_HEADER: "wrong"}) as response:
                    assert response.status == 403
                async with http.post(url, json=update, headers={SECRET_HEADER: secret}) as response:
                    assert response.status == 200
            assert await fake_telegram.wait_for(lambda: fake_telegram.texts_to(CHAT)) == ["echo: via webhook"]
            assert coach.texts() == ["via webhook"]
        finally:
            await runner.cleanup()


async def test_reminders_run_inside_the_bot_and_their_buttons_reach_the_coach(
    coach: EchoCoach, fake_telegram: FakeTelegram, tmp_path: Path
) -> None:
    from datetime import datetime, timezone

    from knowledge.clock import FixedClock
    from knowledge.db import create_all, make_engine, session_factory
    from tests.conftest_telegram import add_trainee

    engine = make_engine(f"sqlite:///{tmp_path / 'coach.db'}")
    create_all(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        add_trainee(session, str(CHAT), tz="Europe/Berlin", reminder_time="07:30")
    app = make_app(
        coach, fake_telegram, sessions=sessions, reminder_interval_s=0.1,
        reminder_clock=FixedClock(datetime(2026, 6, 1, 6, tzinfo=timezone.utc)),
        reminder_text=lambda user_id, kind: f"custom reminder for {user_id}",
    )
    async with running(app, poll_timeout=1):
        [reminder] = await fake_telegram.wait_for(lambda: fake_telegram.messages_to(CHAT))
        assert reminder.params["text"] == f"custom reminder for {CHAT}"
        snooze = reminder.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        fake_telegram.inject_callback(CHAT, snooze)
        await fake_telegram.wait_for(lambda: coach.texts())
        assert coach.texts() == ["/snooze_reminder"]
    assert len(fake_telegram.messages_to(CHAT)) == 2  # the reminder and the echo, nothing more
    engine.dispose()
