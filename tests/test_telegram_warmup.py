"""/warmup through the real bot process on the fake Bot API: the activity menu, the primer, the
follow-up (drills done and felt, a fault noticed in the lift) stored with the day's record,
in /export, and gone after /delete."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from knowledge.db import create_all, make_engine, session_factory
from knowledge.primer_models import PrimerRecord
from knowledge.progression import load_coach_content
from tests.test_telegram_real import (
    DAY, CountingTelegram, Process, Trainee_, bot_env, buttons, fresh_chat_id, ist, set_now,
)


@pytest.mark.slow
async def test_warmup_menu_primer_and_follow_up(trained_model: Path, tmp_path: Path, database_url: str) -> None:
    chat = int(fresh_chat_id())
    now_file = tmp_path / "now"
    set_now(now_file, ist(DAY, 17, 30))
    titles = {e.title for e in load_coach_content().catalogue.by_id.values()}
    async with CountingTelegram() as tg:
        bot = Process(["run"], bot_env(tg, now_file), tmp_path / "bot.log").start()
        try:
            commands = await tg.wait_for(lambda: tg.calls_to("setMyCommands"), timeout=600)
            assert "warmup" in [c["command"] for c in commands[0].params["commands"]]
            me = Trainee_(tg, chat)

            me.command("warmup")
            menu = await me.expect("What are you about to do?")
            assert {"Squat", "Running", "Deadlift and hinge"} <= {b["text"] for b in buttons(menu)}
            me.press(menu, "Squat")
            primer = await me.expect("Squat primer, about")
            drills = [line[2:].split(":")[0] for line in primer.params["text"].splitlines() if line.startswith("• ")]
            assert drills and set(drills) <= titles, drills
            cues = await me.expect("Take these into the squat:")
            titles_pressable = [b["text"] for b in buttons(cues)]
            assert any(t.startswith("Why “") for t in titles_pressable), titles_pressable
            offer = await me.expect("That's the default primer")  # nobody set up yet
            assert [b["text"] for b in buttons(offer)] == ["Set me up"]

            # The why of a cue is one tap away, through the existing why-answer.
            me.press(cues, next(t for t in titles_pressable if t.startswith("Why “")))
            await me.expect("Why: ")

            # Drills done and felt: stored, and the question for after the lift.
            me.press(primer, "Done: felt my glutes")
            await me.expect("Good: the glutes are awake.")
            me.type("my lower back did all the work on the squats")
            await me.expect("I've noted that with today's primer.")

            engine = make_engine(database_url)
            create_all(engine)
            with session_factory(engine)() as session:
                [row] = session.execute(select(PrimerRecord).where(PrimerRecord.user_id == str(chat))).scalars().all()
                assert (row.activity_id, row.drills_done, row.felt, row.local_date) == ("lift_squat", True, "glutes", DAY)
                assert row.fault_id == "lumbar_dominance" and row.exercises

            me.command("export")
            sent = await tg.wait_for(lambda: tg.calls_to("sendDocument", chat), timeout=90)
            exported = json.loads(sent[0].files["document"])
            [record] = exported["tables"]["primer_records"]
            assert (record["activity_id"], record["felt"], record["fault_id"]) == ("lift_squat", "glutes", "lumbar_dominance")

            me.command("delete")
            me.press(await me.expect("This erases everything"), "Yes, delete everything")
            await me.expect("Done: everything about you is erased.")
            with session_factory(engine)() as session:
                assert session.execute(select(PrimerRecord).where(PrimerRecord.user_id == str(chat))).all() == []
            engine.dispose()
            assert await bot.stop() == 0, bot.output()
        finally:
            bot.kill()
