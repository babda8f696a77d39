"""The safety path in front of the conversation: every message is screened before any form
question or intent sees it (docs/safety.md).

The decisions are made in :mod:`knowledge.safety.triage`; this module is the delivery side:
it reads the knowledge base once, runs the decision in a database session, and makes a failure
to record a stop loud (an error with the correlation id in the log, a marker that turns
``python -m bot health`` red) while the person still gets the advice.
"""
from __future__ import annotations

import logging
from typing import Any

from bot.errors import CoachError
from knowledge.clock import Clock, SystemClock
from knowledge.safety import records
from knowledge.safety import triage as safety

log = logging.getLogger(__name__)

class SafetyGate:
    """Screens messages for one process; thread-safe (one database session per call)."""

    def __init__(self, engine: Any, clock: Clock | None = None) -> None:
        from knowledge.db import session_factory
        from knowledge.queries import KnowledgeBase

        kb = KnowledgeBase.load(engine)
        if not kb.safety_screen().get("flags"):
            raise CoachError("the knowledge base has no red-flag screen: run 'python -m bot kb load'")
        self.kb = kb
        self.screen = kb.red_flag_screen()
        self.advice = {flag.id: flag.advice for flag in kb.red_flags()}
        self.clock = clock or SystemClock()
        self._sessions = session_factory(engine)
        self.marker_path = records.failure_marker_path()

    def classifier_flag(self, text: str, intent: str | None) -> str | None:
        """The red flag a classifier's ``red_flag`` intent most resembles (a suspicion only)."""
        if intent != "red_flag":
            return None
        from knowledge.answers import closest_red_flag_id

        return closest_red_flag_id(self.kb, text)

    def decide(self, user: str, text: str, intent: str | None) -> safety.Decision:
        """What the safety path does with ``text``. Never raises for a clear red flag: if the
        stop cannot be recorded, the decision is still a stop (the advice is given) and the
        failure is logged with the correlation id and marked for the health check."""
        now = self.clock.now()
        try:
            with self._sessions() as db:
                decision = safety.triage(db, self.screen, self.advice, user, text, now, intent=intent,
                                         classifier_flag=self.classifier_flag(text, intent))
                db.commit()
            if decision.action == safety.STOP:
                self.marker_path.unlink(missing_ok=True)  # stops are recorded again
            return decision
        except Exception as exc:
            result = None if text.startswith("/") else self.screen.screen(text)
            if result is None or not result.clear:
                raise
            log.error("could not record a red-flag stop (flag %s); the advice is given anyway",
                      result.flag_id, exc_info=True)
            self._mark_failure(result.flag_id, exc)
            return safety.Decision(safety.STOP, result.flag_id, screen=result)

    def _mark_failure(self, flag_id: str | None, exc: Exception) -> None:
        from bot.logging_setup import correlation_id
        from knowledge.safety.records import mark_record_failure

        try:
            mark_record_failure(self.marker_path, flag_id, exc, correlation_id())
        except OSError:
            log.error("could not write the safety failure marker %s", self.marker_path, exc_info=True)

    def advice_answer(self, flag_id: str | None) -> Any:
        """The stop's advice from the knowledge base, as the red-flag action gives it (used when
        the conversation could not give it, e.g. the action server is down)."""
        from knowledge.answers import general_red_flag_answer, red_flag_answer

        return red_flag_answer(self.kb, [flag_id]) if flag_id in self.advice else general_red_flag_answer(self.kb)


def red_flag_parse(text: str, flag_id: str | None) -> dict[str, Any]:
    """Rasa parse data that makes the conversation stop for ``flag_id`` (no other intent, no
    entity a form could take an answer from)."""
    intent = {"name": "red_flag", "confidence": 1.0}
    entities = [{"entity": "red_flag", "value": flag_id, "start": 0, "end": 0, "extractor": "SafetyScreen"}] if flag_id else []
    return {"text": text, "intent": intent, "intent_ranking": [intent], "entities": entities}


def without_red_flag(parse: dict[str, Any], fallback_threshold: float = 0.45) -> dict[str, Any]:
    """``parse`` with the classifier's own red-flag guess taken out: only the screen raises a
    red flag. The next intent takes its place, or ``nlu_fallback`` when that one is weak."""
    parse = dict(parse)
    parse["entities"] = [e for e in parse.get("entities") or [] if e.get("entity") != "red_flag"]
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != "red_flag"]
    parse["intent_ranking"] = ranking
    if (parse.get("intent") or {}).get("name") == "red_flag":
        best = ranking[0] if ranking else None
        if best is None or float(best.get("confidence") or 0.0) < fallback_threshold:
            parse["intent"] = {"name": "nlu_fallback", "confidence": 1.0 - fallback_threshold}
        else:
            parse["intent"] = {"name": best["name"], "confidence": best.get("confidence")}
    return parse
