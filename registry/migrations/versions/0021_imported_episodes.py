"""imported episodes: episodes moved in from the legacy register, and the import runs' record

Revision ID: 0021_imported_episodes
Revises: 0020_console_sign_in
Create Date: 2026-12-08 01:09:49

"""

import sqlalchemy as sa
from alembic import op

revision = "0021_imported_episodes"
down_revision = "0020_console_sign_in"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("persons_created", sa.Integer(), nullable=False),
        sa.Column("persons_found", sa.Integer(), nullable=False),
        sa.Column("episodes_created", sa.Integer(), nullable=False),
        sa.Column("episodes_skipped", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
        sa.UniqueConstraint("sha256", name=op.f("uq_import_runs_sha256")),
    )
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("imported", sa.Boolean(), nullable=True))
    # Every episode so far was opened in the registry itself.
    op.execute("UPDATE episodes SET imported = false")
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.alter_column("imported", existing_type=sa.Boolean(), nullable=False)


def downgrade():
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_column("imported")
    op.drop_table("import_runs")
