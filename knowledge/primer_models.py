"""What the coach records about a primer before a workout: which lift, which drills and cues it
gave, and what the person said afterwards (did the drills, felt the glutes or not, a fault they
noticed in the lift). Never the message text. Covered by /export and /delete like every table
with a ``user_id``."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, Integer, String

from knowledge.db import Base
from knowledge.trainee_models import UTCDateTime

FELT = ("glutes", "elsewhere")


class PrimerRecord(Base):
    __tablename__ = "primer_records"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), nullable=False, index=True)
    local_date = Column(Date, nullable=False)  # the person's calendar day (the day's record)
    created_at = Column(UTCDateTime, nullable=False)
    activity_id = Column(String(80), nullable=False)
    exercises = Column(JSON, nullable=False)  # exercise ids of the drills, in order
    cues = Column(JSON, nullable=False)  # cue ids to carry into the lift
    minutes = Column(Integer, nullable=False)  # the time the primer was built for
    drills_done = Column(Boolean, nullable=True)  # None until the person says
    felt = Column(String(16), nullable=True)  # one of FELT, None until (or unless) the person says
    fault_id = Column(String(80), nullable=True)  # a fault reported about the lift afterwards
    followed_up_at = Column(UTCDateTime, nullable=True)
