"""services in several languages: a description and per-language name, address and description

Revision ID: 0019_service_translations
Revises: 0018_secondary_diagnoses
Create Date: 2026-12-07 23:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0019_service_translations"
down_revision = "0018_secondary_diagnoses"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("translations", sa.JSON(), nullable=True))
    # Existing services have no translations yet: their pages show the one name and address.
    op.execute("UPDATE services SET translations = '{}'")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.alter_column("translations", existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("translations")
        batch_op.drop_column("description")
