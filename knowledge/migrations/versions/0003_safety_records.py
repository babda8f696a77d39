"""safety records: red-flag stops, screening questions and returns after a doctor's check;
the red-flag regexes leave kb_red_flags (the screen is the safety_screen document now)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:20:00

Runs on SQLite and PostgreSQL; never import model code (it changes after this file is written).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "safety_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("flag_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("safety_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_events_user_id"), ["user_id"], unique=False)
    op.create_table(
        "safety_checks",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("flag_id", sa.String(length=64), nullable=True),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("held_text", sa.Text(), nullable=True),
        sa.Column("misses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    # The screen's regexes moved into the safety_screen document (kb_documents).
    with op.batch_alter_table("kb_red_flags", schema=None) as batch_op:
        batch_op.drop_column("screen")


def downgrade() -> None:
    with op.batch_alter_table("kb_red_flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("screen", sa.JSON(), nullable=False, server_default="[]"))
    op.drop_table("safety_checks")
    with op.batch_alter_table("safety_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_events_user_id"))
    op.drop_table("safety_events")
