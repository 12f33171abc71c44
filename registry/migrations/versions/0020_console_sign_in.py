"""console sign-in: password hashes, sealed TOTP secrets, server-side sessions; patients by clinic

Revision ID: 0020_console_sign_in
Revises: 0019_service_translations
Create Date: 2026-12-07 22:49:01

"""

import sqlalchemy as sa
from alembic import op

revision = "0020_console_sign_in"
down_revision = "0019_service_translations"
branch_labels = None
depends_on = None


def upgrade():
    # Nothing to migrate: existing users keep their tokens and get console credentials from
    # `registry user console-link` (an enrolment link); until then they cannot sign in.
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_console_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_console_sessions_id_hash")),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_console_sessions_last_seen_at", ["last_seen_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_console_sessions_user_id"), ["user_id"], unique=False
        )
    op.create_table(
        "user_credentials",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("password_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totp_secret", sa.LargeBinary(length=128), nullable=True),
        sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("activation_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("activation_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_credentials")),
        sa.UniqueConstraint("activation_hash", name=op.f("uq_user_credentials_activation_hash")),
    )
    with op.batch_alter_table("pseudonyms", schema=None) as batch_op:
        batch_op.create_index("ix_pseudonyms_domain_id", ["domain", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("pseudonyms", schema=None) as batch_op:
        batch_op.drop_index("ix_pseudonyms_domain_id")
    op.drop_table("user_credentials")
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_sessions_user_id"))
        batch_op.drop_index("ix_console_sessions_last_seen_at")
    op.drop_table("console_sessions")
