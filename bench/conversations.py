"""The message mix of the load tests: what onboarded trainees say in a day.

Fault reports, "why" questions, how-tos, greetings, thanks, today's session (the /session
command) and its "Done" button presses. Each simulated user walks the same script from its own
starting point, so at any moment the users are at different places in it. Every message has a
Telegram form (text, command or button press) and the text plain Rasa's REST channel receives
for it (a command becomes its intent payload as in :data:`bot.commands.COMMANDS`, a button
its payload).
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("text", "command", "button")


@dataclass(frozen=True)
class Step:
    kind: str  # text | command | button
    text: str  # the text, the command name (no slash) or the button's payload
    category: str
    args: str = ""

    def rasa_text(self) -> str:
        """What plain Rasa's REST webhook receives for this step."""
        if self.kind == "command":
            from bot.commands import COMMANDS

            spec = next(s for s in COMMANDS if s.command == self.text)
            return spec.to_coach_text(self.args.split())
        return self.text


SCRIPT: tuple[Step, ...] = (
    Step("text", "hi", "greeting"),
    Step("text", "my lower back takes over when i do bridges", "fault"),
    Step("text", "why should i keep my pelvis level?", "why"),
    Step("text", "how do i do a glute bridge", "howto"),
    Step("command", "session", "session"),
    Step("button", "/session_done", "session_step"),
    Step("button", "/session_done", "session_step"),
    Step("text", "knees cave in wen i squat", "fault"),
    Step("text", "why ribs down", "why"),
    Step("text", "how to do clamshells", "howto"),
    Step("button", "/session_done", "session_step"),
    Step("text", "hammys cramp every single bridge", "fault"),
    Step("text", "hey coach", "greeting"),
    Step("text", "why push my knees out?", "why"),
    Step("text", "how do i do hip thrusts", "howto"),
    Step("text", "thanks!", "thanks"),
)


def script_for(user_index: int, messages: int) -> list[Step]:
    """``messages`` steps for user ``user_index``, starting at its own offset in the script."""
    start = (user_index * 5) % len(SCRIPT)
    return [SCRIPT[(start + i) % len(SCRIPT)] for i in range(messages)]


def mix(steps: list[Step]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.category] = counts.get(step.category, 0) + 1
    return counts
