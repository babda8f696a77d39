"""Answers from the knowledge base: fault reports, why a cue matters, how to do an exercise and
its easier, harder or alternative versions."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    classified, clock, db_session, engine, entity_values, kb, send, send_picture, user_id, user_text,
)
from knowledge import answers, references

DomainDict = dict[str, Any]


# Probabilities above which the classifier's choice beats an exact name found in the message:
# an exact name can be part of a longer description ("bridges with a band round my knees").
CONFIDENT = 0.5
PLAUSIBLE = 0.2


def named(tracker: Tracker, kind: str) -> str | None:
    """The id the message names: a confident classifier answer, or an exact name in it."""
    base = kb()
    guess, probability = classified(tracker, kind)
    if guess and probability >= CONFIDENT and base.get(kind, guess) is not None:
        return guess
    for value in entity_values(tracker, kind):
        if value == guess:
            continue
        if base.get(kind, value) is not None:
            return value
        matches = base.find(value, kind=kind)
        if matches:
            return matches[0].id
    return None


def looked_up(tracker: Tracker, kind: str) -> str | None:
    """The id the message's words suggest: a lookup of the words themselves, then a less confident
    classifier answer."""
    base = kb()
    matches = base.find(user_text(tracker), kind=kind)
    if matches:
        return matches[0].id
    guess, probability = classified(tracker, kind)
    if guess and probability >= PLAUSIBLE and base.get(kind, guess) is not None:
        return guess
    return None


def resolve(tracker: Tracker, kind: str) -> str | None:
    """The id the user means: a confident classifier answer, an exact name, a lookup of the words
    themselves, and last a less confident classifier answer."""
    return named(tracker, kind) or looked_up(tracker, kind)


MEMORY_SLOT = {"cue": "last_cues", "exercise": "last_exercises"}


def meant(tracker: Tracker, kind: str) -> tuple[str | None, tuple[str, ...]]:
    """The id the user means, reading "why?", "that one", "the second one" against what the coach
    last named (slots ``last_cues`` / ``last_exercises``): (the id, or the ids to ask between)."""
    found = named(tracker, kind)
    if found:
        return found, ()
    reference = references.read_reference(user_text(tracker))
    said = list(tracker.get_slot(MEMORY_SLOT[kind]) or [])
    if kind == "exercise" and not said and tracker.get_slot("last_exercise"):
        said = [tracker.get_slot("last_exercise")]
    if reference is not None and said:
        picked = references.pick(reference, said)
        if picked.item or picked.choices:
            return picked.item, picked.choices
    return looked_up(tracker, kind), ()


def remembered(answer: answers.Answer) -> list[dict[str, Any]]:
    """The slots that keep what an answer named, for the next "why?" or "that one"."""
    events: list[dict[str, Any]] = []
    if answer.cues:
        events.append(SlotSet("last_cues", list(answer.cues)))
    if answer.exercises:
        events += [SlotSet("last_exercises", list(answer.exercises)), SlotSet("last_exercise", answer.exercises[0])]
    return events


def current_exercise(tracker: Tracker) -> str | None:
    return resolve(tracker, "exercise") or tracker.get_slot("last_exercise")


class ActionReportFault(Action):
    def name(self) -> str:
        return "action_report_fault"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        fault_id, probability = classified(tracker, "fault")
        if not fault_id or probability < PLAUSIBLE or kb().get("fault", fault_id) is None:
            match = kb().closest_fault(user_text(tracker))
            fault_id = match.id if match else None
        if fault_id is None:
            send(dispatcher, answers.unknown_item_answer("fault"))
            return []
        answer = answers.fault_answer(kb(), fault_id)
        from knowledge import coaching

        # On a day with a primer, what went wrong in the lift goes with that day's record.
        if coaching.primer_fault(engine(), user_id(tracker), fault_id, clock=clock()) is not None:
            answer.say("I've noted that with today's primer.")
        send(dispatcher, answer)
        return remembered(answer)


class ActionAddFaultToPlan(Action):
    def name(self) -> str:
        return "action_add_fault_to_plan"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        from knowledge import coaching

        fault_ids = entity_values(tracker, "fault")
        if not fault_ids:
            match = kb().closest_fault(user_text(tracker))
            fault_ids = [match.id] if match else []
        if not fault_ids:
            send(dispatcher, answers.unknown_item_answer("fault"))
            return []
        with db_session() as session:
            coaching.record_fault(session, user_id(tracker), fault_ids[0])
            session.commit()
        fault = kb().fault(fault_ids[0])
        answer = answers.Answer(faults=[fault.id]).say(
            f"Added. Your daily sessions will now include work for {fault.title.lower()}.",
            [answers.Choice("Start today's session", "start_session")],
        )
        send(dispatcher, answer)
        return []


class ActionWhyCue(Action):
    def name(self) -> str:
        return "action_why_cue"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        cue_id, choices = meant(tracker, "cue")
        if choices:
            send(dispatcher, answers.which_answer(kb(), "cue", choices))
            return []
        if cue_id is None:
            send(dispatcher, answers.unknown_item_answer("cue"))
            return []
        answer = answers.cue_answer(kb(), cue_id)
        send(dispatcher, answer)
        return [SlotSet("last_cues", [cue_id])]


class ActionHowto(Action):
    def name(self) -> str:
        return "action_howto"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        exercise_id, choices = meant(tracker, "exercise")
        if choices:
            send(dispatcher, answers.which_answer(kb(), "exercise", choices))
            return []
        if exercise_id is None:
            send(dispatcher, answers.unknown_item_answer("exercise"))
            return []
        send_picture(dispatcher, exercise_id)
        answer = answers.howto_answer(kb(), exercise_id)
        send(dispatcher, answer)
        return remembered(answer)


class _FollowUp:
    """Easier / harder / alternative: about the exercise named, or the one just discussed.

    A mixin, not an Action: rasa-sdk registers every Action subclass, and this one has no name."""

    def answer(self, exercise_id: str, tracker: Tracker) -> answers.Answer:
        raise NotImplementedError

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        exercise_id = current_exercise(tracker)
        if exercise_id is None:
            send(dispatcher, answers.unknown_item_answer("exercise"))
            return []
        answer = self.answer(exercise_id, tracker)
        send(dispatcher, answer)
        return [SlotSet("last_exercise", answer.exercises[-1])] if answer.exercises else []


class ActionEasier(_FollowUp, Action):
    def name(self) -> str:
        return "action_easier"

    def answer(self, exercise_id: str, tracker: Tracker) -> answers.Answer:
        return answers.easier_answer(kb(), exercise_id)


class ActionHarder(_FollowUp, Action):
    def name(self) -> str:
        return "action_harder"

    def answer(self, exercise_id: str, tracker: Tracker) -> answers.Answer:
        return answers.harder_answer(kb(), exercise_id)


class ActionAlternative(_FollowUp, Action):
    def name(self) -> str:
        return "action_alternative"

    def answer(self, exercise_id: str, tracker: Tracker) -> answers.Answer:
        from knowledge import coaching

        with db_session() as session:
            equipment = coaching.trainee_equipment(session, user_id(tracker))
        text = user_text(tracker).lower()
        # "I have no band" removes the band from what is at hand, whatever the profile says.
        for item in ("band", "bench", "kettlebell", "barbell", "machine"):
            if f"no {item}" in text or f"without a {item}" in text or f"without {item}" in text:
                equipment.discard(item)
        return answers.alternative_answer(kb(), exercise_id, equipment, painful="hurt" in text or "pain" in text)
