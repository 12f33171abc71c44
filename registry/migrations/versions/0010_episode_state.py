"""episode engine state snapshot

Revision ID: 0010_episode_state
Revises: 0009_dp_budget
Create Date: 2026-11-26 02:05:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010_episode_state"
down_revision = "0009_dp_budget"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: episodes written before this revision get their snapshot at their next event.
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engine_state", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("engine_state_event_id", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_column("engine_state_event_id")
        batch_op.drop_column("engine_state")
