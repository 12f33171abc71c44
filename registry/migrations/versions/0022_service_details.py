"""service details a person chooses by: cost (free or paid) and wheelchair access

Revision ID: 0022_service_details
Revises: 0021_imported_episodes
Create Date: 2026-12-08 01:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0022_service_details"
down_revision = "0021_imported_episodes"
branch_labels = None
depends_on = None


def upgrade():
    # Both stay NULL for existing services: the page says "not stated" until the clinic says.
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("wheelchair", sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("wheelchair")
        batch_op.drop_column("cost")
