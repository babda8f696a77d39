"""The primer builder (knowledge/primer.py) over the real content, table by table: the time the
person has, their equipment, their faults and their level change the primer as the content
says, and it never holds a drill above their level or one that needs kit they lack."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from knowledge.db import make_engine
from knowledge.loader import load
from knowledge.primer import (DEFAULT_MINUTES, MIN_SHORT_REPS, Person, available_minutes, build_primer, person_level,
                              reads_as_pre_workout)
from knowledge.queries import KnowledgeBase


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('primer') / 'kb.db'}")
    assert load(engine).ok
    base = KnowledgeBase.load(engine)
    engine.dispose()
    return base


def drills(primer) -> list[str]:
    return [d.exercise_id for d in primer.drills]


@pytest.mark.parametrize("text, minutes", [
    ("just 2 minutes before squats", 2.0),
    ("got 5 mins before my run", 5.0),
    ("a couple of minutes, that's all", 2.0),
    ("2-minute warm up for deadlifts?", 2.0),
    ("deadlifts in 20 min, anything to think about?", None),  # when the workout starts
    ("deadlifts in a minute", None),
    ("10k in about 30 mins", None),
    ("squats in 10 minutes, i have 3 minutes now", 3.0),  # the start is skipped, the time kept
    ("about to squat", None),
])
def test_available_minutes(text: str, minutes: float | None) -> None:
    assert available_minutes(text) == minutes


@pytest.mark.parametrize("activity, minutes, expected", [
    # Nobody known: easiest level, no equipment; 3-5 minutes by default.
    ("lift_squat", None, ["glute_bridge", "clamshell"]),
    ("lift_squat", 2, ["glute_bridge"]),  # "just 2 minutes": one drill
    ("lift_squat", 5, ["glute_bridge", "clamshell", "sit_to_stand"]),
    ("lift_deadlift", None, ["hip_hinge", "glute_bridge"]),
    ("activity_running", 2, ["single_leg_stance", "kneeling_hip_flexor_stretch"]),  # a short drill fills the gap
    ("activity_cycling", None, ["kneeling_hip_flexor_stretch", "glute_bridge"]),
])
def test_time_available_sets_how_many_drills(kb: KnowledgeBase, activity: str, minutes: float | None,
                                              expected: list[str]) -> None:
    primer = build_primer(kb, activity, None, minutes)
    assert drills(primer) == expected
    assert primer.seconds <= 60 * (minutes or DEFAULT_MINUTES)
    assert not primer.known_person and primer.cues == kb.activity(activity).cues


@pytest.mark.parametrize("activity, drill", [
    ("lift_squat", "glute_bridge"),  # 10 reps would take 75 s
    ("lift_lunge", "clamshell"),  # 10 per side would take 115 s
])
def test_one_minute_shortens_the_first_drill_instead_of_doubling_the_time(kb: KnowledgeBase, activity: str,
                                                                           drill: str) -> None:
    full = build_primer(kb, activity, None, 2)
    short = build_primer(kb, activity, None, 1)
    assert drills(short) == [drill] and drills(full)[0] == drill
    assert MIN_SHORT_REPS <= short.drills[0].dosage["reps"] < full.drills[0].dosage["reps"]
    assert short.seconds < full.drills[0].seconds
    assert round(short.seconds / 60) <= 1


@pytest.mark.parametrize("text, intent, expected", [
    # Asking for a warm-up or the cues, or saying the workout is ahead: a pre-workout request.
    ("only have 2 mins b4 squatting, whats the fastest way to wake up my glutes", "report_fault", True),
    ("bulgarians next, how do i make them more glute and less quad", "report_fault", True),
    ("hike starts at 8, i have 3 mins at the trailhead", "inform", True),
    ("trap bar deadlift this morning, remind me the technique", "out_of_scope", True),
    ("leg day", "report_fault", True),
    ("single leg rdl later, key points?", "ask_howto", True),
    # A how-to question about the exercise of the same name stays one unless the workout is ahead.
    ("how do i do hip thrusts", "ask_howto", False),
    # Complaints and "why" go to the fault and cue answers.
    ("my knees cave in when i squat, what should i do", "report_fault", False),
    ("squats today felt all in my quads", "report_fault", False),
    ("my lower back takes over in deadlifts", "report_fault", False),
    ("why do my knees have to track my toes in lunges", "report_fault", False),
    ("did squats yesterday and my back is sore", "report_soreness", False),
])
def test_reads_as_pre_workout(text: str, intent: str, expected: bool) -> None:
    assert reads_as_pre_workout(text, True, intent) is expected


def test_without_a_named_activity_nothing_is_a_pre_workout_request() -> None:
    assert not reads_as_pre_workout("quick warm up before the gym?", False, "report_fault")


@pytest.mark.parametrize("equipment, expected", [
    ({"none"}, ["glute_bridge", "clamshell"]),
    ({"none", "band"}, ["glute_bridge", "banded_glute_bridge", "sit_to_stand"]),  # the band drill, at level 2
])
def test_equipment_at_hand_changes_the_drills(kb: KnowledgeBase, equipment: set[str], expected: list[str]) -> None:
    assert drills(build_primer(kb, "lift_squat", Person(level=2, equipment=frozenset(equipment)))) == expected


@pytest.mark.parametrize("activity, faults, first_drill, first_cue, watch", [
    # A knee that caves in: a side-glute drill leads, and the knee cue stays first.
    ("lift_squat", ("knee_valgus",), "clamshell", "knees_track_toes", ("knee_valgus",)),
    # The lower back doing the work: its own drill and cue lead the hip thrust's primer.
    ("lift_hip_thrust", ("lumbar_dominance",), "cook_hip_lift", "ribs_over_pelvis", ("lumbar_dominance",)),
    # A fault that does not usually show up in this lift changes nothing.
    ("lift_deadlift", ("knee_valgus",), "hip_hinge", "hinge_at_hips", ()),
])
def test_own_faults_lead_the_primer(kb: KnowledgeBase, activity: str, faults: tuple[str, ...], first_drill: str,
                                    first_cue: str, watch: tuple[str, ...]) -> None:
    primer = build_primer(kb, activity, Person(level=3, faults=faults))
    assert (drills(primer)[0], primer.cues[0], primer.watch_faults) == (first_drill, first_cue, watch)
    assert set(primer.cues) == set(kb.activity(activity).cues)


@pytest.mark.parametrize("level, expected", [
    (1, ["glute_bridge", "clamshell", "sit_to_stand"]),  # the band drills are level 2
    (2, ["glute_bridge", "banded_glute_bridge", "clamshell"]),
])
def test_level_caps_the_drills(kb: KnowledgeBase, level: int, expected: list[str]) -> None:
    person = Person(level=level, equipment=frozenset({"none", "band"}))
    assert drills(build_primer(kb, "lift_squat", person, 5)) == expected


def test_never_above_the_level_nor_needing_missing_kit(kb: KnowledgeBase) -> None:
    kits = [frozenset({"none"}) | set(extra) for n in range(3)
            for extra in itertools.combinations(["band", "bench", "kettlebell", "barbell"], n)]
    for activity, level, kit, faults, minutes in itertools.product(
            [a.id for a in kb.activities()], range(1, 6), kits,
            [(), ("lumbar_dominance",), ("knee_valgus", "hip_drop")], [1, 2, 4, 10]):
        primer = build_primer(kb, activity, Person(level=level, equipment=kit, faults=faults), minutes)
        assert primer.drills, (activity, level, kit)
        for drill in primer.drills:
            exercise = kb.exercise(drill.exercise_id)
            assert exercise.level <= level, (activity, level, drill.exercise_id)
            assert exercise.usable_with(kit), (activity, kit, drill.exercise_id)
        assert len(primer.drills) <= 3


def test_person_level_is_the_highest_exercise_of_the_plan(kb: KnowledgeBase) -> None:
    assert person_level(kb, {}) == 1
    assert person_level(kb, {"bridge": "single_leg_glute_bridge", "side": "clamshell"}) == 3


@pytest.mark.parametrize("text, expected", [
    ("shift at the warehouse starts in 30, like 3 min of activation", ["activity_everyday_lifting"]),  # not "bike"
    ("track intervals tonight", ["activity_running"]),  # "track" is no typo of "trek"
    ("hill sprints later", ["activity_running"]),  # the longer name wins over "hill"
    ("about to sqaut", ["lift_squat"]),  # a real typo is still corrected
    ("kb swings class at 6", ["lift_deadlift"]),
])
def test_find_activities_never_corrects_an_english_word(kb: KnowledgeBase, text: str, expected: list[str]) -> None:
    assert [m.id for m in kb.find_activities(text)] == expected
