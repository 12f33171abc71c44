"""booking client cap index on (client_key, status)

Revision ID: 0011_booking_client_index
Revises: 0010_episode_state
Create Date: 2026-11-26 07:55:00

"""

from alembic import op

revision = "0011_booking_client_index"
down_revision = "0010_episode_state"
branch_labels = None
depends_on = None


def upgrade():
    # The per-client cap's count read every active booking through the status index; the
    # pair index finds one client's active bookings directly.
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_client_key")
        batch_op.create_index("ix_bookings_client_key_status", ["client_key", "status"])


def downgrade():
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_client_key_status")
        batch_op.create_index("ix_bookings_client_key", ["client_key"])
