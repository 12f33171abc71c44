"""a custodian may deny a re-identification request: who denied it and when

Revision ID: 0023_reidentification_denial
Revises: 0022_service_details
Create Date: 2026-12-08 02:15:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0023_reidentification_denial"
down_revision = "0022_service_details"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reidentification_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("denied_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("denied_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_reidentification_requests_denied_by_users", "users", ["denied_by"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("reidentification_requests", schema=None) as batch_op:
        batch_op.drop_constraint("fk_reidentification_requests_denied_by_users", type_="foreignkey")
        batch_op.drop_column("denied_by")
        batch_op.drop_column("denied_at")
