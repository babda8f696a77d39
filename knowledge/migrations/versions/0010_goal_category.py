"""trainees.goal_category: the goal as a category beside the person's own words

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 00:45:00

Runs on SQLite and PostgreSQL; never import model code (it changes after this file is written).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("trainees") as batch:
        batch.add_column(sa.Column("goal_category", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trainees") as batch:
        batch.drop_column("goal_category")
