"""who requested and who confirmed the retirement of a protocol version

Revision ID: 0015_protocol_governance
Revises: 0014_coded_reasons
Create Date: 2026-12-07 22:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0015_protocol_governance"
down_revision = "0014_coded_reasons"
branch_labels = None
depends_on = None


def upgrade():
    # Versions retired before this revision keep null: one person retired them, as was allowed.
    with op.batch_alter_table("protocol_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retire_requested_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("retire_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("retired_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_protocol_versions_retire_requested_by_id_users"),
            "users",
            ["retire_requested_by_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_protocol_versions_retired_by_id_users"),
            "users",
            ["retired_by_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("protocol_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_protocol_versions_retired_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_protocol_versions_retire_requested_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("retired_by_id")
        batch_op.drop_column("retire_requested_at")
        batch_op.drop_column("retire_requested_by_id")
