"""Every command of the shared table works inside every form, through the REAL conversation
(Rasa agent + action server + database): the command is answered, and then the form asks its
question again or is left, as bot/commands.py says — never the same question as if the command
were an answer (issue 14: once stuck in onboarding, /export, /delete and /session all got the
question again)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.action_server import ActionServer
from bot.commands import COMMANDS, GOES_ON_IN, IN_FORMS, coach_text

pytestmark = pytest.mark.slow
ONBOARDING = ["/start", "/affirm", "/deny", '/inform{"goal": "back_relief"}', '/inform{"equipment": "none"}',
              '/inform{"experience": "beginner"}', '/inform{"pain": "2"}', '/inform{"time": "07:30"}', "Europe/Berlin"]
# A command that starts the form it interrupts starts it again from its first question (today's
# session is done and waits for its check-in, so /session brings the check-in back).
RESTARTS = {("onboarding_form", "start"), ("weekly_form", "weekly_checkin"), ("checkin_form", "start_session")}


async def into_form(coach, user: str, form: str) -> str:
    """Bring ``user`` to ``form``'s first open question; return that question."""
    async def say(text: str):
        return await coach.handle(user, text)

    if form == "onboarding_form":
        return (await say("/start")).replies[-1].text
    for message in ONBOARDING:
        turn = await say(message)
    assert any("You're set up" in r.text for r in turn.replies), turn.to_json()
    if form == "weekly_form":
        return (await say("/weekly_checkin")).replies[-1].text
    if form == "self_test_form":
        offer = await say("/self_test")
        first = next(b.payload for r in offer.replies for b in r.buttons)
        return (await say(first)).replies[-1].text
    turn = await say("/start_session")
    for _ in range(12):
        if any("Check-in" in r.text for r in turn.replies):
            return turn.replies[-1].text
        turn = await say("/session_done")
    raise AssertionError(f"the session never reached its check-in: {turn.to_json()}")


async def active_loop(coach, user: str) -> str | None:
    tracker = await coach.agent.tracker_store.retrieve(user)
    return tracker.active_loop_name if tracker else None


def test_every_command_works_inside_every_form(trained_model: Path, database_url: str) -> None:
    from bot.rasa_bridge import RasaCoach
    from bot.training import prepare_knowledge

    prepare_knowledge(lambda _m: None)
    failures: list[str] = []

    async def run() -> None:
        with ActionServer(env={"DATABASE_URL": database_url}) as server:
            coach = RasaCoach.load(trained_model, server.url, database_url)
            for form in ("onboarding_form", "checkin_form", "weekly_form", "self_test_form"):
                for spec in COMMANDS:
                    user = f"cmd-in-form-{form}-{spec.command}"
                    question = await into_form(coach, user, form)
                    assert await active_loop(coach, user) == form, (form, question)
                    turn = await coach.handle(user, f"/{spec.command}")
                    texts = [r.text for r in turn.replies if r.text]
                    intent = coach_text(f"/{spec.command}").lstrip("/").split()[0]
                    goes_on = IN_FORMS[intent].then == "answer" or intent in GOES_ON_IN.get(form, set())
                    now = await active_loop(coach, user)
                    problem = None
                    if not texts or texts == [question]:
                        problem = "only the form's question again"
                    elif (form, intent) in RESTARTS:
                        problem = None if now == form else f"not restarted (loop {now})"
                    elif goes_on and (now != form or texts[-1] != question):
                        problem = f"the form did not go on (loop {now}, last {texts[-1][:60]!r})"
                    elif not goes_on and now == form:
                        problem = "the form was not left"
                    elif spec.command == "export" and not any(r.document for r in turn.replies):
                        problem = "no export file"
                    if problem:
                        failures.append(f"{form} /{spec.command}: {problem}: {texts[:3]}")

    asyncio.run(run())
    assert not failures, "\n".join(failures)
