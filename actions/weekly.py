"""The weekly check-in in the conversation (a Rasa form): the PSFS tasks the first time, average
and worst pain, a score per task, the rating of change and the red-flag re-check; then the
summary from :mod:`knowledge.weekly`. A "yes" to the re-check is the same stop as onboarding's."""
from __future__ import annotations

from typing import Any, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clock, engine, user_id
from actions.forms import answers_only, parsed
from actions.safety import stop_on_screen_yes
from actions.session import require_onboarding
from knowledge import parsing, weekly

DomainDict = dict[str, Any]
PSFS_SLOTS = ("week_psfs_1", "week_psfs_2", "week_psfs_3")
WEEKLY_SLOTS = ("week_tasks", "week_pain_average", "week_pain_worst", *PSFS_SLOTS, "week_change", "week_screen_clear")
WEEKLY_BUTTON = {"title": "Weekly check-in", "payload": "/weekly_checkin"}


def _tasks(tracker: Tracker) -> list[str]:
    return weekly.psfs_tasks(engine(), user_id(tracker), clock=clock()) or []


class ActionWeeklyStart(Action):
    """/checkin: open the weekly form from its first question (earlier answers cleared)."""

    def name(self) -> str:
        return "action_weekly_start"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if not require_onboarding(dispatcher, tracker):
            return []
        dispatcher.utter_message(text="Weekly check-in: a few quick questions, about a minute.")
        return [*[SlotSet(s, None) for s in WEEKLY_SLOTS], FollowupAction("weekly_form")]


class ActionAskWeekChange(Action):
    def name(self) -> str:
        return "action_ask_week_change"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        buttons = [{"title": label, "payload": f'/inform{{"change": "{value}"}}'} for value, label in weekly.rules().change_options]
        dispatcher.utter_message(text="Compared with when you started, how is your back overall?", buttons=buttons)
        return []


def _psfs_ask(index: int) -> type[Action]:
    slot = PSFS_SLOTS[index]

    def name(self: Action) -> str:
        return f"action_ask_{slot}"

    def run(self: Action, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        tasks = _tasks(tracker)
        task = tasks[index] if index < len(tasks) else "this task"
        prefix = f"Task {index + 1} of {len(tasks)}: " if len(tasks) > 1 else ""
        dispatcher.utter_message(
            text=f"{prefix}how well can you manage \"{task}\" right now? 0 = not at all, "
            "10 = as well as before your back trouble."
        )
        return []

    return type(f"ActionAsk_{slot}", (Action,), {"name": name, "run": run, "__doc__": f"Asks for {slot}."})


PSFS_ASK_ACTIONS = [_psfs_ask(i) for i in range(len(PSFS_SLOTS))]


class ValidateWeeklyForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_weekly_form"

    async def required_slots(
        self, domain_slots: list[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[Text]:
        # A "yes" on the re-check ends the form there; tasks are asked once; one score per task.
        if tracker.get_slot("week_screen_clear") is False:
            return []
        stored = weekly.psfs_tasks(engine(), user_id(tracker), clock=clock())
        count = len(stored or [])
        slots = [s for s in domain_slots if s not in PSFS_SLOTS[count:]]
        if stored is not None and tracker.get_slot("week_tasks") is None:
            slots = [s for s in slots if s != "week_tasks"]
        return slots

    def _score(self, slot: str, what: str, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        return parsed(slot, lambda text: parsing.parse_score(text, what), value, dispatcher)

    @answers_only("week_tasks")
    def validate_week_tasks(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        try:
            tasks = parsing.parse_psfs_tasks(str(value), limit=weekly.rules().max_tasks)
        except parsing.ParseError as exc:
            dispatcher.utter_message(text=str(exc))
            return {"week_tasks": None}
        weekly.set_psfs_tasks(engine(), user_id(tracker), tasks, clock=clock())
        if tasks:
            dispatcher.utter_message(text="Noted: " + "; ".join(tasks) + ".")
        return {"week_tasks": "; ".join(tasks) or "none"}

    @answers_only("week_pain_average")
    def validate_week_pain_average(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._score("week_pain_average", "your average pain", value, dispatcher)

    @answers_only("week_pain_worst")
    def validate_week_pain_worst(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        result = self._score("week_pain_worst", "your worst pain", value, dispatcher)
        average = tracker.get_slot("week_pain_average")
        if result["week_pain_worst"] is not None and average is not None and int(result["week_pain_worst"]) < int(average):
            dispatcher.utter_message(
                text=f"The worst can't be lower than the average ({average}). What was your pain at its worst this week, 0 to 10?"
            )
            return {"week_pain_worst": None}
        return result

    def _psfs(self, index: int, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        return self._score(PSFS_SLOTS[index], "how well you manage it", value, dispatcher)

    @answers_only("week_psfs_1")
    def validate_week_psfs_1(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._psfs(0, value, dispatcher)

    @answers_only("week_psfs_2")
    def validate_week_psfs_2(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._psfs(1, value, dispatcher)

    @answers_only("week_psfs_3")
    def validate_week_psfs_3(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return self._psfs(2, value, dispatcher)

    @answers_only("week_change")
    def validate_week_change(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return parsed("week_change", parsing.parse_change, value, dispatcher)


class ActionWeeklySubmit(Action):
    def name(self) -> str:
        return "action_weekly_submit"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        slot = tracker.get_slot
        reset = [SlotSet(s, None) for s in WEEKLY_SLOTS]
        if slot("week_screen_clear") is False:
            stop_on_screen_yes(dispatcher, tracker, "weekly re-check")
            return reset
        count = len(_tasks(tracker))
        answers = weekly.WeeklyAnswers(
            pain_average=int(slot("week_pain_average")),
            pain_worst=int(slot("week_pain_worst")),
            psfs=tuple(int(slot(s)) for s in PSFS_SLOTS[:count]),
            change=int(slot("week_change")),
            screen_clear=True,
        )
        result = weekly.record_weekly(engine(), user_id(tracker), answers, clock=clock())
        dispatcher.utter_message(text=result.text, buttons=[{"title": "My progress", "payload": "/ask_progress"}])
        return reset
