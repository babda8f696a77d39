"""bot.nlu_components.PreWorkoutRequest on Rasa messages as DIET leaves them (no model loaded):
which intents a named lift turns into a pre-workout request, which never change, and that the
ranking it leaves does not read as a tie to the FallbackClassifier."""
from __future__ import annotations

import pytest
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu_components import PreWorkoutRequest

NAMES = ["squats", "bulgarians", "hip thrusts", "rdl", "grocery bags"]


def message(text: str, intent: str, confidence: float, runner_up: str = "pre_workout", second: float = 0.1) -> Message:
    ranking = [{"name": intent, "confidence": confidence}, {"name": runner_up, "confidence": second},
               {"name": "greet", "confidence": 0.01}]
    return Message(data={TEXT: text, INTENT: {"name": intent, "confidence": confidence}, INTENT_RANKING_KEY: ranking})


def run(msg: Message) -> Message:
    component = PreWorkoutRequest({"unsure_below": 0.45}, None, None, NAMES)  # type: ignore[arg-type]
    [out] = component.process([msg])
    return out


@pytest.mark.parametrize("text, intent, confidence, expected", [
    ("bulgarians next, how do i make them more glute and less quad", "report_fault", 0.9, "pre_workout"),
    ("single leg rdl later, key points?", "ask_howto", 0.8, "pre_workout"),
    ("how do i do hip thrusts", "ask_howto", 0.8, "ask_howto"),  # a how-to of the exercise
    ("trap bar rdl this morning, can you remind me the technique", "set_reminder", 0.3, "pre_workout"),  # unsure
    ("rdl at 6, remind me to go", "set_reminder", 0.9, "set_reminder"),  # sure, and not reroutable
    ("my lower back takes over in squats", "report_fault", 0.9, "report_fault"),
    ("how do i carry the grocery bags in later without straining my back", "report_fault", 0.7, "pre_workout"),
    ("squats before work, is that a fever?", "red_flag", 0.3, "red_flag"),  # never, however unsure
    ("quick warm up before my thing later?", "greet", 0.2, "pre_workout"),  # unsure, no name: the menu
    ("/start_session", "start_session", 0.9, "start_session"),
])
def test_which_messages_become_pre_workout(text: str, intent: str, confidence: float, expected: str) -> None:
    out = run(message(text, intent, confidence))
    assert out.get(INTENT)["name"] == expected
    if expected != intent:
        assert out.get(INTENT)["rerouted_from"] == intent
        assert out.get(INTENT_RANKING_KEY)[0]["name"] == expected


def test_a_pure_complaint_diet_called_pre_workout_goes_to_the_fault_answer() -> None:
    out = run(message("hamstrings r doing everything in hip thrusts", "pre_workout", 0.8, "report_fault", 0.15))
    assert out.get(INTENT) == {"name": "report_fault", "confidence": 0.8, "rerouted_from": "pre_workout"}
    # Complaint and request together stay as DIET read them.
    mixed = run(message("lunges after work, knee always drifts in, what cues", "pre_workout", 0.8, "report_fault", 0.15))
    assert mixed.get(INTENT)["name"] == "pre_workout" and "rerouted_from" not in mixed.get(INTENT)


def test_the_rerouted_ranking_is_no_tie_for_the_fallback_classifier() -> None:
    # DIET: report_fault 0.92, pre_workout 0.05. Rerouted, the two swap confidences.
    out = run(message("bulgarians next, how do i make them more glute", "report_fault", 0.92, "pre_workout", 0.05))
    ranking = out.get(INTENT_RANKING_KEY)
    assert ranking[0] == {"name": "pre_workout", "confidence": 0.92}
    assert {r["name"]: r["confidence"] for r in ranking}["report_fault"] == 0.05
    fallback = FallbackClassifier.create({**FallbackClassifier.get_default_config(), "threshold": 0.45,
                                          "ambiguity_threshold": 0.05}, None, None, None)  # type: ignore[arg-type]
    [after] = fallback.process([out])
    assert after.get(INTENT)["name"] == "pre_workout"


def test_names_are_matched_on_singular_words_and_whole_words_only() -> None:
    component = PreWorkoutRequest({}, None, None, NAMES)  # type: ignore[arg-type]
    assert component.names_an_activity("one grocery bag later")
    assert component.names_an_activity("Squat day!")
    assert not component.names_an_activity("squatters rights")
