"""exercise pictures: each exercise's start and end positions in the knowledge base

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 14:50:00

Runs on SQLite and PostgreSQL: change existing tables inside ``op.batch_alter_table`` (SQLite
copies the table), and never import model code (it changes after this file is written).
Existing rows get an empty mapping; the next ``kb load`` (its fingerprint changes with the
content) fills them in.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('kb_exercises') as batch_op:
        batch_op.add_column(sa.Column('positions', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('kb_exercises') as batch_op:
        batch_op.drop_column('positions')
