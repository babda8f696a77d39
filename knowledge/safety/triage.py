"""What the safety path does with one message, before any form or intent sees it.

Order (docs/safety.md): a question the screen is waiting on is answered first; then the screen
runs on the message; then, if a red flag paused coaching, coaching requests get a short reminder
of the advice and "a doctor checked me" starts the way back. Everything else goes on to the
conversation. The caller (the delivery layer) commits the session: a failure to record is its
to report loudly; the advice is given either way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from sqlalchemy.orm import Session

from knowledge.safety import records
from knowledge.safety.screen import Screen, ScreenResult

# Intents that ask for coaching: paused while a stop is open. Everything else (greetings, help,
# progress, /export, /delete and its confirmation) still works.
COACHING_INTENTS = frozenset({
    "start", "start_session", "session_done", "session_skip", "session_pause", "skip_today",
    "snooze_reminder", "report_fault", "add_fault_to_plan", "ask_why_cue", "ask_howto", "ask_easier",
    "ask_harder", "ask_alternative", "report_pain", "inform", "report_soreness", "report_too_hard",
    "report_too_easy", "set_reminder", "resume_reminders", "pre_workout", "primer_done", "weekly_checkin",
    "self_test",
})
YES_PAYLOAD, NO_PAYLOAD = "/affirm", "/deny"
MAX_MISSES = 2

PASS, STOP, ASK, REASK, RESUME, CLEARED, STILL_PAUSED, ASK_CLEARANCE, PAUSED = (
    "pass", "stop", "ask", "reask", "resume", "cleared", "still_paused", "ask_clearance", "paused")


@dataclass
class Decision:
    action: str
    flag_id: str | None = None
    text: str = ""  # what to say (questions, reminders); the stop's advice comes from the KB
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, payload)
    forward: str | None = None  # the message the conversation should now handle, if any
    prefix: str = ""  # said before the conversation's own answer (after a "no")
    screen: ScreenResult | None = None


def yes_no_buttons(screen: Screen) -> list[tuple[str, str]]:
    titles = (screen.document.get("confirm") or {}).get("buttons") or {}
    return [(titles.get("affirm", "Yes"), YES_PAYLOAD), (titles.get("deny", "No"), NO_PAYLOAD)]


def short_advice(advice: str) -> str:
    """The advice's first sentence (the reminder a paused person gets)."""
    head = advice.split(". ")[0].strip()
    return head if head.endswith(".") else head + "."


def paused_text(screen: Screen, advice_by_flag: Mapping[str, str], flag_id: str | None) -> str:
    advice = advice_by_flag.get(flag_id or "", "") or next(iter(advice_by_flag.values()), "")
    return screen.text("paused_reply").replace("{advice_short}", short_advice(advice)).replace("  ", " ").strip()


def triage(
    db: Session,
    screen: Screen,
    advice_by_flag: Mapping[str, str],
    user_id: str,
    text: str,
    now: datetime,
    *,
    intent: str | None = None,
    classifier_flag: str | None = None,
) -> Decision:
    """Decide what the safety path does with ``text`` (already cleaned), recording what it
    decides in ``db`` (not committed). ``intent`` is the classifier's intent for the message,
    ``classifier_flag`` the red flag it suspects (it can only lead to a question)."""
    command = text.startswith("/")
    answer = _answer(screen, text)
    check = records.pending_check(db, user_id)
    result = None if command else screen.screen(text, classifier_flag)

    # 1. A red flag stated outright stops, whatever else is going on.
    if result is not None and result.clear:
        records.record_stop(db, user_id, result.flag_id, now)
        return Decision(STOP, result.flag_id, screen=result)

    # 2. The answer to the question the screen asked.
    if check is not None and answer is not None:
        if check.kind == records.RED_FLAG_QUESTION:
            held = check.held_text
            records.answered(db, check, answer, now)
            if answer:
                records.record_stop(db, user_id, check.flag_id, now)
                return Decision(STOP, check.flag_id)
            return Decision(RESUME, forward=held, prefix=screen.text("confirm.thanks_no"))
        records.answered(db, check, answer, now)
        if answer:
            return Decision(CLEARED, text=screen.text("clearance.resumed"))
        return Decision(STILL_PAUSED, text=screen.text("clearance.still_paused"))
    if check is not None and not command:
        if records.missed(db, check) < MAX_MISSES:
            question = screen.question(check.flag_id) if check.kind == records.RED_FLAG_QUESTION and check.flag_id else screen.text("clearance.question")
            return Decision(REASK, check.flag_id, text=f"{screen.text('confirm.again')} {question}",
                            buttons=yes_no_buttons(screen))
        records.answered(db, check, None, now)  # given up on: carry on with this message

    # 3. A possible red flag: one direct question, the message held until it is answered.
    if result is not None and result.possible and result.flag_id:
        records.ask(db, user_id, records.RED_FLAG_QUESTION, result.flag_id, text, now)
        return Decision(ASK, result.flag_id, text=result.question or screen.question(result.flag_id),
                        buttons=yes_no_buttons(screen), screen=result)

    # 4. Coaching paused by an earlier stop.
    stop = records.open_stop(db, user_id)
    if stop is not None:
        if not command and screen.says_checked(text):
            records.ask(db, user_id, records.CLEARANCE_QUESTION, stop.flag_id, None, now)
            return Decision(ASK_CLEARANCE, stop.flag_id, text=screen.text("clearance.question"),
                            buttons=yes_no_buttons(screen))
        if intent in COACHING_INTENTS:
            return Decision(PAUSED, stop.flag_id, text=paused_text(screen, advice_by_flag, stop.flag_id))
    return Decision(PASS, screen=result)


def _answer(screen: Screen, text: str) -> bool | None:
    if text == YES_PAYLOAD:
        return True
    if text == NO_PAYLOAD:
        return False
    if text.startswith("/"):
        return None
    return screen.yes_no(text)
