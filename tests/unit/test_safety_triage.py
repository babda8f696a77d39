"""The safety path on its own (knowledge/safety): the screen's outcomes and modifiers, and what
triage records and decides, on a real database without Rasa."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from knowledge.db import create_all, make_engine, session_factory
from knowledge.safety import records
from knowledge.safety import triage as safety
from knowledge.safety.screen import CLEAR, NONE, POSSIBLE, screen_from_file

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
ADVICE = {"cauda_equina": "Go to an emergency department now. More.", "infection": "See a doctor today. More."}


@pytest.fixture(scope="module")
def screen():
    return screen_from_file()


@pytest.fixture()
def db(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'safety.db'}")
    create_all(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


# ------------------------------------------------------------------------------------- the screen

@pytest.mark.parametrize("text, outcome, flag", [
    # clear red flags, and the right one named
    ("had a little accident this morning, didn't reach the bathroom in time", CLEAR, "cauda_equina"),
    ("whole right leg has gone dead, can't feel it at all", CLEAR, "progressive_neuro_deficit"),
    ("my foot keeps slapping the floor when i walk", CLEAR, "progressive_neuro_deficit"),
    ("about a 6, and I have had a fever and chills for days with my back pain", CLEAR, "infection"),
    ("7, and my legs keep giving way, I tripped twice this week", CLEAR, "progressive_neuro_deficit"),
    ("my groin has been numb since the weekend", CLEAR, "cauda_equina"),
    ("the numbess in my groin is getting worse", CLEAR, "cauda_equina"),  # a typo
    ("lost 8kg without trying and my back aches", CLEAR, "cancer"),
    ("fell off a ladder yesterday", CLEAR, "fracture"),
    # possible: one question
    ("i have a fever", POSSIBLE, "infection"),
    ("my left foot has been numb since my back went", POSSIBLE, "progressive_neuro_deficit"),
    ("im 67 and never had back pain until this month", POSSIBLE, "cancer"),
    # ordinary talk: nothing
    ("no numbness or tingling, just sore glutes", NONE, None),
    ("had the flu last week, back to training now", NONE, None),
    ("my foot went numb sitting cross-legged, gone now", NONE, None),
    ("my dad has cancer, so I've been busy", NONE, None),
    ("I have a desk job and do squats and deadlifts twice a week", NONE, None),
    ("I'm a nurse and I do pilates on weekends", NONE, None),
    ("back feels totally normal this week", NONE, None),
    ("can we do something gentler? scared of tweaking it", NONE, None),
    ("sorry been away a week, kids were sick", NONE, None),
    ("my legs are jelly after leg day", NONE, None),
    ("lost 5kg on my cut, feeling good", NONE, None),
    ("i can't feel my glutes, it's all in my inner thighs and hamstrings", NONE, None),
    ("slipped a disc years ago, all fine now", NONE, None),
    # comparisons, everyday causes a concept names, movement pain, "no ... stuff"
    ("I feel like a 90 year old with osteoporosis after that hike lol", NONE, None),
    ("feel like i've been run over by a bus after rugby, every bit of me aches", NONE, None),
    ("I have fallen arches and my back gets achy on long walks", NONE, None),
    ("fell down the stairs when i was about 12, back's been fine since", NONE, None),
    ("sweating all night in this heatwave, no aircon in the flat", NONE, None),
    ("pain 0 and no bladder stuff either before you ask", NONE, None),
    ("my left leg is still weaker than my right since my acl surgery", NONE, None),
    ("after kettlebells my lower back hurt when I turned over in bed", NONE, None),
    # someone else's urgent symptom earns the question; someone typing for the person stops
    ("my wife's leg keeps giving way when she walks, she wants a routine for it", POSSIBLE, "progressive_neuro_deficit"),
    ("her husband here, she says both legs went numb this morning", CLEAR, "cauda_equina"),
    # the right flag named
    ("my whole left leg has been dead numb from the hip down since this morning, glutes too", CLEAR, "progressive_neuro_deficit"),
    ("my back surgery wound is red and leaking and the pain is getting worse", CLEAR, "infection"),
    ("been shooting up again at weekends and my back is killing me", CLEAR, "infection"),
    ("been on steroids for my asthma for years and felt something give in my back with a crunch", CLEAR, "fracture"),
    # sixth set's classes: a general question, a cold's fever, an old operation, a fundraiser,
    # sweat after a hot class, pain that lying down eases, a named history without "back"
    ("is tingling in your feet ever a serious thing? just want to know", NONE, None),
    ("came down with a cold and a fever on monday, better now, when can i train", NONE, None),
    ("had a discectomy six years ago and my back gets sore after deadlifts", NONE, None),
    ("did the race for life for cancer research, my calves ache", NONE, None),
    ("hot yoga at 40 degrees, drenched in sweat by the end but loved it", NONE, None),
    ("my lower back hurts after gardening but lying down helps ease it", NONE, None),
    ("8, and it doesn't change whether i rest or move. had a melanoma removed years back", POSSIBLE, "cancer"),
    ("my mum (81, osteoporosis) coughed and now can't get up for her back, she does the bridges with me", POSSIBLE, "fracture"),
    ("back surgery 3 weeks ago and now the back pain is worse", CLEAR, "infection"),
    ("everything from the waist down feels weird since this morning", POSSIBLE, "cauda_equina"),
    ("my left leg keeps going dead from the buttock to the foot since friday", CLEAR, "progressive_neuro_deficit"),
])
def test_screen_outcomes(screen, text: str, outcome: str, flag: str | None) -> None:
    result = screen.screen(text)
    assert (result.outcome, result.flag_id) == (outcome, flag), result.reason


def test_a_classifier_alone_never_raises_a_red_flag(screen) -> None:
    assert screen.screen("I have a desk job and lift three times a week", "infection").outcome == NONE
    # ...but with a symptom the concepts do not confirm as a stop, it earns the question.
    result = screen.screen("my toes tingle a bit", "progressive_neuro_deficit")
    assert result.outcome == POSSIBLE and result.flag_id == "progressive_neuro_deficit"


def test_questions_name_the_symptoms_in_plain_words(screen) -> None:
    assert "wipe" in screen.question("cauda_equina") and "pee" in screen.question("cauda_equina")
    assert "fever" in screen.question("infection")


@pytest.mark.parametrize("text, answer", [
    ("yes", True), ("Yeah.", True), ("yep", True), ("/affirm", None), ("no", False), ("nope", False),
    ("no, not at all", False), ("not really", False), ("what?", None), ("my knee hurts", None),
])
def test_yes_no(screen, text: str, answer: bool | None) -> None:
    assert screen.yes_no(text) is answer


def test_says_checked(screen) -> None:
    assert screen.says_checked("a doctor checked me, all clear")
    assert screen.says_checked("saw my GP yesterday, she said it's just muscular")
    assert not screen.says_checked("start my session")


# ------------------------------------------------------------------------------------- triage

def decide(db, screen, text: str, intent: str | None = None, classifier: str | None = None) -> safety.Decision:
    decision = safety.triage(db, screen, ADVICE, "u1", text, NOW, intent=intent, classifier_flag=classifier)
    db.commit()
    return decision


def events(db) -> list[tuple[str, str | None]]:
    return [(e.kind, e.flag_id) for e in db.execute(select(records.SafetyEvent).order_by(records.SafetyEvent.id)).scalars()]


def test_a_clear_red_flag_stops_and_is_recorded_without_the_text(db, screen) -> None:
    text = "lost control of my bladder since yesterday"
    decision = decide(db, screen, text)
    assert decision.action == safety.STOP and decision.flag_id == "cauda_equina"
    assert events(db) == [("stop", "cauda_equina")]
    assert records.open_stop(db, "u1").flag_id == "cauda_equina"
    assert records.pending_check(db, "u1") is None


def test_paused_coaching_answers_coaching_requests_with_the_advice(db, screen) -> None:
    decide(db, screen, "lost control of my bladder since yesterday")
    for intent in ("start_session", "session_done", "start", "report_fault", "ask_howto"):
        decision = decide(db, screen, "/" + intent, intent=intent)
        assert decision.action == safety.PAUSED and "emergency department" in decision.text
    for intent in ("export_data", "delete_data", "help", "greet", "affirm"):
        assert decide(db, screen, "/" + intent, intent=intent).action == safety.PASS


def test_the_way_back_after_a_doctors_check(db, screen) -> None:
    decide(db, screen, "my foot drags when i walk")
    asked = decide(db, screen, "a doctor checked me, all clear")
    assert asked.action == safety.ASK_CLEARANCE and [p for _t, p in asked.buttons] == ["/affirm", "/deny"]
    assert decide(db, screen, "no").action == safety.STILL_PAUSED
    assert records.open_stop(db, "u1") is not None
    decide(db, screen, "the doctor said I'm fine to exercise")
    assert decide(db, screen, "/affirm").action == safety.CLEARED
    assert records.open_stop(db, "u1") is None
    assert decide(db, screen, "/start_session", intent="start_session").action == safety.PASS
    assert [k for k, _f in events(db)] == ["stop", "check_asked", "clearance_declined", "check_asked", "cleared"]


def test_a_possible_red_flag_asks_once_and_a_no_resumes_with_the_held_message(db, screen) -> None:
    asked = decide(db, screen, "i have a fever, can we go lighter today?")
    assert asked.action == safety.ASK and asked.flag_id == "infection"
    check = records.pending_check(db, "u1")
    assert check.held_text == "i have a fever, can we go lighter today?"
    resumed = decide(db, screen, "nope")
    assert resumed.action == safety.RESUME and resumed.forward == "i have a fever, can we go lighter today?"
    assert records.pending_check(db, "u1") is None  # the held text is gone with the question
    assert records.open_stop(db, "u1") is None
    assert events(db) == [("check_asked", "infection"), ("check_no", "infection")]


def test_a_yes_to_the_question_stops(db, screen) -> None:
    decide(db, screen, "i have a fever")
    decision = decide(db, screen, "yes")
    assert decision.action == safety.STOP and decision.flag_id == "infection"
    assert records.open_stop(db, "u1").flag_id == "infection"


def test_other_replies_get_the_question_again_then_the_conversation_goes_on(db, screen) -> None:
    decide(db, screen, "i have a fever")
    again = decide(db, screen, "what do you mean")
    assert again.action == safety.REASK and "fever" in again.text
    gone_on = decide(db, screen, "whatever, how do i do a bridge", intent="ask_howto")
    assert gone_on.action == safety.PASS
    assert events(db)[-1] == ("check_unanswered", "infection")


def test_a_clear_red_flag_inside_the_answer_to_the_question_stops_at_once(db, screen) -> None:
    decide(db, screen, "i have a fever")
    decision = decide(db, screen, "no but I wet myself this morning")
    assert decision.action == safety.STOP and decision.flag_id == "cauda_equina"


def test_commands_pass_a_pending_question_untouched(db, screen) -> None:
    decide(db, screen, "i have a fever")
    assert decide(db, screen, "/export_data", intent="export_data").action == safety.PASS
    assert records.pending_check(db, "u1") is not None


# Intents that still work while coaching is paused; every other intent of the domain is paused.
ALLOWED_WHILE_PAUSED = {"affirm", "deny", "greet", "goodbye", "thanks", "help", "bot_challenge", "out_of_scope",
                        "ask_progress", "export_data", "delete_data", "delete_confirm", "pause_reminders", "red_flag",
                        "leave_form"}  # "stop", "cancel": starts nothing


def test_every_intent_of_the_domain_is_either_paused_or_allowed_while_paused() -> None:
    # A new coaching intent (the pre-workout primer, say) must not slip past an open stop.
    import yaml

    domain = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    assert intents - ALLOWED_WHILE_PAUSED == set(safety.COACHING_INTENTS) & intents
    assert not ALLOWED_WHILE_PAUSED & safety.COACHING_INTENTS


def test_a_concept_with_an_unknown_modifier_is_refused_by_the_screen_and_by_validation() -> None:
    """A modifier the screen does not know would silently never cancel anything: the screen
    refuses the document, and kb validate names the concept (one list of names for both)."""
    import yaml

    from knowledge.safety.screen import Screen, check_document

    document = yaml.safe_load((Path(__file__).resolve().parents[2] / "knowledge" / "content"
                               / "safety_screen.yaml").read_text(encoding="utf-8"))
    document["concepts"][0] = {**document["concepts"][0], "cancelled_by": ["negation", "typo_modifier"]}
    with pytest.raises(ValueError, match="unknown modifier"):
        Screen(document)
    problems = [message for _path, message in check_document(document)]
    assert any("unknown modifier 'typo_modifier'" in message for message in problems), problems
    named_cause = next(iter((document.get("modifiers") or {}).get("causes") or {}), None)
    if named_cause:  # a document's own named causes are modifiers too
        document["concepts"][0]["cancelled_by"] = [named_cause]
        Screen(document)
