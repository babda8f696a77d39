"""The one command table (bot/commands.py): every channel reads it, the form-interruption rules
are written from it, and no form slot takes an interrupting intent as its answer."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import commands

ROOT = Path(__file__).resolve().parent.parent


def test_the_interruption_rules_file_is_written_from_the_table() -> None:
    assert commands.RULES_FILE.read_text(encoding="utf-8") == commands.interruption_rules(), (
        "data/rules_interruptions.yml is out of date: run `python -m bot.commands`")


def test_every_command_of_the_table_interrupts_every_form() -> None:
    rules = yaml.safe_load(commands.RULES_FILE.read_text(encoding="utf-8"))["rules"]
    covered = {(r["condition"][0]["active_loop"], r["steps"][0]["intent"]) for r in rules}
    command_intents = {spec.payload.lstrip("/") for spec in commands.COMMANDS}
    assert command_intents <= set(commands.IN_FORMS), command_intents - set(commands.IN_FORMS)
    for form in commands.FORMS:
        assert {(form, intent) for intent in command_intents} <= covered, form


def test_no_form_slot_takes_an_interrupting_intent_as_its_answer() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    checked = 0
    for slot, spec in domain["slots"].items():
        for mapping in spec.get("mappings", []):
            if mapping.get("type") != "from_text":
                continue
            form = mapping["conditions"][0]["active_loop"]
            missing = {"red_flag", *commands.interrupting(form)} - set(mapping.get("not_intent") or [])
            assert not missing, (slot, missing)
            checked += 1
    assert checked >= 15


@pytest.mark.parametrize("typed, sent", [
    ("/pause", "/pause_reminders"), ("/resume", "/resume_reminders"), ("/delete", "/delete_data"),
    ("/export", "/export_data"), ("/session", "/start_session"), ("/session@GluteCoachBot", "/start_session"),
    ("/why pelvis level", "why pelvis level"), ("/remind 07:30", "remind me at 07:30"), ("/start", "/start"),
    # Intent payloads, buttons, unknown commands and ordinary text are left as they are.
    ("/start_session", "/start_session"), ('/inform{"pain": "2"}', '/inform{"pain": "2"}'), ("/nope", "/nope"),
    ("please /pause", "please /pause"),
])
def test_commands_mean_the_same_in_every_channel(typed: str, sent: str) -> None:
    assert commands.coach_text(typed) == sent


def test_telegram_uses_the_same_table() -> None:
    from bot import telegram_app

    assert telegram_app.COMMANDS is commands.COMMANDS
    # Translating twice changes nothing (Telegram's handlers translate, and so does the bridge).
    for spec in commands.COMMANDS:
        assert commands.coach_text(spec.payload) == spec.payload
