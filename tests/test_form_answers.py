"""Reading a message as the answer to the open form question (knowledge/form_answers.py), and the
bridge turning such a message into the form's answer whatever intent the classifier guessed."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.rasa_bridge import answer_to_open_question
from knowledge.form_answers import read_answer


@pytest.mark.parametrize("slot, text, value", [
    ("week_change", "a bit better", 1),
    ("week_change", "about the same really", 0),
    ("checkin_pain", "no pain", 0),
    ("checkin_pain", "about a 3", 3),
    ("checkin_glute_feel", "7/10", 7),
    ("week_pain_worst", "five", 5),
    ("checkin_effort", "bit too easy", "too_easy"),
    ("reminder_time", "6:15 pm", "18:15"),
    ("timezone", "I live in Chicago", "America/Chicago"),
    ("equipment", "two bands and a bench", ["none", "band", "bench"]),
    ("experience", "a few years of lifting", "some"),
    ("experience", "lifting for 8 years", "experienced"),
    ("goal", "want my back to stop hurting when i lift my kid", "want my back to stop hurting when i lift my kid"),
    ("week_tasks", "tying my shoes and sitting for an hour", ["tying my shoes", "sitting for an hour"]),
])
def test_answers_to_the_open_question_are_read(slot: str, text: str, value: object) -> None:
    answer = read_answer(slot, text)
    assert answer is not None and answer.slot == slot and answer.value == value


@pytest.mark.parametrize("slot, text", [
    ("checkin_pain", "should i do 12 reps or 15?"),  # a question
    ("checkin_pain", "i train at 7am"),  # a clock time, not a pain
    ("current_pain", "3 sets of 10"),  # counts of something else
    ("week_pain_average", "i have been training for 4 weeks"),
    ("checkin_pain", "my knee caves in on squats"),  # no score at all
    ("week_change", "/inform{\"change\": \"1\"}"),  # a command goes to the intents
    ("week_change", "it is better than last month but the left side still feels tight when i sit"),  # too long
    ("goal", "what does this bot do?"),  # a question at a free-text question is a question
    ("goal", "stop"),  # and leaving is leaving
    ("goal", "hi"), ("goal", "ok 👍"),  # a greeting or a nod is not a goal
    ("week_tasks", "later"),
    ("consent", "yes"),  # and so are yes/no questions
    (None, "5"),  # no question open
])
def test_other_messages_are_not_read_as_answers(slot: str | None, text: str) -> None:
    assert read_answer(slot, text) is None


def tracker(loop: str | None, slot: str | None) -> SimpleNamespace:
    return SimpleNamespace(active_loop_name=loop, get_slot=lambda name: slot if name == "requested_slot" else None)


def test_the_bridge_makes_an_answer_an_inform_and_leaves_the_rest() -> None:
    guessed = {"text": "a bit better", "intent": {"name": "ask_progress", "confidence": 0.8},
               "intent_ranking": [{"name": "ask_progress", "confidence": 0.8}], "entities": []}
    answer, parse = answer_to_open_question(tracker("weekly_form", "week_change"), "a bit better", guessed)
    assert answer is not None and answer.slot == "week_change"
    assert parse["intent"] == {"name": "inform", "confidence": 1.0} and parse["text"] == "a bit better"
    # The whole text is the answer: an entity the classifier found in it does not fill the slot alone.
    partial = {**guessed, "text": "two bands and a bench", "entities": [{"entity": "equipment", "value": "bench"}]}
    _answer, parse = answer_to_open_question(tracker("onboarding_form", "equipment"), "two bands and a bench", partial)
    assert parse["entities"] == []
    assert guessed["intent"]["name"] == "ask_progress"  # the classifier's parse is not changed in place
    # No form running: the requested slot left over from an earlier form does not count.
    answer, parse = answer_to_open_question(tracker(None, "week_change"), "a bit better", guessed)
    assert answer is None and parse is guessed


@pytest.mark.parametrize("text, entity, asked, about_pain, value", [
    ("should i do 12 reps or 15?", None, False, False, None),
    ("i do night shifts so i train around 2am, ok?", "2", False, False, None),
    ("7am", "7", False, False, None),
    ("9pm works for me", None, False, False, None),
    ("i'm 52", None, False, False, None),
    ("3 sets of 10 today", None, False, False, None),
    ("7am", "7", True, False, None),  # even when the pain question is open: a time is not a pain
    ("my back is 6/10 today", None, False, True, 6),
    ("pain 3 out of 10", "3", False, True, 3),
    ("it hurts", None, False, True, None),
    ("3", "3", True, True, 3),  # the answer to the morning question
    ("no pain", None, True, True, 0),
    ('/inform{"pain": "2"}', "2", False, True, 2),  # the pain buttons
    ('/inform{"equipment": "band"}', None, False, False, None),  # another question's button
])
def test_a_number_outside_a_question_is_a_pain_score_only_when_about_pain(
    text: str, entity: str | None, asked: bool, about_pain: bool, value: int | None
) -> None:
    from knowledge.form_answers import read_pain

    reading = read_pain(text, entity, asked=asked)
    assert (reading.about_pain, reading.value) == (about_pain, value)


def test_an_unusable_pain_score_gets_a_re_ask() -> None:
    from knowledge.form_answers import read_pain

    reading = read_pain("my back pain is 12", "12")
    assert reading.about_pain and reading.value is None and "off the scale" in (reading.problem or "")


def test_the_bridge_reads_why_and_how_back_at_what_was_said() -> None:
    from bot.rasa_bridge import question_back_at_what_was_said

    def with_memory(**slots):
        return SimpleNamespace(active_loop_name=None, get_slot=lambda name: slots.get(name))

    guessed = {"text": "why?", "intent": {"name": "nlu_fallback", "confidence": 0.4}, "entities": []}
    said = with_memory(last_cues=["hips_drive", "pelvis_level"], last_exercises=["glute_bridge"])
    assert question_back_at_what_was_said(said, "why?", guessed)["intent"]["name"] == "ask_why_cue"
    assert question_back_at_what_was_said(said, "how do i do that one?", guessed)["intent"]["name"] == "ask_howto"
    # Nothing named yet, or a message that names what it asks about: the classifier's reading stays.
    assert question_back_at_what_was_said(with_memory(), "why?", guessed) is guessed
    named = {**guessed, "entities": [{"entity": "cue", "value": "pelvis level"}]}
    assert question_back_at_what_was_said(said, "why that one, pelvis level?", named) is named


def test_stop_inside_a_form_leaves_it_whatever_the_classifier_guessed() -> None:
    guessed = {"text": "stop", "intent": {"name": "session_pause", "confidence": 0.5}, "entities": []}
    answer, parse = answer_to_open_question(tracker("onboarding_form", "goal"), "stop", guessed)
    assert answer is None and parse["intent"]["name"] == "leave_form"
    # Outside a form, and in a sentence, "stop" is ordinary talk for the classifier.
    assert answer_to_open_question(tracker(None, None), "stop", guessed)[1] is guessed
    sentence = "how do i stop my back taking over"
    assert answer_to_open_question(tracker("onboarding_form", "goal"), sentence, guessed)[1]["intent"]["name"] == "inform"
