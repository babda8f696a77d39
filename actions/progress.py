"""Progress: the adherence summary and a chart of sessions done and pain over time."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clock, engine, kb, user_id
from actions.daily import daily_check
from knowledge import coaching, self_tests, weekly

DomainDict = dict[str, Any]


class ActionProgress(Action):
    def name(self) -> str:
        return "action_progress"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        events = daily_check(dispatcher, tracker)
        summary = coaching.progress_summary(engine(), user_id(tracker), clock=clock())
        weeks = weekly.history_text(weekly.history(engine(), user_id(tracker), clock=clock()))
        tests = self_tests.history_text(kb(), self_tests.history(engine(), user_id(tracker), clock=clock()))
        dispatcher.utter_message(text="\n".join(p for p in (summary.text, weeks, tests) if p))
        # The bot draws the chart from this data (drawing is delivery, not an action's job).
        caption = "Your sessions, pain and glute feel since you started"
        dispatcher.utter_message(json_message={"chart": summary.chart_data(), "caption": caption})
        return events
