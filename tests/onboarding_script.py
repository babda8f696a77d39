"""The messages that take a new user through onboarding, one per question (shared by the tests
that need a user standing at a given question)."""
from __future__ import annotations

ONBOARDING = ["/start", "/affirm", "/deny", '/inform{"goal": "back_relief"}', '/inform{"equipment": "none"}',
              '/inform{"experience": "beginner"}', '/inform{"pain": "2"}', '/inform{"time": "07:30"}', "Europe/Berlin"]
# The question each message above is answered at: after ONBOARDING[: i + 1], QUESTIONS[i] is open.
QUESTIONS = ["consent", "screen_clear", "goal", "equipment", "experience", "current_pain", "reminder_time", "timezone"]


def up_to(question: str) -> list[str]:
    """The messages after which ``question`` is the open one."""
    return ONBOARDING[: QUESTIONS.index(question) + 1]
