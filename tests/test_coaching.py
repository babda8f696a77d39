"""The coaching service end to end on SQLite with a controlled clock."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.progress_report import progress_command
from knowledge import coaching as c
from knowledge.clock import FixedClock
from knowledge.db import create_all, make_engine, session_factory
from knowledge.trainee_models import ProgressionChange, Trainee
from tests.test_progression import synthetic_content

BERLIN = ZoneInfo("Europe/Berlin")
CONTENT = synthetic_content()
USER = "tg-1001"


@pytest.fixture()
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'coach.db'}")
    create_all(engine)
    return engine


@pytest.fixture()
def clock():
    return FixedClock(datetime(2024, 3, 4, 7, 0, tzinfo=BERLIN))


def onboard(engine, clock, **overrides):
    args = dict(goal="Glutes that work", equipment=["none"], experience="beginner", baseline_pain=2,
                timezone="Europe/Berlin", faults=["lumbar_dominance"], clock=clock, content=CONTENT)
    args.update(overrides)
    return c.save_onboarding(engine, USER, **args)


class Trainee4Weeks:
    """Drives one trainee through March 2024 (Berlin; summer time starts on the 31st)."""

    def __init__(self, engine, clock):
        self.engine, self.clock = engine, clock
        self.sessions: dict[int, list[str]] = {}
        self.contacts: dict[int, c.FirstContact] = {}
        self.short: dict[int, bool] = {}

    def at(self, day, hour, minute=0):
        self.clock.set(datetime(2024, 3, day, hour, minute, tzinfo=BERLIN))

    def morning(self, day, pain=None):
        self.at(day, 7, 30)
        self.contacts[day] = c.first_contact_of_day(self.engine, USER, clock=self.clock, content=CONTENT)
        if pain is not None:
            c.record_pain(self.engine, USER, pain, "morning", clock=self.clock, content=CONTENT)

    def train(self, day, pain, glute, effort="about_right", events=None):
        self.at(day, 18)
        step = c.start_or_resume_session(self.engine, USER, clock=self.clock, content=CONTENT)
        self.short[day] = step.short_version
        done = []
        while step.kind == "exercise":
            done.append(step.exercise_id)
            event = (events or {}).get(step.exercise_id, "done")
            step = c.session_event(self.engine, USER, event, clock=self.clock, content=CONTENT)
        assert step.kind == "checkin"
        self.sessions[day] = done
        return c.check_in(self.engine, USER, pain, glute, effort, clock=self.clock, content=CONTENT)


def test_four_weeks_progress_flare_regress_recover(engine, clock):
    onboard(engine, clock)
    t = Trainee4Weeks(engine, clock)
    # Week 1: three good sessions, two days missed.
    t.train(4, 2, 7)
    for day in (5, 6):
        t.morning(day, 1)
        t.train(day, 2, 7)
    t.morning(9)
    t.train(9, 2, 7)
    # Week 2: good sessions; the 8th good one opens the integration phase.
    for day in range(10, 18):
        t.morning(day, 1)
        t.train(day, 2, 7)
    # Week 3: a flare. Pain 4 on the 18th, worse next morning, pain 6 and "hurts" on the 19th,
    # pain 6 on the morning of the 20th, then three days off.
    t.morning(18, 1)
    t.train(18, 4, 6)
    t.morning(19, 4)
    t.train(19, 6, 6, events={"march_bridge": "hurts"})
    t.morning(20, 6)
    t.train(20, 3, 6)
    t.morning(24)
    t.train(24, 2, 7)
    # Week 4: good sessions again (glute feel 6: enough to progress, not to reach loading).
    for day in range(25, 32):
        t.morning(day, 1)
        t.train(day, 2, 6)

    with session_factory(engine)() as db:
        changes = [
            (ch.local_date.day, ch.slot, ch.from_id, ch.to_id, ch.rule_id)
            for ch in db.execute(select(ProgressionChange).order_by(ProgressionChange.id)).scalars()
        ]
        trainee = db.get(Trainee, USER)
        assert trainee.phase == "integration"
    P3, GATE, MORNING = "progress_three_good_sessions", "gate_activation_to_integration", "regress_next_morning"
    assert changes == [
        # progresses after 3 good sessions (4th, 5th, 6th); the stretch has nowhere to go
        (6, "hip_abduction", "clam", "side_abduction", P3),
        (6, "hip_extension", "bridge", "march_bridge", P3),
        (6, "trunk_control", "dead_bug", "bird_dog", P3),
        # 8 good sessions in activation (4-6, 9-13) open integration; abduction has no usable
        # integration exercise without a band and keeps its place
        (13, "phase", "activation", "integration", GATE),
        (13, "hip_extension", "march_bridge", "sl_bridge", GATE),
        (13, "trunk_control", "bird_dog", "plank", GATE),
        # flare: next-morning pain 4 vs 1 the morning before → every slot of the 18th one step down
        (19, "hip_extension", "sl_bridge", "march_bridge", MORNING),
        (19, "trunk_control", "plank", "bird_dog", MORNING),
        (19, "hip_abduction", "side_abduction", "clam", MORNING),
        # pain 6 during with "hurts" on the march bridge → only that slot
        (19, "hip_extension", "march_bridge", "bridge", "regress_pain_during"),
        # morning 6 vs 4 → down again where possible
        (20, "trunk_control", "bird_dog", "dead_bug", MORNING),
        # three missed days: every slot is already at its easiest, so only the volume drops
        (24, "volume", None, None, "deload_missed_days"),
        # recovery: 20th (pain 3), 24th and 25th are three good sessions with bridge and dead bug
        (25, "hip_extension", "bridge", "march_bridge", P3),
        (25, "trunk_control", "dead_bug", "bird_dog", P3),
        (26, "hip_abduction", "clam", "side_abduction", P3),  # not in the short session of the 24th
        (28, "hip_extension", "march_bridge", "sl_bridge", P3),
        (28, "trunk_control", "bird_dog", "plank", P3),
    ]

    # The missed days and the flare, as the trainee saw them.
    assert (t.contacts[9].missed_days, t.contacts[9].offer_short_version, t.contacts[9].morning_prompt) == (2, False, None)
    assert t.contacts[10].morning_prompt and t.contacts[10].missed_days == 0
    assert (t.contacts[24].missed_days, t.contacts[24].offer_short_version) == (3, True)
    assert t.short[24] and not t.short[25] and len(t.sessions[24]) <= 3
    assert t.sessions[20] == ["clam", "bridge", "dead_bug"]  # pain 6 that morning: easy day
    assert t.sessions[14][0] == "sl_bridge"  # hardest first

    # Adherence on the evening of Sunday 31 March, against a hand count.
    summary = c.progress_summary(engine, USER, clock=clock)
    report = summary.report
    done_days = [4, 5, 6] + list(range(9, 21)) + list(range(24, 32))
    assert len(done_days) == 23
    assert [p.local_date.day for p in summary.series if p.done] == done_days
    assert report.streak == 8
    assert (report.week_done, report.week_planned) == (7, 7)
    assert report.completion_7 == pytest.approx(100.0)
    assert report.completion_28 == pytest.approx(100 * 23 / 28)
    assert report.missed_yesterday is False
    pain = {p.local_date.day: p.pain for p in summary.series}
    assert (pain[18], pain[19], pain[20], pain[21]) == (4, 6, 6, None)  # highest figure of the day
    assert "7 of 7 sessions" in summary.text and "Streak: 8 days" in summary.text


def test_session_flow_pause_resume_and_events(engine, clock):
    onboard(engine, clock)
    first = c.start_or_resume_session(engine, USER, clock=clock, content=CONTENT)
    assert first.kind == "exercise" and first.position == 1 and first.total == 4
    assert first.why and first.cue_text and first.dosage_text
    second = c.session_event(engine, USER, "skip", clock=clock, content=CONTENT)
    assert second.position == 2
    paused = c.pause_session(engine, USER, clock=clock)
    assert paused.paused and "Paused at exercise 2 of 4" in paused.text
    resumed = c.start_or_resume_session(engine, USER, clock=clock, content=CONTENT)
    assert (resumed.position, resumed.exercise_id) == (2, second.exercise_id)
    assert resumed.text.startswith("Picking up where you left off.")
    hurt = c.session_event(engine, USER, "hurts", clock=clock, content=CONTENT)
    assert hurt.position == 3 and "Stop that one" in hurt.text
    c.session_event(engine, USER, "too_hard", clock=clock, content=CONTENT)
    last = c.session_event(engine, USER, "done", clock=clock, content=CONTENT)
    assert last.kind == "checkin"
    with pytest.raises(c.CoachingError):
        c.session_event(engine, USER, "jump", clock=clock, content=CONTENT)
    result = c.check_in(engine, USER, 2, 7, "about_right", clock=clock, content=CONTENT)
    assert result.zone == "safe" and result.text.startswith(CONTENT.rules.zone_for(2).checkin_advice)
    assert "Carry on with today's plan" not in result.text  # today's plan is finished
    assert "0 of 3" not in result.text  # not the hold of an exercise that was skipped
    assert c.start_or_resume_session(engine, USER, clock=clock, content=CONTENT).kind == "finished"


@pytest.mark.parametrize("value,zone", [(0, "safe"), (2, "safe"), (3, "acceptable"), (5, "acceptable"),
                                        (6, "too_much"), (10, "too_much")])
def test_record_pain_answers_by_zone(engine, clock, value, zone):
    onboard(engine, clock)
    answer = c.record_pain(engine, USER, value, "report", clock=clock, content=CONTENT)
    assert answer.zone == zone
    assert answer.text == CONTENT.rules.zone_for(value).advice


@pytest.mark.parametrize("bad", [-1, 11, 3.5, "4", True])
def test_bad_scores_are_refused(engine, clock, bad):
    onboard(engine, clock)
    with pytest.raises(c.CoachingError):
        c.record_pain(engine, USER, bad, clock=clock, content=CONTENT)
    with pytest.raises(c.CoachingError):
        c.check_in(engine, USER, 2, bad, "about_right", clock=clock, content=CONTENT)


def test_first_contact_runs_once_a_day_in_the_trainees_zone(engine, clock):
    onboard(engine, clock)
    assert c.first_contact_of_day(engine, USER, clock=clock, content=CONTENT).first_today
    clock.set(datetime(2024, 3, 4, 22, 30, tzinfo=BERLIN))
    assert not c.first_contact_of_day(engine, USER, clock=clock, content=CONTENT).first_today
    # 23:30 UTC is already 00:30 on the 5th in Berlin
    clock.set(datetime(2024, 3, 4, 23, 30, tzinfo=ZoneInfo("UTC")))
    assert c.first_contact_of_day(engine, USER, clock=clock, content=CONTENT).first_today


@pytest.mark.parametrize("text,tz,stored", [("7:05", None, "07:05"), ("21:30", "America/New_York", "21:30")])
def test_set_reminder(engine, clock, text, tz, stored):
    onboard(engine, clock)
    settings = c.set_reminder(engine, USER, text, tz, clock=clock)
    assert settings.reminder_time == stored and settings.enabled
    assert settings.timezone == (tz or "Europe/Berlin")
    assert not c.pause_reminders(engine, USER, clock=clock).enabled
    assert c.resume_reminders(engine, USER, clock=clock).enabled


@pytest.mark.parametrize("text,tz,message", [
    ("25:00", None, "not a valid time"), ("seven", None, "use HH:MM"), ("07:30", "Mars/Olympus", "unknown time zone"),
])
def test_set_reminder_refuses_bad_input(engine, clock, text, tz, message):
    onboard(engine, clock)
    with pytest.raises(c.CoachingError, match=message):
        c.set_reminder(engine, USER, text, tz, clock=clock)


def test_profile_and_faults(engine, clock):
    profile = c.get_or_create_trainee(engine, "new", clock=clock)
    assert (profile.onboarded, profile.phase, profile.reminders_enabled) == (False, "activation", True)
    profile = onboard(engine, clock)
    assert profile.slot_levels == {"hip_extension": "bridge", "hip_abduction": "clam",
                                   "trunk_control": "dead_bug", "hip_mobility": "hip_flexor_stretch"}
    assert c.record_fault(engine, USER, "hip_drop", clock=clock) == ("lumbar_dominance", "hip_drop")
    assert c.record_fault(engine, USER, "hip_drop", clock=clock) == ("lumbar_dominance", "hip_drop")
    with pytest.raises(c.CoachingError):
        onboard(engine, clock, experience="pro")


def test_progress_command_writes_chart_and_text(engine, clock, tmp_path, capsys):
    assert progress_command("nobody", tmp_path / "x.png", engine=engine, clock=clock)[0] == 1
    onboard(engine, clock)
    t = Trainee4Weeks(engine, clock)
    t.train(4, 3, 6)
    clock.set(datetime(2024, 3, 5, 9, 0, tzinfo=BERLIN))
    code, text = progress_command(USER, tmp_path / "p.png", engine=engine, clock=clock)
    assert code == 0
    assert "This week: 1 of 7 sessions" in text and "Streak: 1 day in a row" in text
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert text in capsys.readouterr().out


def test_first_contact_counts_days_since_the_last_session(engine, clock):
    # Trained on Monday the 4th; back on Friday the 8th: three days missed (5th-7th), and the last
    # session was four days ago (the coach once said "It's been 3 days").
    onboard(engine, clock)
    t = Trainee4Weeks(engine, clock)
    t.train(4, 2, 6)
    t.morning(8)
    contact = t.contacts[8]
    assert contact.missed_days == 3
    assert contact.offer_short_version  # three missed days: the 5-minute version is offered
    assert "It's been 4 days since your last session." in contact.text
    summary = c.progress_summary(engine, USER, clock=clock, content=CONTENT)
    assert summary.report.days_since_last == 4
    assert "Your last session was 4 days ago" in summary.text


def test_encouragement_varies_marks_milestones_and_counts_the_first_two_weeks(engine, clock):
    onboard(engine, clock)  # Monday the 4th is day 1
    t = Trainee4Weeks(engine, clock)
    e = CONTENT.rules.encouragement
    said: dict[int, str] = {}
    pains = {4: 2, 5: 2, 6: 2, 7: 7, 8: 1, 9: 2, 10: 1, 12: 2, 13: 2, 18: 2, 19: 2}
    for day, pain in pains.items():
        t.morning(day)
        said[day] = t.train(day, pain, 6).text
    lines = {day: [line for line in e.after_session if line in text] for day, text in said.items()}
    # Never the same line on two sessions in a row.
    days = sorted(lines)
    for a, b in zip(days, days[1:]):
        assert not (lines[a] and lines[a] == lines[b]), (a, b, lines[a])
    # Streak milestones: the 6th is the 3rd day in a row, the 10th the 7th.
    assert e.streak_milestones[3] in said[6] and e.streak_milestones[7] in said[10]
    # Pain of 7: no cheering and no milestone, only the zone and the plan.
    assert not lines[7] and not any(m in said[7] for m in e.streak_milestones.values())
    # Counting towards 6 sessions in the first 14 days (4th-17th), by hand: the 7th (pain 7) counts
    # as a session but says nothing, so the 8th is the 5th; the 9th reaches the target.
    for n, day in ((1, 4), (2, 5), (3, 6), (5, 8)):
        assert f"That's {n} of the 6 sessions we aim for in your first two weeks." in said[day]
    assert "That's 6 sessions in your first two weeks: the target is reached." in said[9]
    assert "first two weeks" not in said[10] and "first two weeks" not in said[12]  # past the target
    assert "first two weeks" not in said[18]  # day 15 onwards


def test_progress_shows_the_first_two_weeks_target(engine, clock):
    onboard(engine, clock)  # Monday the 4th is day 1 of 14 (4th-17th)
    t = Trainee4Weeks(engine, clock)
    for day in (4, 5, 7):
        t.morning(day)
        t.train(day, 2, 6)
    clock.set(datetime(2024, 3, 8, 9, 0, tzinfo=BERLIN))  # Friday, not trained yet: 8th-17th left
    text = c.progress_summary(engine, USER, clock=clock, content=CONTENT).text
    assert "First two weeks: 3 of 6 sessions, 10 days left to get there." in text
    for day in (8, 9, 10):
        t.morning(day)
        t.train(day, 2, 6)
    assert "the target of 6 is reached" in c.progress_summary(engine, USER, clock=clock, content=CONTENT).text
    clock.set(datetime(2024, 3, 18, 9, 0, tzinfo=BERLIN))  # day 15
    assert "First two weeks" not in c.progress_summary(engine, USER, clock=clock, content=CONTENT).text
