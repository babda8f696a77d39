"""weekly check-in: the weekly outcome measures, and the PSFS tasks a trainee rates

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 18:10:00

Runs on SQLite and PostgreSQL: change existing tables inside ``op.batch_alter_table`` (SQLite
copies the table), and never import model code (it changes after this file is written).
Existing trainees get no PSFS tasks (NULL: not asked yet); their first weekly check-in asks.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("trainees") as batch_op:
        batch_op.add_column(sa.Column("psfs_tasks", sa.JSON(), nullable=True))
    op.create_table(
        "weekly_checkins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("pain_average", sa.Integer(), nullable=False),
        sa.Column("pain_worst", sa.Integer(), nullable=False),
        sa.Column("psfs", sa.JSON(), nullable=False),
        sa.Column("change", sa.Integer(), nullable=False),
        sa.Column("screen_clear", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["trainees.user_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("weekly_checkins")
    with op.batch_alter_table("trainees") as batch_op:
        batch_op.drop_column("psfs_tasks")
