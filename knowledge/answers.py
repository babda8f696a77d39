"""What the coach says in answer to a report or a question, decided from the knowledge base.

Each function returns an :class:`Answer`: the messages, the choices offered (as intents, not as any
channel's payload syntax) and the knowledge-base ids used, which the conversation reports as refs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass(frozen=True)
class Choice:
    """An offer the user can take with one tap: an intent and its entities."""

    title: str
    intent: str
    entities: tuple[tuple[str, str], ...] = ()


@dataclass
class Message:
    text: str
    choices: list[Choice] = field(default_factory=list)


@dataclass
class Answer:
    messages: list[Message] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)
    exercises: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)
    red_flag: bool = False
    red_flag_id: str | None = None

    def say(self, text: str, choices: Iterable[Choice] = ()) -> "Answer":
        self.messages.append(Message(text, list(choices)))
        return self

    def refs(self) -> dict[str, Any]:
        refs: dict[str, Any] = {
            "faults": self.faults,
            "cues": self.cues,
            "exercises": self.exercises,
            "activities": self.activities,
            "red_flag": self.red_flag,
        }
        if self.red_flag_id:
            refs["red_flag_id"] = self.red_flag_id
        return refs


def dosage_line(dosage: Any) -> str:
    """"2 × 12 reps, tempo 2-1-2, rest 45 s" from a dosage view or dict."""
    from collections.abc import Mapping

    get = dosage.get if isinstance(dosage, Mapping) else lambda key: getattr(dosage, key, None)
    per_side = " per side" if get("per_side") else ""
    if get("hold_seconds"):
        amount = f"{get('hold_seconds')} s hold{per_side}"
    else:
        amount = f"{get('reps')} reps{per_side}"
    parts = [f"{get('sets')} × {amount}" if get("sets") else amount]
    if get("tempo"):
        parts.append(f"tempo {get('tempo')}")
    if get("rest_seconds"):
        parts.append(f"rest {get('rest_seconds')} s")
    return ", ".join(parts)


def fault_answer(kb: Any, fault_id: str) -> Answer:
    """A reported compensation: what is likely happening, the top cues, exercises, and an offer."""
    fault = kb.fault(fault_id)
    cues = list(kb.cues_for_fault(fault_id))[:2]
    exercises = [(fe.exercise, fe.why) for fe in kb.exercises_for_fault(fault_id)][:2]
    answer = Answer(faults=[fault.id], cues=[c.id for c in cues], exercises=[e.id for e, _ in exercises])
    answer.say(f"Sounds like {fault.title.lower()}. {fault.summary}")
    cue_lines = "\n".join(f"• {cue.say}" for cue in cues)
    answer.say(f"Cues to fix it:\n{cue_lines}")
    exercise_lines = "\n".join(f"• {exercise.title}: {why}" for exercise, why in exercises)
    choices = [Choice(f"How do I do the {e.title.lower()}?", "ask_howto", (("exercise", e.id),)) for e, _ in exercises[:1]]
    choices.append(Choice("Add this to my plan", "add_fault_to_plan", (("fault", fault.id),)))
    choices.append(Choice(f"Why “{cues[0].title.lower()}”?", "ask_why_cue", (("cue", cues[0].id),)))
    answer.say(f"Exercises that retrain it:\n{exercise_lines}", choices)
    return answer


def cue_answer(kb: Any, cue_id: str) -> Answer:
    cue = kb.cue(cue_id)
    answer = Answer(cues=[cue.id])
    text = f"“{cue.say}”\n\nWhy: {cue.why}"
    if cue.feels_like:
        text += f"\n\nWhen you get it right: {cue.feels_like}"
    choices = []
    if cue.exercises:
        first = kb.exercise(cue.exercises[0])
        choices.append(Choice(f"Practise it: {first.title.lower()}", "ask_howto", (("exercise", first.id),)))
        answer.exercises.append(first.id)
    answer.say(text, choices)
    return answer


def howto_answer(kb: Any, exercise_id: str, lead: str = "") -> Answer:
    exercise = kb.exercise(exercise_id)
    answer = Answer(exercises=[exercise.id], cues=list(exercise.cues[:1]))
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(exercise.steps, start=1))
    key_cue = kb.cue(exercise.cues[0]).say if exercise.cues else ""
    text = (lead + "\n\n" if lead else "") + f"{exercise.title} — {dosage_line(exercise.dosage)}\n{steps}"
    if key_cue:
        text += f"\n\nKey cue: {key_cue}"
    choices = []
    if kb.easier(exercise.id):
        choices.append(Choice("Easier version", "ask_easier", (("exercise", exercise.id),)))
    if kb.harder(exercise.id):
        choices.append(Choice("Harder version", "ask_harder", (("exercise", exercise.id),)))
    choices.append(Choice("I have no band / bench", "ask_alternative", (("exercise", exercise.id),)))
    answer.say(text, choices)
    return answer


# What to say at either end of a progression chain, and how to introduce the next step.
_STEP = {
    "easier": (
        "The {title} is already the easiest version I have. Do fewer reps, move slowly, and stop a "
        "couple of reps before it gets hard.",
        "An easier step from the {title}:",
    ),
    "harder": (
        "The {title} is the top of this progression here: add a slower lowering phase or a pause at "
        "the top before anything else.",
        "A harder step from the {title}:",
    ),
}


def step_answer(kb: Any, exercise_id: str, direction: str) -> Answer:
    """The next easier or harder exercise (``direction``), or what to do when there is none."""
    exercise = kb.exercise(exercise_id)
    steps = list(kb.easier(exercise_id) if direction == "easier" else kb.harder(exercise_id))
    at_the_end, lead = _STEP[direction]
    title = exercise.title.lower()
    if not steps:
        return Answer(exercises=[exercise.id]).say(at_the_end.format(title=title))
    return howto_answer(kb, steps[0].id, lead=lead.format(title=title))


def easier_answer(kb: Any, exercise_id: str) -> Answer:
    return step_answer(kb, exercise_id, "easier")


def harder_answer(kb: Any, exercise_id: str) -> Answer:
    return step_answer(kb, exercise_id, "harder")


def alternative_answer(kb: Any, exercise_id: str, equipment: set[str] | None, painful: bool = False) -> Answer:
    exercise = kb.exercise(exercise_id)
    options = list(kb.alternatives(exercise_id, equipment=equipment or {"none"}, painful=painful))
    if not options:
        return Answer(exercises=[exercise.id]).say(
            f"I have no swap for the {exercise.title.lower()} with what you have; the easier versions are worth a try."
        )
    return howto_answer(kb, options[0].id, lead=f"Instead of the {exercise.title.lower()}, try this:")


def red_flag_answer(kb: Any, flag_ids: list[str]) -> Answer:
    """Stop coaching: the most urgent flag's advice, no exercise, no offer to train."""
    order = {"emergency": 0, "urgent": 1, "soon": 2}
    flags = sorted((kb.red_flag(f) for f in flag_ids), key=lambda f: order.get(f.urgency, 3))
    top = flags[0]
    answer = Answer(red_flag=True, red_flag_id=top.id)
    answer.say(
        "I need to stop the coaching here. What you describe can be a warning sign that a doctor "
        "should check; I can't assess it, and exercise is not the answer to it right now."
    )
    answer.say(top.advice)
    answer.say("Please don't do today's exercises until you've been checked. If it turns out to be nothing serious, I'll be here.")
    return answer


def general_red_flag_answer(kb: Any) -> Answer:
    """The onboarding screen was answered "yes": every flag's advice, most urgent first."""
    order = {"emergency": 0, "urgent": 1, "soon": 2}
    flags = sorted(kb.red_flags(), key=lambda f: order.get(f.urgency, 3))
    answer = Answer(red_flag=True, red_flag_id=flags[0].id)
    answer.say(
        "Thank you for telling me. I need to stop the coaching here: those signs need a doctor to "
        "check them, and I can't assess them."
    )
    answer.say("\n".join(f"• {flag.title}: {flag.advice}" for flag in flags))
    answer.say("Please don't start the exercises until you've been checked. If you get the all-clear, say /start.")
    return answer


def which_answer(kb: Any, kind: str, ids: Iterable[str]) -> Answer:
    """ "Why?" or "that one" when the coach has just named more than one: which, with a button each."""
    if kind == "cue":
        items = [kb.cue(i) for i in ids]
        choices = [Choice(f"Why “{c.title.lower()}”?", "ask_why_cue", (("cue", c.id),)) for c in items]
        return Answer().say("Which cue do you mean?", choices)
    items = [kb.exercise(i) for i in ids]
    choices = [Choice(f"How do I do the {e.title.lower()}?", "ask_howto", (("exercise", e.id),)) for e in items]
    return Answer().say("Which exercise do you mean?", choices)


def unknown_item_answer(kind: str) -> Answer:
    examples = {
        "fault": "“my lower back does the work on bridges” or “my knee caves in”",
        "cue": "“why keep my pelvis level?” or “why knees over toes?”",
        "exercise": "“how do I do clams?” or “hip thrust form?”",
    }[kind]
    return Answer().say(f"I'm not sure which {kind} you mean. Try for example {examples}.")


def closest_red_flag_id(kb: Any, text: str) -> str:
    """The red flag whose phrasings share the most words with ``text``; the most urgent on a tie.

    Used when the classifier suspects a red flag the screen's rules did not find: the suspicion
    can only lead to the screening question, and this picks which flag's question to ask.
    """
    import re

    words = set(re.findall(r"[a-z]{3,}", text.lower()))
    order = {"emergency": 0, "urgent": 1, "soon": 2}
    best: tuple[int, int, str] | None = None
    for flag in kb.red_flags():
        vocabulary = set(re.findall(r"[a-z]{3,}", " ".join(flag.phrasings).lower()))
        key = (-len(words & vocabulary), order.get(flag.urgency, 3), flag.id)
        if best is None or key < best:
            best = key
    return best[2] if best else ""


def soreness_answer(kb: Any) -> Answer:
    """Ordinary training soreness: reassure, and say what would change the plan (the pain zones)."""
    monitoring = kb.progression().get("pain_monitoring", {})
    advice = monitoring.get("soreness_advice") or (
        "Muscle soreness in the muscles you trained, a day or two after new work, is expected and not a warning sign."
    )
    zones = monitoring.get("zones", [])
    zone_text = "; ".join(f"{z['min']}–{z['max']}: {z['id'].replace('_', ' ')}" for z in zones)
    text = advice
    if zone_text:
        text += f" What I watch is pain in your back, 0 to 10 ({zone_text}). Tell me a number if your back hurts."
    return Answer().say(text)


# ----------------------------------------------------------------------------- before a workout

FELT_CHOICES = (("Done: felt my glutes", "glutes"), ("Done: felt it elsewhere", "elsewhere"))


def activity_menu_answer(kb: Any) -> Answer:
    """/warmup with no lift named: one button per lift or activity."""
    choices = [Choice(a.title, "pre_workout", (("activity", a.id),)) for a in kb.activities()]
    return Answer().say("What are you about to do? I'll give you a short primer and the cues to take into it.", choices)


def primer_answer(kb: Any, primer: Any) -> Answer:
    """A primer (:class:`knowledge.primer.Primer`): the drills, then the cues with their why one
    tap away, and buttons to say the drills are done and where they were felt."""
    answer = Answer(activities=[primer.activity_id], cues=list(primer.cues),
                    exercises=[d.exercise_id for d in primer.drills], faults=list(primer.watch_faults))
    minutes = max(1, round(primer.seconds / 60))
    drills = "\n".join(f"• {d.title}: {dosage_line(d.dosage)}" for d in primer.drills)
    text = f"{primer.title} primer, about {minutes} min:\n{drills}"
    for fault_id in primer.watch_faults[:1]:
        text += f"\n\nYou told me about {kb.fault(fault_id).title.lower()}, which often shows up here, so it leads."
    if primer.coaching_practice:
        text += "\n\n(Priming before this is coaching practice; no study has tested it.)"
    # Two messages, each with its own buttons: a channel may take a keyboard away once one of
    # its buttons is pressed, and asking why a cue matters must not cost the "done" button.
    answer.say(text, [Choice(title, "primer_done", (("felt", felt),)) for title, felt in FELT_CHOICES])
    cues = [kb.cue(c) for c in primer.cues]
    cue_lines = "\n".join(f"{n}. {cue.say}" for n, cue in enumerate(cues, 1))
    choices = [Choice(f"Why “{cue.title.lower()}”?", "ask_why_cue", (("cue", cue.id),)) for cue in cues]
    answer.say(f"Take these into the {primer.title.lower()}:\n{cue_lines}", choices)
    if not primer.known_person:
        answer.say("That's the default primer: the easiest drills, no equipment. Set-up takes two minutes "
                   "and fits it to your level, your kit and what you notice in training.",
                   [Choice("Set me up", "start")])
    return answer


def primer_done_answer(kb: Any, activity_id: str | None, felt: str | None) -> Answer:
    """After the primer drills: noted, and the follow-up question for after the lift."""
    if activity_id is None:
        return Answer().say("I have no primer from today to note that against. Say /warmup before your next workout.")
    activity = kb.activity(activity_id)
    noted = {"glutes": "Good: the glutes are awake.",
             "elsewhere": "Noted. If the drills went to your lower back or hamstrings, slow them down and squeeze at the top; the first cue helps.",
             None: "Noted."}[felt]
    return Answer(activities=[activity.id]).say(
        f"{noted} After the {activity.title.lower()}, tell me how it felt: where did you feel it working? "
        "If something took over, say what, and I'll note it with today's record.")
