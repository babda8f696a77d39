"""The one table of commands, and what each intent does inside a form.

- :data:`COMMANDS` is what Telegram shows in its menu and what the coach receives for each
  command. Every channel reads it: Telegram's handlers, and ``say``/``chat`` through
  :func:`coach_text`, which the Rasa bridge applies to every message (so "/pause" pauses the
  reminders in the terminal too, as on Telegram).
- :data:`IN_FORMS` says, for each intent that can interrupt a form question, which action
  answers it and whether the form then asks its question again ("answer") or is left ("leave":
  the form's answers so far are kept, so onboarding goes on from where it stopped next time).
  ``data/rules_interruptions.yml`` is written from it (:func:`interruption_rules`;
  ``python -m bot.commands`` rewrites the file, and a test checks it is current), and every form
  slot's text mapping must not take these intents as answers (domain.yml; a test checks).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RULES_FILE = Path(__file__).resolve().parent.parent / "data" / "rules_interruptions.yml"
FORMS = ("onboarding_form", "checkin_form", "weekly_form", "self_test_form")


@dataclass(frozen=True)
class CommandSpec:
    """A Telegram command and the Rasa payload it stands for. With arguments and an
    ``args_text`` template, the arguments are sent as a sentence instead (``{args}``)."""

    command: str
    payload: str
    description: str
    args_text: str | None = None

    def to_coach_text(self, args: list[str]) -> str:
        if args and self.args_text:
            return self.args_text.format(args=" ".join(args))
        return self.payload


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "/start", "Start (or restart) with the coach"),
    CommandSpec("session", "/start_session", "Today's session"),
    CommandSpec("warmup", "/pre_workout", "A short primer before you train, e.g. /warmup squats", "warm up for {args}"),
    CommandSpec("progress", "/ask_progress", "How you are doing"),
    CommandSpec("checkin", "/weekly_checkin", "Weekly check-in: pain, tasks, change"),
    CommandSpec("selftest", "/self_test", "A two-minute self-test, e.g. /selftest single leg stance", "self test {args}"),
    CommandSpec("why", "/ask_why_cue", "Why a cue matters, e.g. /why pelvis level", "why {args}"),
    CommandSpec("remind", "/set_reminder", "Daily reminder time, e.g. /remind 07:30", "remind me at {args}"),
    CommandSpec("pause", "/pause_reminders", "Pause reminders"),
    CommandSpec("resume", "/resume_reminders", "Resume reminders"),
    CommandSpec("help", "/help", "What I can do"),
    CommandSpec("export", "/export_data", "Export your data"),
    CommandSpec("delete", "/delete_data", "Delete your data"),
)
_BY_NAME = {spec.command: spec for spec in COMMANDS}
_COMMAND_LINE = re.compile(r"/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?", re.DOTALL)


def coach_text(text: str) -> str:
    """What the coach receives for ``text``: a command of the table ("/pause", "/why pelvis
    level", "/session@CoachBot") becomes its payload or sentence; anything else is unchanged
    (intent payloads such as "/start_session" are not command names)."""
    match = _COMMAND_LINE.fullmatch(text.strip())
    spec = _BY_NAME.get(match.group(1).lower()) if match else None
    if spec is None:
        return text
    return spec.to_coach_text((match.group(2) or "").split())


@dataclass(frozen=True)
class InForm:
    action: str
    then: str  # "answer": the form asks its question again; "leave": the form is left
    starts: str | None = None  # the form the action opens next, when it opens one itself


IN_FORMS: dict[str, InForm] = {
    # Side questions and reports: answered, then the question again.
    "report_fault": InForm("action_report_fault", "answer"),
    "ask_why_cue": InForm("action_why_cue", "answer"),
    "ask_howto": InForm("action_howto", "answer"),
    "ask_easier": InForm("action_easier", "answer"),
    "ask_harder": InForm("action_harder", "answer"),
    "ask_alternative": InForm("action_alternative", "answer"),
    "report_soreness": InForm("action_report_soreness", "answer"),
    "help": InForm("utter_help", "answer"),
    "bot_challenge": InForm("utter_bot_challenge", "answer"),
    "out_of_scope": InForm("utter_out_of_scope", "answer"),
    "greet": InForm("action_greet", "answer"),
    # Commands that answer and let the form go on.
    "ask_progress": InForm("action_progress", "answer"),
    "export_data": InForm("action_export", "answer"),
    "pause_reminders": InForm("action_pause_reminders", "answer"),
    "resume_reminders": InForm("action_resume_reminders", "answer"),
    # Commands that start something else: the form is left.
    "start": InForm("action_start", "leave", starts="onboarding_form"),
    "start_session": InForm("action_start_session", "leave"),
    "delete_data": InForm("action_delete_request", "leave"),
    "pre_workout": InForm("action_pre_workout", "leave"),
    "weekly_checkin": InForm("action_weekly_start", "leave"),
    "self_test": InForm("action_self_test", "leave"),
    "set_reminder": InForm("action_set_reminder", "leave"),
    "leave_form": InForm("action_leave_form", "leave"),
    "snooze_reminder": InForm("action_leave_form", "leave"),  # "later"
    "session_pause": InForm("action_leave_form", "leave"),  # "need to stop for a bit"
}
# During onboarding, what needs a set-up person says so and onboarding goes on.
GOES_ON_IN = {"onboarding_form": {"start_session", "pre_workout", "weekly_checkin", "self_test", "set_reminder"}}
# The self-test's answer is a free description ("my hip dropped"), which may read as a fault
# report: there, those words are the answer, not a side question.
ANSWERS_IN = {"self_test_form": {"report_fault", "report_soreness", "out_of_scope"}}

def interrupting(form: str) -> list[str]:
    """The intents that interrupt ``form`` (its text mappings must not take them as answers)."""
    return [intent for intent in IN_FORMS if intent not in ANSWERS_IN.get(form, set())]


def interruption_rules() -> str:
    """The text of data/rules_interruptions.yml."""
    out = ['version: "3.1"',
           "# Written by `python -m bot.commands` from bot/commands.py IN_FORMS: do not edit by hand.",
           "# A question, report or command in the middle of a form is answered first; the form then",
           "# asks again, or is left when the command starts something else.",
           "rules:"]
    for form in FORMS:
        for intent in interrupting(form):
            what = IN_FORMS[intent]
            then = "answer" if intent in GOES_ON_IN.get(form, set()) else what.then
            out += ["", f"- rule: {intent} during {form}", "  condition:", f"  - active_loop: {form}", "  steps:",
                    f"  - intent: {intent}"]
            if then == "answer":
                out += [f"  - action: {what.action}", f"  - action: {form}", f"  - active_loop: {form}"]
            else:
                out += ["  - action: action_deactivate_loop", "  - active_loop: null", f"  - action: {what.action}"]
                if what.starts:
                    out += [f"  - action: {what.starts}", f"  - active_loop: {what.starts}"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    RULES_FILE.write_text(interruption_rules(), encoding="utf-8")
    print(f"wrote {RULES_FILE}")
