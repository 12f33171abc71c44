"""release ledger: what every protected release of a year published and hid

Revision ID: 0024_release_ledger
Revises: 0023_reidentification_denial
Create Date: 2026-12-08 01:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0024_release_ledger"
down_revision = "0023_reidentification_denial"
branch_labels = None
depends_on = None


def upgrade():
    # Releases made before the ledger are not in it: the first audited release of a year is
    # audited against nothing earlier (see registry/stats/README.md).
    op.create_table(
        "stats_release_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["stats_releases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id"),
    )
    op.create_index(
        "ix_stats_release_ledger_year_measure", "stats_release_ledger", ["year", "measure"]
    )


def downgrade():
    op.drop_index("ix_stats_release_ledger_year_measure", table_name="stats_release_ledger")
    op.drop_table("stats_release_ledger")
