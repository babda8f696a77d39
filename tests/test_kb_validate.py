"""Every validation rule, each shown failing on a one-edit copy of the fixture content set.

Expected lines are found by searching the edited file for the offending text, independently of
the validator's own line tracking.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.kb_commands import cmd_validate
from knowledge.english import normalise
from knowledge.validate import REQUIRED_IDS, validate

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "kb_small"


class ContentCopy:
    """A copy of ``tests/fixtures/kb_small`` in a temporary directory, edited by text replacement."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "content"
        shutil.copytree(FIXTURE_DIR, self.dir)

    def path(self, file_name: str) -> Path:
        return self.dir / file_name

    def text(self, file_name: str) -> str:
        return self.path(file_name).read_text(encoding="utf-8")

    def replace(self, file_name: str, old: str, new: str) -> None:
        """Replace ``old`` (which must occur exactly once) by ``new``."""
        text = self.text(file_name)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {file_name}"
        self.path(file_name).write_text(text.replace(old, new), encoding="utf-8")

    def where(self, file_name: str, needle: str) -> str:
        """``path:line`` of the only line containing ``needle``."""
        hits = [n for n, line in enumerate(self.text(file_name).splitlines(), 1) if needle in line]
        assert len(hits) == 1, f"{needle!r} is on lines {hits} of {file_name}"
        return f"{self.path(file_name)}:{hits[0]}"

    def problems(self, **kwargs: object) -> list[str]:
        return [str(problem) for problem in validate(self.dir, **kwargs).problems]


@pytest.fixture
def content(tmp_path: Path) -> ContentCopy:
    return ContentCopy(tmp_path)


def test_fixture_set_is_valid_and_complete() -> None:
    result = validate(FIXTURE_DIR)
    assert result.problems == []
    assert {kind: len(items) for kind, items in result.content.items.items()} == {
        "reference": 6, "fault": 3, "cue": 5, "exercise": 8, "red_flag": 2, "assessment": 2, "activity": 2}
    assert result.content.documents["progression"]["pain_monitoring"]["sources"] == ["silbernagel2007"]


def test_paths_inside_the_project_are_relative_to_its_root() -> None:
    problems = [str(p) for p in validate(FIXTURE_DIR, required_ids={"fault": ["hip_drop", "no_such_fault"]}).problems]
    assert problems == ["tests/fixtures/kb_small/faults.yaml:1: required fault 'no_such_fault' is missing"]


# ----------------------------------------------------------------------------- YAML syntax

def test_yaml_syntax_error_is_one_line_with_its_position(content: ContentCopy) -> None:
    content.replace("faults.yaml", "    see_a_professional: \"If your knee swells, locks or gives way.\"",
                    "    see_a_professional: If your knee: swells")
    problems = content.problems()
    assert len(problems) == 1
    # libyaml ends the message "in this context", pure-Python PyYAML "here".
    assert problems[0].startswith(f"{content.where('faults.yaml', 'If your knee: swells')}: "
                                  "YAML syntax error: mapping values are not allowed")


def test_an_unreadable_file_does_not_make_its_ids_unknown_elsewhere(content: ContentCopy) -> None:
    content.replace("cues.yaml", "cues:\n", "cues:\n  - [\n")
    problems = content.problems()
    assert len(problems) == 1 and problems[0].startswith(f"{content.path('cues.yaml')}:")


def test_duplicate_yaml_key_is_reported(content: ContentCopy) -> None:
    content.replace("cues.yaml", '    feels_like: "Tension on the outside of your hips."',
                    '    feels_like: "Tension on the outside of your hips."\n    feels_like: "again"')
    first = content.where("cues.yaml", "Tension on the outside").rsplit(":", 1)[1]
    second = content.where("cues.yaml", 'feels_like: "again"')
    assert content.problems() == [f"{second}: "
                                  f"duplicate key 'feels_like' (first at line {first})"]


def test_every_problem_in_every_file_is_reported_at_once(content: ContentCopy) -> None:
    content.replace("progression.yaml", "phases: [activation, integration, loading]", "phases: [activation")
    content.replace("cues.yaml", 'say: "Gently push your knees out against the band."', "say: ''")
    content.replace("exercises.yaml", "    phase: loading", "    phase: heavy")
    content.replace("references.yaml", "    year: 2012", "    year: twenty")
    problems = content.problems()
    assert len(problems) == 4
    empty_say = content.where("cues.yaml", "say: ''")
    assert f"{empty_say}: cue 'push_knees_out': 'say' must be a non-empty string" in problems
    assert (f"{content.where('exercises.yaml', 'phase: heavy')}: exercise 'hip_thrust': phase 'heavy' is not one of "
            "activation, integration, loading") in problems
    assert f"{content.where('references.yaml', 'year: twenty')}: reference 'reiman2012': year must be a four-digit number" in problems
    assert any(p.startswith(f"{content.path('progression.yaml')}:") and "YAML syntax error" in p for p in problems)


def test_missing_file_and_wrong_top_level(content: ContentCopy) -> None:
    content.path("assessments.yaml").unlink()
    content.replace("red_flags.yaml", "red_flags:\n", "redflags:\n")
    assert content.problems() == [
        f"{content.path('assessments.yaml')}:1: file is missing",
        f"{content.path('red_flags.yaml')}:1: unknown top-level key 'redflags' (expected 'red_flags')",
        f"{content.path('red_flags.yaml')}:1: missing top-level key 'red_flags'",
    ]


@given(st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_deleting_any_line_never_raises(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    copy = ContentCopy(tmp_path_factory.mktemp("kb"))
    name = data.draw(st.sampled_from(sorted(p.name for p in FIXTURE_DIR.glob("*.yaml"))))
    lines = copy.text(name).splitlines(keepends=True)
    index = data.draw(st.integers(0, len(lines) - 1))
    copy.path(name).write_text("".join(lines[:index] + lines[index + 1:]), encoding="utf-8")
    for problem in validate(copy.dir).problems:
        assert re.fullmatch(r"[^\n]+:\d+: [^\n]+", str(problem))


# ----------------------------------------------------------------------------- schema

def test_missing_required_field_points_at_the_item(content: ContentCopy) -> None:
    content.replace("faults.yaml", '    mechanism: "Gluteus medius holds the pelvis level over the standing leg. '
                    'When it is weak the opposite side drops and the lower back side-bends to compensate."\n', "")
    assert content.problems() == [f"{content.where('faults.yaml', 'id: hip_drop')}: "
                                  "fault 'hip_drop': missing required field 'mechanism'"]


def test_unknown_field_is_reported_at_its_key(content: ContentCopy) -> None:
    content.replace("cues.yaml", "    sources: [kang2016]", "    sorces: [kang2016]")
    assert content.problems() == [
        f"{content.where('cues.yaml', 'id: hips_drive')}: cue 'hips_drive': missing required field 'sources'",
        f"{content.where('cues.yaml', 'sorces:')}: cue 'hips_drive': unknown field 'sorces'",
    ]


@pytest.mark.parametrize("file_name, old, new, message", [
    ("exercises.yaml", "    level: 3\n    equipment: [bench]", "    level: 7\n    equipment: [bench]",
     "exercise 'hip_thrust': level must be a whole number from 1 to 5"),
    ("exercises.yaml", "    equipment: [bench]", "    equipment: [dumbbell]",
     "exercise 'hip_thrust': equipment 'dumbbell' is not one of none, band, bench, kettlebell, barbell, machine"),
    ("red_flags.yaml", "    urgency: urgent", "    urgency: whenever",
     "red flag 'infection': urgency 'whenever' is not one of emergency, urgent, soon"),
    ("exercises.yaml", "      - muscle: core", "      - muscle: abs",
     "exercise 'bird_dog': muscle 'abs' is not one of gluteus_maximus, gluteus_medius, hamstrings, core, "
     "hip_flexors, erector_spinae, quadriceps, adductors"),
    ("assessments.yaml", "        starting_phase: null", "        starting_phase: warmup",
     "assessment 'single_leg_stance_test': starting_phase 'warmup' is not one of activation, integration, loading"),
    ("cues.yaml", '    why: "Pushing out switches on the side glutes. It keeps the knees from caving."', '    why: ""',
     "cue 'push_knees_out': 'why' must be a non-empty string"),
    ("exercises.yaml", 'emg_mvic: "56"', 'emg_mvic: "about 56"',
     "exercise 'bird_dog': emg_mvic 'about 56' must be a number or a range such as \"34-53\""),
])
def test_types_and_enums(content: ContentCopy, file_name: str, old: str, new: str, message: str) -> None:
    content.replace(file_name, old, new)
    needle = new.strip().splitlines()[0]
    assert content.problems() == [f"{content.where(file_name, needle)}: {message}"]


def test_dosage_needs_reps_or_a_hold(content: ContentCopy) -> None:
    content.replace("exercises.yaml", "reps: null, hold_seconds: 10, per_side: true", "reps: null, hold_seconds: null, per_side: 1")
    assert content.problems() == [
        f"{content.where('exercises.yaml', 'hold_seconds: null, per_side: 1')}: exercise 'bird_dog': dosage per_side must be true or false",
        f"{content.where('exercises.yaml', 'hold_seconds: null, per_side: 1')}: exercise 'bird_dog': dosage needs reps or hold_seconds",
    ]


def test_id_format(content: ContentCopy) -> None:
    content.replace("references.yaml", "  - id: kang2016", "  - id: Kang-2016")
    problems = content.problems()
    assert f"{content.where('references.yaml', 'Kang-2016')}: reference 'Kang-2016': id must be lower_snake_case" in problems
    # The old id no longer exists, so the items citing it are reported too.
    assert f"{content.where('cues.yaml', 'sources: [kang2016]')}: cue 'hips_drive': unknown reference 'kang2016'" in problems


def test_duplicate_id_within_a_kind(content: ContentCopy) -> None:
    content.replace("cues.yaml", "  - id: push_knees_out", "  - id: knees_track_toes")
    first, second = [n for n, line in enumerate(content.text("cues.yaml").splitlines(), 1) if "id: knees_track_toes" in line]
    problems = content.problems()
    assert (f"{content.path('cues.yaml')}:{second}: duplicate cue id 'knees_track_toes' "
            f"(first defined at line {first})") in problems
    # The second entry is skipped, so push_knees_out is gone and the items using it say so.
    assert f"{content.where('faults.yaml', 'cues: [push_knees_out, knees_track_toes]')}: fault 'knee_valgus': unknown cue 'push_knees_out'" in problems


def test_same_id_in_two_kinds_is_allowed(content: ContentCopy) -> None:
    # An assessment and an exercise may share a name-like id only if aliases do not collide.
    content.replace("assessments.yaml", "  - id: glute_squeeze_test", "  - id: clamshell")
    assert content.problems() == []


def test_duplicate_alias_naming_two_items(content: ContentCopy) -> None:
    # "Bridges" on a cue collides with the exercise alias "bridge" once plurals are normalised.
    content.replace("cues.yaml", 'aliases: ["hips drive", "drive with my hips"]', 'aliases: ["hips drive", "bridges"]')
    cue_line = content.where("cues.yaml", '"bridges"').rsplit(":", 1)[1]
    exercise_alias = content.where("exercises.yaml", '"bridge", "bridges"')
    assert content.problems() == [
        f"{exercise_alias}: exercise 'glute_bridge': alias '{alias}' also "
        f"names cue 'hips_drive' ({content.path('cues.yaml')}:{cue_line})" for alias in ("bridge", "bridges")]


def test_alias_repeated_on_the_same_item_is_fine(content: ContentCopy) -> None:
    content.replace("exercises.yaml", 'aliases: ["clams", "clam shell", "clam"]', 'aliases: ["clams", "clam shell", "clam", "clam-shell"]')
    assert content.problems() == []


def test_aliases_must_be_lower_case(content: ContentCopy) -> None:
    content.replace("cues.yaml", '"drive with my hips"', '"Drive With My Hips"')
    assert content.problems() == [f"{content.where('cues.yaml', 'Drive With My Hips')}: "
                                  "cue 'hips_drive': alias 'Drive With My Hips' must be lower case"]


# ----------------------------------------------------------------------------- references between items

@pytest.mark.parametrize("file_name, old, new, message", [
    ("faults.yaml", "    cues: [push_knees_out, knees_track_toes]", "    cues: [push_knees_out, knees_trak_toes]",
     "fault 'knee_valgus': unknown cue 'knees_trak_toes'"),
    ("faults.yaml", "      - id: lateral_band_walk", "      - id: band_walks",
     "fault 'knee_valgus': unknown exercise 'band_walks'"),
    ("faults.yaml", "    sources: [distefano2009]\n", "    sources: [distefano2010]\n",
     "fault 'knee_valgus': unknown reference 'distefano2010'"),
    ("cues.yaml", "    exercises: [lateral_band_walk, clamshell]", "    exercises: [lateral_band_walk, clamshel]",
     "cue 'push_knees_out': unknown exercise 'clamshel'"),
    ("cues.yaml", "    faults: [knee_valgus, hip_drop]", "    faults: [knee_valgus, hip_dip]",
     "cue 'knees_track_toes': unknown fault 'hip_dip'"),
    ("exercises.yaml", "    cues: [push_knees_out]", "    cues: [push_knee_out]",
     "exercise 'clamshell': unknown cue 'push_knee_out'"),
    ("exercises.yaml", "    mistakes: [knee_valgus]\n    easier: []", "    mistakes: [valgus]\n    easier: []",
     "exercise 'clamshell': unknown fault 'valgus'"),
    ("exercises.yaml", "    harder: [single_leg_glute_bridge, hip_thrust]", "    harder: [single_leg_glute_bridge, hip_thrusts]",
     "exercise 'glute_bridge': unknown exercise 'hip_thrusts'"),
    ("exercises.yaml", "        emg_mvic: 81\n        source: distefano2009", "        emg_mvic: 81\n        source: distefano_2009",
     "exercise 'side_lying_hip_abduction': unknown reference 'distefano_2009'"),
    ("assessments.yaml", "        faults: [lumbar_dominance]", "        faults: [lumbar]",
     "assessment 'glute_squeeze_test': unknown fault 'lumbar'"),
    ("progression.yaml", "  sources: [silbernagel2007]", "  sources: [silbernagel]",
     "progression: unknown reference 'silbernagel'"),
])
def test_every_referenced_id_exists(content: ContentCopy, file_name: str, old: str, new: str, message: str) -> None:
    content.replace(file_name, old, new)
    bad_id = message.rsplit("'", 2)[1]
    needle = next(line for line in new.splitlines() if bad_id in line)
    assert content.problems() == [f"{content.where(file_name, needle)}: {message}"]


def test_easier_harder_cycle_is_one_error_naming_the_chain(content: ContentCopy) -> None:
    # lateral_band_walk lists clamshell as easier; listing it as harder too closes a loop.
    content.replace("exercises.yaml", "    cues: [push_knees_out, knees_track_toes]\n    mistakes: [knee_valgus]\n    easier: [clamshell]\n    harder: []",
                    "    cues: [push_knees_out, knees_track_toes]\n    mistakes: [knee_valgus]\n    easier: [clamshell]\n    harder: [clamshell]")
    harder_line = int(content.where("exercises.yaml", "harder: [clamshell]").rsplit(":", 1)[1])
    # Reported where the cycle's first exercise (clamshell) is linked in: "easier: [clamshell]" just above.
    assert content.problems() == [
        f"{content.path('exercises.yaml')}:{harder_line - 1}: easier/harder cycle: clamshell -> "
        "lateral_band_walk -> clamshell (each is listed as harder than the one before)"]


def test_longer_cycle_and_self_reference(content: ContentCopy) -> None:
    # glute_bridge -> single_leg_glute_bridge (harder); make the single-leg one easier than bird_dog's
    # harder step back to glute_bridge: glute_bridge -> single_leg_glute_bridge -> bird_dog -> glute_bridge.
    content.replace("exercises.yaml", "    mistakes: [lumbar_dominance, hip_drop]\n    easier: [glute_bridge]\n    harder: []",
                    "    mistakes: [lumbar_dominance, hip_drop]\n    easier: [glute_bridge]\n    harder: [bird_dog]")
    content.replace("exercises.yaml", "    cues: [ribs_over_pelvis]\n    mistakes: [lumbar_dominance]\n    easier: []\n    harder: []",
                    "    cues: [ribs_over_pelvis]\n    mistakes: [lumbar_dominance]\n    easier: []\n    harder: [glute_bridge]")
    content.replace("exercises.yaml", "    cues: [pelvis_level]\n    mistakes: [hip_drop, lumbar_dominance]\n    easier: []",
                    "    cues: [pelvis_level]\n    mistakes: [hip_drop, lumbar_dominance]\n    easier: [single_leg_romanian_deadlift]")
    problems = content.problems()
    assert problems == [
        f"{content.where('exercises.yaml', 'harder: [glute_bridge]')}: easier/harder cycle: bird_dog -> glute_bridge "
        "-> single_leg_glute_bridge -> bird_dog (each is listed as harder than the one before)",
        f"{content.where('exercises.yaml', 'easier: [single_leg_romanian_deadlift]')}: easier/harder cycle: "
        "single_leg_romanian_deadlift -> single_leg_romanian_deadlift (each is listed as harder than the one before)",
    ]


# ----------------------------------------------------------------------------- minimum contents

def test_fault_needs_two_cues_and_two_exercises(content: ContentCopy) -> None:
    content.replace("faults.yaml", "    cues: [push_knees_out, knees_track_toes]", "    cues: [push_knees_out]")
    content.replace("faults.yaml", '      - id: clamshell\n        why: "Clamshells train the outward turn of the thigh."\n', "")
    # A list's line is where its first entry starts.
    assert content.problems() == [
        f"{content.where('faults.yaml', 'cues: [push_knees_out]')}: fault 'knee_valgus': needs at least 2 cues (has 1)",
        f"{content.where('faults.yaml', '- id: lateral_band_walk')}: fault 'knee_valgus': needs at least 2 exercises (has 1)",
    ]


def test_exercise_needs_a_step_and_a_cue(content: ContentCopy) -> None:
    content.replace("exercises.yaml", '    steps: ["Put a band around your knees.", "Step sideways keeping tension on the band."]',
                    "    steps: []")
    content.replace("exercises.yaml", "    cues: [push_knees_out, knees_track_toes]", "    cues: []")
    assert content.problems() == [
        f"{content.where('exercises.yaml', 'steps: []')}: exercise 'lateral_band_walk': needs at least 1 step (has 0)",
        f"{content.where('exercises.yaml', 'cues: []')}: exercise 'lateral_band_walk': needs at least 1 cue (has 0)",
    ]


def test_fault_and_red_flag_phrasing_minimums(content: ContentCopy) -> None:
    content.replace("faults.yaml", '      - "my knees wobble inward"\n', "")
    content.replace("red_flags.yaml", '      - "shivering with a sore back"\n', "")
    assert content.problems() == [
        f"{content.where('faults.yaml', 'my knees cave in when i squat')}: fault 'knee_valgus': needs at least 15 phrasings (has 14)",
        f"{content.where('red_flags.yaml', 'my back hurts and i have a fever')}: red flag 'infection': needs at least 10 phrasings (has 9)",
    ]


# ----------------------------------------------------------------------------- figures and sources

def test_emg_figure_without_source(content: ContentCopy) -> None:
    content.replace("exercises.yaml", "        emg_mvic: 81\n        source: distefano2009\n", "        emg_mvic: 81\n")
    assert content.problems() == [f"{content.where('exercises.yaml', 'emg_mvic: 81')}: "
                                  "exercise 'side_lying_hip_abduction': emg_mvic 81 for gluteus_medius has no source"]


def test_reference_without_doi_or_url(content: ContentCopy) -> None:
    content.replace("references.yaml", '    doi: "10.1016/j.math.2015.12.010"', "    doi: null")
    assert content.problems() == [f"{content.where('references.yaml', 'id: kang2016')}: "
                                  "reference 'kang2016': needs a doi or a url"]


def test_item_without_sources(content: ContentCopy) -> None:
    content.replace("assessments.yaml", "    sources: [reiman2012]", "    sources: []")
    assert content.problems() == [f"{content.where('assessments.yaml', 'sources: []')}: "
                                  "assessment 'glute_squeeze_test': needs at least 1 source (has 0)"]


# ----------------------------------------------------------------------------- red-flag screens

def test_screen_term_must_compile(content: ContentCopy) -> None:
    content.replace("safety_screen.yaml", "  - feverish\n", "  - 're:(fever'\n")
    try:
        re.compile("(fever")
    except re.error as exc:
        error = str(exc)
    problems = content.problems()
    assert len(problems) == 1 and problems[0].startswith(f"{content.path('safety_screen.yaml')}:"), problems
    assert problems[0].endswith(f"safety_screen: concept 'fever': term is not a valid pattern ({error})")


def test_screen_rules_name_known_concepts_and_flags(content: ContentCopy) -> None:
    content.replace("safety_screen.yaml", "- fever\n      - back", "- fevers\n      - back")
    content.replace("safety_screen.yaml", "  infection:\n    clear:", "  infektion:\n    clear:")
    problems = content.problems()
    assert any("red flag 'infektion': unknown concept 'fevers'" in p for p in problems), problems
    assert any("unknown red flag 'infektion'" in p for p in problems), problems
    assert any("red flag 'infection' has no screen rules" in p for p in problems), problems


def test_screen_must_not_fire_on_training_soreness(content: ContentCopy) -> None:
    content.replace("safety_screen.yaml", "  - feverish\n", "  - feverish\n  - sore\n")
    problems = content.problems()
    assert len(problems) == 1 and "on ordinary training talk \"my glutes are sore after training\"" in problems[0], problems


# ----------------------------------------------------------------------------- required ids, commands

def test_required_ids_are_checked_only_when_asked(content: ContentCopy) -> None:
    assert content.problems() == []  # a directory other than knowledge/content needs nothing
    problems = content.problems(required_ids={"cue": ["hips_drive", "exhale_on_effort"], "red_flag": ["cancer"]})
    assert problems == [f"{content.path('cues.yaml')}:1: required cue 'exhale_on_effort' is missing",
                        f"{content.path('red_flags.yaml')}:1: required red flag 'cancer' is missing"]


def test_required_ids_cover_the_issue() -> None:
    assert len(REQUIRED_IDS["fault"]) == 10 and len(REQUIRED_IDS["cue"]) == 13
    assert len(REQUIRED_IDS["exercise"]) == 26 and len(REQUIRED_IDS["assessment"]) == 4
    assert {"cauda_equina", "progressive_neuro_deficit", "infection", "cancer", "fracture"} <= set(REQUIRED_IDS["red_flag"])


def test_cmd_validate_exit_codes(content: ContentCopy) -> None:
    code, text = cmd_validate(content.dir)
    assert code == 0 and text.endswith("OK (6 references, 3 faults, 5 cues, 8 exercises, 2 red flags, 2 assessments, 2 activities)")
    content.replace("cues.yaml", '"drive with my hips"', '"Drive with my hips"')
    code, text = cmd_validate(content.dir)
    assert code == 1
    assert text.splitlines() == [f"{content.where('cues.yaml', 'Drive with my hips')}: cue 'hips_drive': alias "
                                 "'Drive with my hips' must be lower case", f"{content.dir}: 1 problem(s)"]
    assert "Traceback" not in text


def test_cmd_validate_on_a_missing_directory(tmp_path: Path) -> None:
    code, text = cmd_validate(tmp_path / "nowhere")
    assert (code, text.splitlines()[0]) == (1, f"{tmp_path / 'nowhere'}:1: content directory does not exist")


@pytest.mark.parametrize("raw, normal", [
    ("Hip Thrusts", "hip thrust"), ("bird-dog", "bird dog"), ("glutes'", "glute"), ("single_leg  RDLs", "single leg rdl"),
    ("press", "press"), ("bodies", "body"),
])
def test_normalise(raw: str, normal: str) -> None:
    assert normalise(raw) == normal


# ----------------------------------------------------------------------------- activities

@pytest.mark.parametrize("old, new, needle, message", [
    ("    cues: [knees_track_toes, hips_drive]", "    cues: [knees_track_toes, hips_drives]", "hips_drives",
     "activity 'lift_squat': unknown cue 'hips_drives'"),
    ("    faults: [knee_valgus, lumbar_dominance]", "    faults: [knee_valgus, lumbar_dominanse]", "lumbar_dominanse",
     "activity 'lift_squat': unknown fault 'lumbar_dominanse'"),
    ("    primer: [glute_bridge, clamshell, lateral_band_walk]", "    primer: [glute_bridge, clamshells, lateral_band_walk]",
     "clamshells", "activity 'lift_squat': unknown exercise 'clamshells'"),
    ("    primer: [side_lying_hip_abduction, glute_bridge]", "    primer: [side_lying_hip_abduction]",
     "primer: [side_lying_hip_abduction]", "activity 'activity_running': needs at least 2 primer drills (has 1)"),
    ("    cues: [pelvis_level, knees_track_toes]", "    cues: [pelvis_level]", "cues: [pelvis_level]",
     "activity 'activity_running': needs at least 2 cues (has 1)"),
    ("    cues: [pelvis_level, knees_track_toes]", "    cues: [pelvis_level, knees_track_toes, hips_drive, ribs_over_pelvis]",
     "cues: [pelvis_level, knees_track_toes, hips_drive", "activity 'activity_running': at most 3 cues to carry into the lift (has 4)"),
    ("    evidence: coaching_practice", "    evidence: anecdote", "evidence: anecdote",
     "activity 'activity_running': evidence 'anecdote' is not one of published, coaching_practice"),
    ("  - id: activity_running", "  - id: running", "id: running",
     "activity 'running': id must start with lift_ or activity_"),
])
def test_activity_links_and_fields_are_checked(content: ContentCopy, old: str, new: str, needle: str,
                                               message: str) -> None:
    content.replace("activities.yaml", old, new)
    assert content.problems() == [f"{content.where('activities.yaml', needle)}: {message}"]


def test_a_published_activity_needs_a_source(content: ContentCopy) -> None:
    content.replace("activities.yaml", "    sources: [distefano2009]", "    sources: []")
    line = _line(content, "sources: []", 1)  # lift_squat's; activity_running's empty list is allowed
    assert content.problems() == [
        f"{content.path('activities.yaml')}:{line}: activity 'lift_squat': needs at least 1 source (has 0)"]


def test_an_alias_names_one_activity_only(content: ContentCopy) -> None:
    content.replace("activities.yaml", '["run", "running", "jog"]', '["run", "squats", "jog"]')
    squat_line = _line(content, '"squat", "squats"', 1)
    running_line = _line(content, '"run", "squats"', 1)
    assert content.problems() == [
        f"{content.path('activities.yaml')}:{running_line}: activity 'activity_running': alias 'squats' "
        f"also names activity 'lift_squat' ({content.path('activities.yaml')}:{squat_line})"]


def test_activity_names_may_repeat_an_exercise_name(content: ContentCopy) -> None:
    """"hip thrust" is an exercise and a lift: the intent of the message tells them apart."""
    content.replace("activities.yaml", '["squat", "squats", "leg day"]', '["squat", "hip thrust", "leg day"]')
    assert content.problems() == []


def _line(content: ContentCopy, needle: str, occurrence: int) -> int:
    hits = [n for n, line in enumerate(content.text("activities.yaml").splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_every_exercise_needs_the_positions_its_picture_is_drawn_from(content: ContentCopy) -> None:
    start = ("      start: {arms: [[190, 190], [190, 190]], floor_at: [near_toe], head: 120, legs: [[55, -90], "
             "[55, -90]], props: [{kind: bench, under: shoulders}], trunk: 143}\n")
    content.replace("exercises.yaml", start, "")
    assert any("exercise 'hip_thrust': 'positions' must have exactly 'start' and 'end'" in p for p in content.problems())


@pytest.mark.parametrize("old, new, message", [
    ("legs: [[55, -90], [55, -90]], props", "legs: [[55, -90]], props", "positions.start.legs must be [[upper, lower]"),
    ("head: 120,", "head: up,", "positions.start.head must be an angle in degrees"),
    ("floor_at: [near_toe], head: 120", "floor_at: [big_toe], head: 120", "positions.start.floor_at: unknown joint 'big_toe'"),
    ("props: [{kind: bench, under: shoulders}], trunk: 143", "props: [{kind: sofa, under: shoulders}], trunk: 143",
     "positions.start.props: each prop needs a kind"),
])
def test_positions_are_checked(content: ContentCopy, old: str, new: str, message: str) -> None:
    content.replace("exercises.yaml", old, new)
    problems = content.problems()
    assert any(f"exercise 'hip_thrust': {message}" in p for p in problems), problems
