"""'why?', 'that one', 'the second one': read against what the coach just named
(knowledge/references.py), and the actions that keep and use that memory, with a tracker from a
dict and a CollectingDispatcher."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import common
from knowledge.loader import load
from knowledge.references import Reference, pick, read_reference


@pytest.mark.parametrize("text, index", [
    ("why?", None), ("Why", None), ("how?", None), ("how do i do that one?", None), ("this one", None),
    ("and why does that matter", None), ("how do i do the second one?", 1), ("the first one", 0),
    ("2nd", 1), ("why the last cue?", -1),
])
def test_references_back_are_read(text: str, index: int | None) -> None:
    assert read_reference(text) == Reference(index)


@pytest.mark.parametrize("text", ["why keep my pelvis level?", "how do i do clamshells", "my knee caves in"])
def test_naming_something_is_no_reference(text: str) -> None:
    assert read_reference(text) is None


def test_picking_from_what_was_said() -> None:
    said = ["cue_a", "cue_b"]
    assert pick(Reference(1), said).item == "cue_b"
    assert pick(Reference(-1), said).item == "cue_b"
    assert pick(Reference(None), ["cue_a"]).item == "cue_a"
    assert pick(Reference(None), said).choices == ("cue_a", "cue_b")  # two possible: ask which
    assert pick(Reference(2), said).choices == ("cue_a", "cue_b")  # no third one: ask which
    assert pick(Reference(None), []).item is None


@pytest.fixture(scope="module", autouse=True)
def knowledge_base() -> None:
    load(common.engine())


def tracker(text: str, intent: str, slots: dict | None = None) -> Tracker:
    return Tracker.from_dict({
        "sender_id": "unit-references", "slots": slots or {}, "events": [], "paused": False, "followup_action": None,
        "active_loop": {}, "latest_action_name": "action_listen",
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []},
    })


def refs(dispatcher: CollectingDispatcher) -> dict:
    return [m["custom"]["kb_refs"] for m in dispatcher.messages if (m.get("custom") or {}).get("kb_refs")][-1]


def slots(events: list[dict]) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_why_and_how_after_a_fault_answer_mean_what_it_named() -> None:
    from actions.knowledge_answers import ActionHowto, ActionReportFault, ActionWhyCue

    dispatcher = CollectingDispatcher()
    memory = slots(ActionReportFault().run(dispatcher, tracker("my butt never works in bridges, it's all lower back",
                                                              "report_fault"), {}))
    named = refs(dispatcher)
    assert memory["last_cues"] == named["cues"] and memory["last_exercises"] == named["exercises"]
    assert len(named["cues"]) == 2 and len(named["exercises"]) == 2
    # "why?" with two cues named: which one, with a button for each.
    dispatcher = CollectingDispatcher()
    ActionWhyCue().run(dispatcher, tracker("why?", "ask_why_cue", memory), {})
    assert dispatcher.messages[0]["text"] == "Which cue do you mean?"
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        f'/ask_why_cue{{"cue": "{c}"}}' for c in named["cues"]]
    # "the second one" is the second exercise named; "why?" after a how-to is its key cue.
    dispatcher = CollectingDispatcher()
    after_howto = slots(ActionHowto().run(dispatcher, tracker("how do i do the second one?", "ask_howto", memory), {}))
    assert refs(dispatcher)["exercises"] == [named["exercises"][1]]
    dispatcher = CollectingDispatcher()
    ActionWhyCue().run(dispatcher, tracker("why?", "ask_why_cue", {**memory, **after_howto}), {})
    assert refs(dispatcher)["cues"] == after_howto["last_cues"] and len(after_howto["last_cues"]) == 1


def test_a_named_cue_wins_over_the_memory() -> None:
    from actions.knowledge_answers import ActionWhyCue

    message = tracker("why keep my pelvis level?", "ask_why_cue", {"last_cues": ["ribs_over_pelvis"]})
    message.latest_message["entities"] = [{"entity": "cue", "value": "pelvis level"}]
    dispatcher = CollectingDispatcher()
    ActionWhyCue().run(dispatcher, message, {})
    assert refs(dispatcher)["cues"] == ["pelvis_level"]


def _events_tracker(events: list[dict]) -> Tracker:
    return Tracker.from_dict({
        "sender_id": "unit-leave", "slots": {}, "events": events, "paused": False, "followup_action": None,
        "active_loop": {}, "latest_action_name": "action_deactivate_loop",
        "latest_message": {"text": "stop", "intent": {"name": "leave_form", "confidence": 1.0}, "entities": []},
    })


def test_leaving_a_question_says_how_to_carry_on() -> None:
    from actions.forms import ActionLeaveForm

    left = [{"event": "active_loop", "name": "onboarding_form"}, {"event": "user", "text": "stop"},
            {"event": "action", "name": "action_deactivate_loop"}, {"event": "active_loop", "name": None}]
    dispatcher = CollectingDispatcher()
    ActionLeaveForm().run(dispatcher, _events_tracker(left), {})
    assert "/start" in dispatcher.messages[0]["text"]
    # No form open this turn (one ended long ago): nothing to carry on with.
    earlier = [*left, {"event": "user", "text": "stop"}]
    dispatcher = CollectingDispatcher()
    ActionLeaveForm().run(dispatcher, _events_tracker(earlier), {})
    assert "/start" not in dispatcher.messages[0]["text"]


@pytest.mark.parametrize("text, kind", [
    ("why?", "cue"), ("why the second one?", "cue"), ("and why does that matter", "cue"), ("how come?", "cue"),
    ("how do i do the second one?", "exercise"), ("how do i do that one", "exercise"), ("show me the first one", "exercise"),
    ("how?", "exercise"),
    ("why keep my pelvis level?", None),  # names its cue: the intents read it
    ("how do i warm up for squats", None),
    ("deadlifts in a minute, anything to think about?", None),
])
def test_questions_back_at_what_was_said(text: str, kind: str | None) -> None:
    from knowledge.references import reference_question

    assert reference_question(text) == kind
