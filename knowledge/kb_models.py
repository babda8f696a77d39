"""Tables of the knowledge base (the content YAML, as loaded by :mod:`knowledge.loader`).

One schema for SQLite and PostgreSQL: plain types plus ``JSON`` for nested lists (steps,
dosage, self-check) that are only ever read whole. Ordered relations are link tables with a
``position`` column so "first cue to try" survives the round trip.
"""
from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Text

from knowledge.db import Base

ID = String(80)


class KbReference(Base):
    __tablename__ = "kb_references"
    id = Column(ID, primary_key=True)
    authors = Column(Text, nullable=False)
    year = Column(Integer, nullable=False)
    title = Column(Text, nullable=False)
    published_in = Column(Text, nullable=True)
    doi = Column(String(200), nullable=True)
    url = Column(Text, nullable=True)


class KbFault(Base):
    __tablename__ = "kb_faults"
    id = Column(ID, primary_key=True)
    position = Column(Integer, nullable=False)  # order in the file
    title = Column(Text, nullable=False)
    aliases = Column(JSON, nullable=False)
    phrasings = Column(JSON, nullable=False)
    summary = Column(Text, nullable=False)
    mechanism = Column(Text, nullable=False)
    self_check = Column(JSON, nullable=False)  # {"steps": [...], "positive_if": "..."}
    see_a_professional = Column(Text, nullable=False)


class KbCue(Base):
    __tablename__ = "kb_cues"
    id = Column(ID, primary_key=True)
    position = Column(Integer, nullable=False)
    title = Column(Text, nullable=False)
    say = Column(Text, nullable=False)
    aliases = Column(JSON, nullable=False)
    why = Column(Text, nullable=False)
    feels_like = Column(Text, nullable=False)


class KbExercise(Base):
    __tablename__ = "kb_exercises"
    id = Column(ID, primary_key=True)
    position = Column(Integer, nullable=False)
    title = Column(Text, nullable=False)
    aliases = Column(JSON, nullable=False)
    targets = Column(JSON, nullable=False)  # [{"muscle", "emg_mvic", "source"}]
    phase = Column(String(20), nullable=False)
    level = Column(Integer, nullable=False)
    equipment = Column(JSON, nullable=False)
    dosage = Column(JSON, nullable=False)
    steps = Column(JSON, nullable=False)
    cautions = Column(JSON, nullable=False)
    positions = Column(JSON, nullable=False, default=dict)  # {"start": pose, "end": pose}: the picture


class KbRedFlag(Base):
    __tablename__ = "kb_red_flags"
    id = Column(ID, primary_key=True)
    position = Column(Integer, nullable=False)
    title = Column(Text, nullable=False)
    aliases = Column(JSON, nullable=False)
    urgency = Column(String(20), nullable=False)
    phrasings = Column(JSON, nullable=False)
    advice = Column(Text, nullable=False)


class KbAssessment(Base):
    __tablename__ = "kb_assessments"
    id = Column(ID, primary_key=True)
    position = Column(Integer, nullable=False)
    title = Column(Text, nullable=False)
    aliases = Column(JSON, nullable=False)
    steps = Column(JSON, nullable=False)
    scoring = Column(Text, nullable=False)
    results = Column(JSON, nullable=False)  # [{"result", "label", "says", "meaning", "faults", "starting_phase"}]
    picture = Column(ID, nullable=True)  # the exercise whose drawn positions show the set-up


class KbActivity(Base):
    """A lift or activity people train (squat, running…), for the primer before it."""

    __tablename__ = "kb_activities"
    id = Column(ID, primary_key=True)
    position = Column(Integer, nullable=False)
    title = Column(Text, nullable=False)
    kind = Column(String(20), nullable=False)  # lift | activity
    aliases = Column(JSON, nullable=False)  # own namespace: not in kb_aliases ("hip thrust" is an exercise too)
    summary = Column(Text, nullable=False)
    evidence = Column(String(20), nullable=False)  # published | coaching_practice


class KbFaultCue(Base):
    __tablename__ = "kb_fault_cues"
    fault_id = Column(ID, ForeignKey("kb_faults.id"), primary_key=True)
    cue_id = Column(ID, ForeignKey("kb_cues.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbFaultExercise(Base):
    __tablename__ = "kb_fault_exercises"
    fault_id = Column(ID, ForeignKey("kb_faults.id"), primary_key=True)
    exercise_id = Column(ID, ForeignKey("kb_exercises.id"), primary_key=True)
    position = Column(Integer, nullable=False)
    why = Column(Text, nullable=False)


class KbExerciseCue(Base):
    __tablename__ = "kb_exercise_cues"
    exercise_id = Column(ID, ForeignKey("kb_exercises.id"), primary_key=True)
    cue_id = Column(ID, ForeignKey("kb_cues.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbExerciseMistake(Base):
    """An exercise's typical mistakes, each a fault."""

    __tablename__ = "kb_exercise_mistakes"
    exercise_id = Column(ID, ForeignKey("kb_exercises.id"), primary_key=True)
    fault_id = Column(ID, ForeignKey("kb_faults.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbExerciseStep(Base):
    """Easier/harder variations as declared on ``exercise_id`` (direction: easier | harder)."""

    __tablename__ = "kb_exercise_progressions"
    exercise_id = Column(ID, ForeignKey("kb_exercises.id"), primary_key=True)
    direction = Column(String(10), primary_key=True)
    other_id = Column(ID, ForeignKey("kb_exercises.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbCueExercise(Base):
    __tablename__ = "kb_cue_exercises"
    cue_id = Column(ID, ForeignKey("kb_cues.id"), primary_key=True)
    exercise_id = Column(ID, ForeignKey("kb_exercises.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbCueFault(Base):
    __tablename__ = "kb_cue_faults"
    cue_id = Column(ID, ForeignKey("kb_cues.id"), primary_key=True)
    fault_id = Column(ID, ForeignKey("kb_faults.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbActivityCue(Base):
    """The cues to carry into a lift, most important first."""

    __tablename__ = "kb_activity_cues"
    activity_id = Column(ID, ForeignKey("kb_activities.id"), primary_key=True)
    cue_id = Column(ID, ForeignKey("kb_cues.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbActivityFault(Base):
    """Compensations that usually show up in a lift."""

    __tablename__ = "kb_activity_faults"
    activity_id = Column(ID, ForeignKey("kb_activities.id"), primary_key=True)
    fault_id = Column(ID, ForeignKey("kb_faults.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbActivityPrimer(Base):
    """Activation drills that suit a lift as its primer, best first."""

    __tablename__ = "kb_activity_primers"
    activity_id = Column(ID, ForeignKey("kb_activities.id"), primary_key=True)
    exercise_id = Column(ID, ForeignKey("kb_exercises.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbItemReference(Base):
    """``sources`` of any item; ``kind`` is fault | cue | exercise | red_flag | assessment | activity."""

    __tablename__ = "kb_item_references"
    kind = Column(String(20), primary_key=True)
    item_id = Column(ID, primary_key=True)
    reference_id = Column(ID, ForeignKey("kb_references.id"), primary_key=True)
    position = Column(Integer, nullable=False)


class KbAlias(Base):
    """A normalised alias (see :func:`knowledge.english.normalise`) and the one item it names."""

    __tablename__ = "kb_aliases"
    alias = Column(String(200), primary_key=True)
    kind = Column(String(20), nullable=False)
    item_id = Column(ID, nullable=False)


class KbDocument(Base):
    """A content file stored whole without interpretation (``progression``)."""

    __tablename__ = "kb_documents"
    name = Column(String(80), primary_key=True)
    data = Column(JSON, nullable=False)


class KbMeta(Base):
    __tablename__ = "kb_meta"
    key = Column(String(80), primary_key=True)
    value = Column(Text, nullable=False)


KB_TABLES = [model.__table__ for model in (
    KbReference, KbFault, KbCue, KbExercise, KbRedFlag, KbAssessment, KbActivity,
    KbFaultCue, KbFaultExercise, KbExerciseCue, KbExerciseMistake, KbExerciseStep,
    KbCueExercise, KbCueFault, KbActivityCue, KbActivityFault, KbActivityPrimer,
    KbItemReference, KbAlias, KbDocument, KbMeta,
)]
