"""pre-workout primer: lifts and activities in the knowledge base, and the primer records

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 07:07:10

Runs on SQLite and PostgreSQL: change existing tables inside ``op.batch_alter_table`` (SQLite
copies the table), and never import model code (it changes after this file is written).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('kb_activities',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('evidence', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('primer_records',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('activity_id', sa.String(length=80), nullable=False),
    sa.Column('exercises', sa.JSON(), nullable=False),
    sa.Column('cues', sa.JSON(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('drills_done', sa.Boolean(), nullable=True),
    sa.Column('felt', sa.String(length=16), nullable=True),
    sa.Column('fault_id', sa.String(length=80), nullable=True),
    sa.Column('followed_up_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('primer_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_primer_records_user_id'), ['user_id'], unique=False)

    op.create_table('kb_activity_cues',
    sa.Column('activity_id', sa.String(length=80), nullable=False),
    sa.Column('cue_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['kb_activities.id'], ),
    sa.ForeignKeyConstraint(['cue_id'], ['kb_cues.id'], ),
    sa.PrimaryKeyConstraint('activity_id', 'cue_id')
    )
    op.create_table('kb_activity_faults',
    sa.Column('activity_id', sa.String(length=80), nullable=False),
    sa.Column('fault_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['kb_activities.id'], ),
    sa.ForeignKeyConstraint(['fault_id'], ['kb_faults.id'], ),
    sa.PrimaryKeyConstraint('activity_id', 'fault_id')
    )
    op.create_table('kb_activity_primers',
    sa.Column('activity_id', sa.String(length=80), nullable=False),
    sa.Column('exercise_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['kb_activities.id'], ),
    sa.ForeignKeyConstraint(['exercise_id'], ['kb_exercises.id'], ),
    sa.PrimaryKeyConstraint('activity_id', 'exercise_id')
    )


def downgrade() -> None:
    op.drop_table('kb_activity_primers')
    op.drop_table('kb_activity_faults')
    op.drop_table('kb_activity_cues')
    with op.batch_alter_table('primer_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_primer_records_user_id'))

    op.drop_table('primer_records')
    op.drop_table('kb_activities')
