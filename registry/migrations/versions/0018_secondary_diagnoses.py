"""secondary diagnoses of an episode: ICD-10 codes of any chapter, checked at admission

Revision ID: 0018_secondary_diagnoses
Revises: 0017_oversight_findings
Create Date: 2026-12-07 23:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0018_secondary_diagnoses"
down_revision = "0017_oversight_findings"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secondary_diagnoses", sa.JSON(), nullable=True))
    # Episodes opened before had no place for them: none recorded.
    op.execute("UPDATE episodes SET secondary_diagnoses = '[]'")
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.alter_column("secondary_diagnoses", existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_column("secondary_diagnoses")
