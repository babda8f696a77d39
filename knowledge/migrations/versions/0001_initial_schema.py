"""initial schema: knowledge base, trainees, sessions, check-ins, pain log, reminder deliveries

Revision ID: 0001
Revises:
Create Date: 2026-11-21 09:05:15.532255

Generated from the models as they were when migrations were introduced. A database created
before that (tables, no alembic_version) is adopted by knowledge.migrate.upgrade instead.

Runs on SQLite and PostgreSQL: change existing tables inside ``op.batch_alter_table`` (SQLite
copies the table), and never import model code (it changes after this file is written).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('kb_aliases',
    sa.Column('alias', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('item_id', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('alias')
    )
    op.create_table('kb_assessments',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('scoring', sa.Text(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('kb_cues',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('say', sa.Text(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.Column('feels_like', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('kb_documents',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('kb_exercises',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('phase', sa.String(length=20), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('equipment', sa.JSON(), nullable=False),
    sa.Column('dosage', sa.JSON(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('cautions', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('kb_faults',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('phrasings', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('mechanism', sa.Text(), nullable=False),
    sa.Column('self_check', sa.JSON(), nullable=False),
    sa.Column('see_a_professional', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('kb_meta',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('kb_red_flags',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('urgency', sa.String(length=20), nullable=False),
    sa.Column('phrasings', sa.JSON(), nullable=False),
    sa.Column('screen', sa.JSON(), nullable=False),
    sa.Column('advice', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('kb_references',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('authors', sa.Text(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('published_in', sa.Text(), nullable=True),
    sa.Column('doi', sa.String(length=200), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('reminder_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('retry_at', sa.DateTime(), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'local_date', 'kind', name='uq_reminder_delivery_key')
    )
    op.create_table('trainees',
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('consented_at', sa.DateTime(), nullable=True),
    sa.Column('onboarded_at', sa.DateTime(), nullable=True),
    sa.Column('goal', sa.Text(), nullable=True),
    sa.Column('equipment', sa.JSON(), nullable=False),
    sa.Column('experience', sa.String(length=16), nullable=False),
    sa.Column('baseline_pain', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('reminder_time', sa.String(length=5), nullable=True),
    sa.Column('reminders_enabled', sa.Boolean(), nullable=False),
    sa.Column('faults', sa.JSON(), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('phase_since', sa.Date(), nullable=True),
    sa.Column('last_contact_on', sa.Date(), nullable=True),
    sa.Column('start_short_next', sa.Boolean(), nullable=False),
    sa.Column('reduce_volume_next', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('kb_cue_exercises',
    sa.Column('cue_id', sa.String(length=80), nullable=False),
    sa.Column('exercise_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cue_id'], ['kb_cues.id'], ),
    sa.ForeignKeyConstraint(['exercise_id'], ['kb_exercises.id'], ),
    sa.PrimaryKeyConstraint('cue_id', 'exercise_id')
    )
    op.create_table('kb_cue_faults',
    sa.Column('cue_id', sa.String(length=80), nullable=False),
    sa.Column('fault_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cue_id'], ['kb_cues.id'], ),
    sa.ForeignKeyConstraint(['fault_id'], ['kb_faults.id'], ),
    sa.PrimaryKeyConstraint('cue_id', 'fault_id')
    )
    op.create_table('kb_exercise_cues',
    sa.Column('exercise_id', sa.String(length=80), nullable=False),
    sa.Column('cue_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cue_id'], ['kb_cues.id'], ),
    sa.ForeignKeyConstraint(['exercise_id'], ['kb_exercises.id'], ),
    sa.PrimaryKeyConstraint('exercise_id', 'cue_id')
    )
    op.create_table('kb_exercise_mistakes',
    sa.Column('exercise_id', sa.String(length=80), nullable=False),
    sa.Column('fault_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['exercise_id'], ['kb_exercises.id'], ),
    sa.ForeignKeyConstraint(['fault_id'], ['kb_faults.id'], ),
    sa.PrimaryKeyConstraint('exercise_id', 'fault_id')
    )
    op.create_table('kb_exercise_progressions',
    sa.Column('exercise_id', sa.String(length=80), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('other_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['exercise_id'], ['kb_exercises.id'], ),
    sa.ForeignKeyConstraint(['other_id'], ['kb_exercises.id'], ),
    sa.PrimaryKeyConstraint('exercise_id', 'direction', 'other_id')
    )
    op.create_table('kb_fault_cues',
    sa.Column('fault_id', sa.String(length=80), nullable=False),
    sa.Column('cue_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cue_id'], ['kb_cues.id'], ),
    sa.ForeignKeyConstraint(['fault_id'], ['kb_faults.id'], ),
    sa.PrimaryKeyConstraint('fault_id', 'cue_id')
    )
    op.create_table('kb_fault_exercises',
    sa.Column('fault_id', sa.String(length=80), nullable=False),
    sa.Column('exercise_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['exercise_id'], ['kb_exercises.id'], ),
    sa.ForeignKeyConstraint(['fault_id'], ['kb_faults.id'], ),
    sa.PrimaryKeyConstraint('fault_id', 'exercise_id')
    )
    op.create_table('kb_item_references',
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('item_id', sa.String(length=80), nullable=False),
    sa.Column('reference_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['reference_id'], ['kb_references.id'], ),
    sa.PrimaryKeyConstraint('kind', 'item_id', 'reference_id')
    )
    op.create_table('pain_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('zone', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['trainees.user_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('planned_sessions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('short_version', sa.Boolean(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.Column('estimated_minutes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('current_index', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['trainees.user_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'local_date', name='uq_planned_session_day')
    )
    op.create_table('progression_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('slot', sa.String(length=64), nullable=False),
    sa.Column('from_id', sa.String(length=128), nullable=True),
    sa.Column('to_id', sa.String(length=128), nullable=True),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['trainees.user_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('trainee_slot_levels',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('slot', sa.String(length=64), nullable=False),
    sa.Column('exercise_id', sa.String(length=128), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['trainees.user_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'slot', name='uq_slot_level_user_slot')
    )
    op.create_table('checkins',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('pain', sa.Integer(), nullable=False),
    sa.Column('glute_feel', sa.Integer(), nullable=False),
    sa.Column('effort', sa.String(length=16), nullable=False),
    sa.Column('next_morning_pain', sa.Integer(), nullable=True),
    sa.Column('next_morning_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['planned_sessions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['trainees.user_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('session_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('slot', sa.String(length=64), nullable=False),
    sa.Column('exercise_id', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('dosage', sa.JSON(), nullable=False),
    sa.Column('cue_id', sa.String(length=128), nullable=True),
    sa.Column('cue_text', sa.Text(), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('result_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['planned_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'position', name='uq_session_item_position')
    )


def downgrade() -> None:
    op.drop_table('session_items')
    op.drop_table('checkins')
    op.drop_table('trainee_slot_levels')
    op.drop_table('progression_changes')
    op.drop_table('planned_sessions')
    op.drop_table('pain_log')
    op.drop_table('kb_item_references')
    op.drop_table('kb_fault_exercises')
    op.drop_table('kb_fault_cues')
    op.drop_table('kb_exercise_progressions')
    op.drop_table('kb_exercise_mistakes')
    op.drop_table('kb_exercise_cues')
    op.drop_table('kb_cue_faults')
    op.drop_table('kb_cue_exercises')
    op.drop_table('trainees')
    op.drop_table('reminder_deliveries')
    op.drop_table('kb_references')
    op.drop_table('kb_red_flags')
    op.drop_table('kb_meta')
    op.drop_table('kb_faults')
    op.drop_table('kb_exercises')
    op.drop_table('kb_documents')
    op.drop_table('kb_cues')
    op.drop_table('kb_assessments')
    op.drop_table('kb_aliases')
