"""inbox: incoming updates written down before they are confirmed, and the key of the message
that last moved a planned session on (so a message handled twice advances it once)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:40:00

Runs on SQLite and PostgreSQL: change existing tables inside ``op.batch_alter_table`` (SQLite
copies the table), and never import model code (it changes after this file is written).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "inbox_updates",
        sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.Column("taken_by", sa.String(length=64), nullable=True),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("bot_id", "update_id"),
    )
    op.create_index(op.f("ix_inbox_updates_user_id"), "inbox_updates", ["user_id"], unique=False)
    op.create_index(op.f("ix_inbox_updates_handled_at"), "inbox_updates", ["handled_at"], unique=False)
    with op.batch_alter_table("planned_sessions") as batch_op:
        batch_op.add_column(sa.Column("turn_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("planned_sessions") as batch_op:
        batch_op.drop_column("turn_key")
    op.drop_index(op.f("ix_inbox_updates_handled_at"), table_name="inbox_updates")
    op.drop_index(op.f("ix_inbox_updates_user_id"), table_name="inbox_updates")
    op.drop_table("inbox_updates")
