"""self-tests: the results people report for the knowledge base's self-assessments, and each
assessment's picture (the exercise whose drawn positions show its set-up)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 18:20:00

Runs on SQLite and PostgreSQL: change existing tables inside ``op.batch_alter_table`` (SQLite
copies the table), and never import model code (it changes after this file is written).
Existing assessment rows get no picture; the next ``kb load`` (its fingerprint changes with the
content) fills it in.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("kb_assessments") as batch_op:
        batch_op.add_column(sa.Column("picture", sa.String(length=80), nullable=True))
    op.create_table(
        "self_test_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("assessment_id", sa.String(length=80), nullable=False),
        sa.Column("result", sa.String(length=80), nullable=False),
        sa.Column("faults", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["trainees.user_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("self_test_results")
    with op.batch_alter_table("kb_assessments") as batch_op:
        batch_op.drop_column("picture")
