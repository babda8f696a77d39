"""Before a workout: the primer for the lift or activity ahead (or a menu of them), and the
person's word afterwards that the drills are done and where they felt them."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import classified, clock, engine, entity_values, kb, paused_by_red_flag, send, user_id, user_text
from knowledge import answers, coaching
from knowledge.primer import available_minutes, build_primer

DomainDict = dict[str, Any]
# Same threshold as for the other knowledge-base items (actions/knowledge_answers.py).
PLAUSIBLE = 0.2


def resolve_activity(tracker: Tracker) -> str | None:
    """The lift or activity meant: a name in the words themselves (the first one mentioned), a
    name in the entities (a menu button's, the entity ruler's or DIET's), and last the
    classifier's answer when it is at least plausible. Names come first: the classifier was
    sure of "cycling" for "kb swings class at 6", which names a hinge."""
    base = kb()
    matches = base.find_activities(user_text(tracker))
    if matches:
        return matches[0].id
    guess, probability = classified(tracker, "activity")
    for value in entity_values(tracker, "activity"):
        if value == guess:
            continue  # the classifier's own answer comes last
        if base.get("activity", value) is not None:
            return value
        named = base.find_activities(value.replace("_", " "))
        if named:
            return named[0].id
    if guess and probability >= PLAUSIBLE and base.get("activity", guess) is not None:
        return guess
    return None


class ActionPreWorkout(Action):
    def name(self) -> str:
        return "action_pre_workout"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if paused_by_red_flag(dispatcher, tracker):
            return []
        activity_id = resolve_activity(tracker)
        if activity_id is None:
            send(dispatcher, answers.activity_menu_answer(kb()))
            return []
        person = coaching.primer_person(engine(), user_id(tracker), kb(), clock=clock())
        primer = build_primer(kb(), activity_id, person, available_minutes(user_text(tracker)))
        coaching.record_primer(engine(), user_id(tracker), primer, clock=clock())
        send(dispatcher, answers.primer_answer(kb(), primer))
        return []


class ActionPrimerDone(Action):
    def name(self) -> str:
        return "action_primer_done"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        felt = next(iter(entity_values(tracker, "felt")), None)
        if felt is None and "glute" in user_text(tracker).lower():
            felt = "glutes"
        activity_id = coaching.primer_done(engine(), user_id(tracker), felt, clock=clock())
        send(dispatcher, answers.primer_done_answer(kb(), activity_id, felt))
        return []
