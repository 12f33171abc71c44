"""fewer index pages per registration and booking

Revision ID: 0012_lean_write_indexes
Revises: 0011_booking_client_index
Create Date: 2026-11-26 13:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_lean_write_indexes"
down_revision = "0011_booking_client_index"
branch_labels = None
depends_on = None

_MERGED = sa.text("merged_into_id IS NOT NULL")


def upgrade():
    # Every index a row goes into is a page read and written per insert; on SQLite behind
    # several workers those reads are cold, and on PostgreSQL a random one misses the cache at
    # a million rows. These indexes served no query, or served it no better than another does
    # (person_key is 128 random bits, never looked up).
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_constraint("uq_persons_person_key", type_="unique")
        batch_op.drop_index("ix_persons_wrapped_key_version")
        batch_op.drop_index("ix_persons_merged_into_id")
        batch_op.create_index(
            "ix_persons_merged_into_id",
            ["merged_into_id"],
            sqlite_where=_MERGED,
            postgresql_where=_MERGED,
        )
    with op.batch_alter_table("pseudonyms", schema=None) as batch_op:
        batch_op.drop_index("ix_pseudonyms_person_id")
        batch_op.drop_constraint("uq_pseudonym_domain_person", type_="unique")
        batch_op.create_unique_constraint("uq_pseudonym_person_domain", ["person_id", "domain"])
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_status")


def downgrade():
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index("ix_bookings_status", ["status"])
    with op.batch_alter_table("pseudonyms", schema=None) as batch_op:
        batch_op.drop_constraint("uq_pseudonym_person_domain", type_="unique")
        batch_op.create_unique_constraint("uq_pseudonym_domain_person", ["domain", "person_id"])
        batch_op.create_index("ix_pseudonyms_person_id", ["person_id"])
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index("ix_persons_merged_into_id")
        batch_op.create_index("ix_persons_merged_into_id", ["merged_into_id"])
        batch_op.create_index("ix_persons_wrapped_key_version", ["wrapped_key_version"])
        batch_op.create_unique_constraint("uq_persons_person_key", ["person_key"])
