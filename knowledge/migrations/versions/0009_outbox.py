"""outbox: replies Telegram would not take within the send budgets, kept for a later pass

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 21:00:00

Runs on SQLite and PostgreSQL; never import model code (it changes after this file is written).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_outbox_messages_user_id"), "outbox_messages", ["user_id"], unique=False)
    op.create_index(op.f("ix_outbox_messages_next_try_at"), "outbox_messages", ["next_try_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_messages_next_try_at"), table_name="outbox_messages")
    op.drop_index(op.f("ix_outbox_messages_user_id"), table_name="outbox_messages")
    op.drop_table("outbox_messages")
