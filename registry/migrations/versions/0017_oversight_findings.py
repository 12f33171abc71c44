"""findings of the oversight check of linked registrations (no identity: users and counts)

Revision ID: 0017_oversight_findings
Revises: 0016_clinic_local_ids
Create Date: 2026-12-07 21:44:22

"""

import sqlalchemy as sa
from alembic import op

revision = "0017_oversight_findings"
down_revision = "0016_clinic_local_ids"
branch_labels = None
depends_on = None


def upgrade():
    # Nothing to migrate: the check counts from the audit log. Before this revision a linked
    # registration of a new person was audited "ok", as an anonymous one is, and the log cannot
    # be rewritten; so the first period after the upgrade sees only persons found again, and
    # the check judges fully one period (OVERSIGHT_PERIOD_DAYS) later.
    op.create_table(
        "oversight_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("pool_count", sa.Integer(), nullable=True),
        sa.Column("pool_total", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('found_existing', 'no_episodes', 'limit_reached')",
            name=op.f("ck_oversight_findings_known_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_oversight_findings_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oversight_findings_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oversight_findings")),
    )
    with op.batch_alter_table("oversight_findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_oversight_findings_user_kind", ["user_id", "kind", "period_end"], unique=False
        )


def downgrade():
    with op.batch_alter_table("oversight_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_oversight_findings_user_kind")
    op.drop_table("oversight_findings")
