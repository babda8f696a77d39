"""The in-memory query API over the fixture content set."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from knowledge.db import make_engine
from knowledge.kb_commands import cmd_show
from knowledge.loader import load
from knowledge.queries import KnowledgeBase, KnowledgeBaseNotLoaded, Match
from tests.test_kb_validate import FIXTURE_DIR


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('kbq') / 'kb.db'}")
    assert load(engine, FIXTURE_DIR).ok
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def kb(engine: Engine) -> KnowledgeBase:
    return KnowledgeBase.load(engine)


def ids(views: list) -> list[str]:
    return [view.id for view in views]


def test_single_items_and_unknown_ids(kb: KnowledgeBase) -> None:
    assert kb.fault("hip_drop").title == "Hip drops on the free-leg side"
    assert kb.cue("hips_drive").exercises == ("glute_bridge", "hip_thrust")
    assert kb.exercise("bird_dog").dosage["hold_seconds"] == 10
    assert kb.red_flag("cauda_equina").urgency == "emergency"
    assert kb.assessment("single_leg_stance_test").results[0].faults == ("hip_drop",)
    with pytest.raises(KeyError, match="unknown cue 'nope'"):
        kb.cue("nope")
    assert kb.get("exercise", "nope") is None and kb.get("exercise", "clamshell") is kb.exercise("clamshell")


def test_views_are_immutable(kb: KnowledgeBase) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        kb.fault("hip_drop").title = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        kb.exercise("glute_bridge").dosage["sets"] = 9  # type: ignore[index]
    with pytest.raises(TypeError):
        kb.progression()["phases"] = ()  # type: ignore[index]


def test_collections_keep_file_order(kb: KnowledgeBase) -> None:
    assert ids(kb.faults()) == ["lumbar_dominance", "hip_drop", "knee_valgus"]
    assert ids(kb.red_flags()) == ["cauda_equina", "infection"]
    assert ids(kb.assessments()) == ["single_leg_stance_test", "glute_squeeze_test"]
    assert len(kb.cues()) == 5 and len(kb.exercises()) == 8


def test_references_in_given_order(kb: KnowledgeBase) -> None:
    refs = kb.references(["kang2016", "nope", "distefano2009"])
    assert ids(refs) == ["kang2016", "distefano2009"]
    assert refs[1].citation == "Distefano et al. 2009, Gluteal muscle activation during common therapeutic exercises"


def test_fault_cues_and_exercises_in_order_with_why(kb: KnowledgeBase) -> None:
    assert ids(kb.cues_for_fault("knee_valgus")) == ["push_knees_out", "knees_track_toes"]
    pairs = [(exercise.id, why) for exercise, why in kb.exercises_for_fault("hip_drop")]
    assert pairs == [
        ("side_lying_hip_abduction", "Side-lying abduction trains gluteus medius with nothing else to help."),
        ("clamshell", "Clamshells wake up the side hip muscles at a low load."),
        ("single_leg_romanian_deadlift", "A single-leg hinge makes you hold the pelvis level under load."),
    ]
    with pytest.raises(KeyError):
        kb.cues_for_fault("no_such_fault")


def test_easier_and_harder_follow_links_both_ways(kb: KnowledgeBase) -> None:
    assert ids(kb.harder("glute_bridge")) == ["single_leg_glute_bridge", "hip_thrust"]
    assert ids(kb.easier("hip_thrust")) == ["glute_bridge"]  # declared on hip_thrust
    # clamshell declares nothing; two exercises name it as their easier step.
    assert ids(kb.harder("clamshell")) == ["side_lying_hip_abduction", "lateral_band_walk"]
    assert kb.easier("glute_bridge") == []


def test_alternatives_same_phase_and_muscle_within_equipment(kb: KnowledgeBase) -> None:
    # lateral_band_walk: activation, gluteus medius first, needs a band.
    assert ids(kb.alternatives("lateral_band_walk")) == ["side_lying_hip_abduction", "clamshell"]
    # Without equipment the band-only walk is never offered as a swap for the clamshell.
    assert "lateral_band_walk" not in ids(kb.alternatives("clamshell", equipment=set()))
    assert "lateral_band_walk" in ids(kb.alternatives("clamshell", equipment={"band"}))
    # hip_thrust is the only loading exercise: no same-phase swap exists.
    assert kb.alternatives("hip_thrust") == []


def test_painful_alternatives_are_easier(kb: KnowledgeBase) -> None:
    options = kb.alternatives("single_leg_glute_bridge", painful=True)
    assert ids(options)[0] == "glute_bridge"  # its declared easier step first
    assert all(o.level < kb.exercise("single_leg_glute_bridge").level for o in options)
    assert kb.alternatives("hip_thrust", equipment=set(), painful=True)[0].id == "glute_bridge"


@pytest.mark.parametrize("text, expected", [
    ("clams", "clamshell"),
    ("RDL", "single_leg_romanian_deadlift"),
    ("hip thrusts", "hip_thrust"),
    ("bird-dog", "bird_dog"),
    ("clamshels", "clamshell"),
    ("glute brige", "glute_bridge"),
    ("Glute Bridges", "glute_bridge"),
    ("birddog", "bird_dog"),
    ("how do i do clams with a band", "clamshell"),
    ("can you show me the single leg glute bridge please", "single_leg_glute_bridge"),
    ("side lying abduction", "side_lying_hip_abduction"),
    ("romanian deadlifts", "single_leg_romanian_deadlift"),  # part of a longer name
])
def test_find_exercises_by_name_alias_plural_and_typo(kb: KnowledgeBase, text: str, expected: str) -> None:
    matches = kb.find(text)
    assert matches and (matches[0].kind, matches[0].id) == ("exercise", expected)


def test_find_scores_and_kind_filter(kb: KnowledgeBase) -> None:
    assert kb.find("clams")[0] == Match("exercise", "clamshell", 1.0)
    assert 0.5 < kb.find("clamshels")[0].score < 1.0  # a typo costs something
    assert kb.find("trendelenburg test")[0] == Match("assessment", "single_leg_stance_test", 1.0)
    assert ids(kb.find("hips drive", kind="cue")) == ["hips_drive"]
    assert kb.find("hips drive", kind="exercise") == []
    assert kb.find("the weather is lovely today") == []
    assert kb.find("romanian deadlift")[0].score == 0.8  # only part of "single leg romanian deadlift"
    assert kb.find("how do i do it with my leg") == []  # ordinary words never name an item
    assert kb.find("") == []


def test_closest_fault_from_free_text(kb: KnowledgeBase) -> None:
    assert kb.closest_fault("my knees collapse inwards when squatting").id == "knee_valgus"
    assert kb.closest_fault("my hip sags when i stand on one leg").id == "hip_drop"
    assert kb.closest_fault("I feel bridges in my back, not my butt").id == "lumbar_dominance"
    assert kb.closest_fault("what time is it in tokyo") is None


def test_red_flag_screen_comes_from_the_knowledge_base(kb: KnowledgeBase) -> None:
    screen = kb.red_flag_screen()
    assert screen.screen("I went NUMB between my legs when I wipe").flag_id == "cauda_equina"
    # Several flags at once: the most urgent is named (the rules are tried in urgency order).
    assert screen.screen("I have a fever, my back hurts and I lost control of my bladder").flag_id == "cauda_equina"
    assert screen.screen("my back hurts and I have a fever").flag_id == "infection"
    assert screen.screen("my glutes are sore after training").outcome == "none"


def test_phrasings_for_nlu(kb: KnowledgeBase) -> None:
    data = kb.phrasings()
    assert set(data) == {"faults", "cues", "exercises", "red_flags"}
    assert len(data["faults"]["hip_drop"]) == 15 and len(data["red_flags"]["infection"]) == 10
    assert data["exercises"]["clamshell"] == ["Clamshell", "clams", "clam shell", "clam"]
    assert data["cues"]["push_knees_out"] == ["Push your knees out", "knees out"]


def test_fingerprint_and_progression_document(kb: KnowledgeBase) -> None:
    from knowledge.validate import content_fingerprint

    assert kb.fingerprint == content_fingerprint(FIXTURE_DIR)
    assert kb.progression()["pain_monitoring"]["sources"] == ("silbernagel2007",)


def test_load_before_kb_load_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseNotLoaded, match="kb load"):
        KnowledgeBase.load(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))


def test_show_fault_lists_cues_and_exercises_in_order_with_sources(engine: Engine, kb: KnowledgeBase) -> None:
    code, text = cmd_show(engine, "lumbar_dominance")
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "Lower back doing the glutes' work [fault: lumbar_dominance]"
    order = [next(i for i, line in enumerate(lines) if marker in line) for marker in
             ("Cues, first to try first:", "1. Hips drive, knees follow [hips_drive]", "2. Ribs stacked over the pelvis",
              "Exercises, in order:", "1. Glute bridge [glute_bridge]", "2. Bird dog [bird_dog]")]
    assert order == sorted(order)
    assert lines[order[1] + 1].strip() == ("source: Kang et al. 2016, Modifying the hip abduction angle during "
                                           "bridging exercise can facilitate gluteus maximus activity")


def test_show_unknown_id_suggests_near_ids(engine: Engine) -> None:
    assert cmd_show(engine, "lumbar_dominanse") == (1, "unknown id 'lumbar_dominanse'; did you mean lumbar_dominance?")
    code, text = cmd_show(engine, "zzzz")
    assert code == 1 and "\n" not in text


def test_show_before_load_is_one_line(tmp_path: Path) -> None:
    code, text = cmd_show(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"), "hip_drop")
    assert code == 1 and text == "the knowledge base is not loaded yet: run `kb load` first"


def test_activities_round_trip_with_their_links_in_order(kb: KnowledgeBase) -> None:
    squat = kb.activity("lift_squat")
    assert (squat.kind, squat.cues, squat.faults) == ("lift", ("knees_track_toes", "hips_drive"), ("knee_valgus", "lumbar_dominance"))
    assert squat.primer == ("glute_bridge", "clamshell", "lateral_band_walk")
    assert squat.sources == ("distefano2009",) and not squat.coaching_practice
    assert kb.activity("activity_running").coaching_practice and kb.activity("activity_running").sources == ()
    assert kb.kind_of("lift_squat") == "activity"
    # Activity names are their own namespace: they never turn up in the exercise/cue lookup.
    assert kb.find("leg day") == []


@pytest.mark.parametrize("text, expected", [
    ("about to squat", ["lift_squat"]),
    ("leg day!!", ["lift_squat"]),
    ("off for a jog then squats", ["activity_running", "lift_squat"]),  # in the order mentioned
    ("sqauts in 10", ["lift_squat"]),  # a typo costs score, not the match
    ("what should i eat for dinner", []),
])
def test_find_activities(kb: KnowledgeBase, text: str, expected: list[str]) -> None:
    assert [m.id for m in kb.find_activities(text)] == expected


def test_kb_show_prints_an_activitys_cues_faults_and_drills_with_sources(engine: Engine) -> None:
    code, text = cmd_show(engine, "lift_squat")
    assert code == 0
    assert text.splitlines()[0] == "Squat [lift: lift_squat] evidence: published"
    assert '  1. Knees track the toes [knees_track_toes]: "Keep your knee pointing the same way as your toes."' in text
    assert "  - Knees cave in [knee_valgus]" in text
    assert "  3. Lateral band walk [lateral_band_walk] (activation, level 2, equipment: band)" in text
    assert text.rstrip().endswith("source: Distefano et al. 2009, Gluteal muscle activation during common therapeutic exercises")
    code, text = cmd_show(engine, "activity_running")
    assert code == 0 and "coaching practice" in text.splitlines()[0] and text.rstrip().endswith("none: coaching practice")
