"""reminder deliveries: indexes for the scheduler's due-row scan and per-user lookups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 09:10:00

Runs on SQLite and PostgreSQL: change existing tables inside ``op.batch_alter_table`` (SQLite
copies the table), and never import model code (it changes after this file is written).
"""
from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("reminder_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_reminder_deliveries_state_due", ["state", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_deliveries_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminder_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_deliveries_user_id"))
        batch_op.drop_index("ix_reminder_deliveries_state_due")
