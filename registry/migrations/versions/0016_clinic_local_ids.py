"""ids a clinic sees count only its own work: events numbered per episode, random merge ids

Revision ID: 0016_clinic_local_ids
Revises: 0015_protocol_governance
Create Date: 2026-12-02 09:00:00

"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0016_clinic_local_ids"
down_revision = "0015_protocol_governance"
branch_labels = None
depends_on = None

# Each episode's events, numbered 1, 2, 3… in the order they were recorded (their row ids').
_NUMBER_EVENTS = """
UPDATE episode_events SET n = numbered.n
FROM (SELECT id, row_number() OVER (PARTITION BY episode_id ORDER BY id) AS n
      FROM episode_events) AS numbered
WHERE numbered.id = episode_events.id
"""
_NUMBER_CORRECTIONS = """
UPDATE episode_events SET supersedes_n = (
    SELECT target.n FROM episode_events AS target WHERE target.id = episode_events.supersedes_id)
WHERE supersedes_id IS NOT NULL
"""
_NUMBER_SNAPSHOTS = """
UPDATE episodes SET engine_state_event_n = (
    SELECT n FROM episode_events WHERE episode_events.id = episodes.engine_state_event_id)
WHERE engine_state_event_id IS NOT NULL
"""
_ID_CORRECTIONS = """
UPDATE episode_events SET supersedes_id = (
    SELECT target.id FROM episode_events AS target
    WHERE target.episode_id = episode_events.episode_id AND target.n = episode_events.supersedes_n)
WHERE supersedes_n IS NOT NULL
"""
_ID_SNAPSHOTS = """
UPDATE episodes SET engine_state_event_id = (
    SELECT id FROM episode_events
    WHERE episode_events.episode_id = episodes.id AND episode_events.n = episodes.engine_state_event_n)
WHERE engine_state_event_n IS NOT NULL
"""


def upgrade():
    _number_events()
    _random_merge_ids()


def _number_events():
    # Event row ids are one sequence over every clinic: an id a clinic saw told it how many
    # events all clinics had recorded. Clients now see only the number within the episode.
    with op.batch_alter_table("episode_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("n", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("supersedes_n", sa.Integer(), nullable=True))
    op.execute(_NUMBER_EVENTS)
    op.execute(_NUMBER_CORRECTIONS)
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engine_state_event_n", sa.Integer(), nullable=True))
    op.execute(_NUMBER_SNAPSHOTS)
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_column("engine_state_event_id")
    with op.batch_alter_table("episode_events", schema=None) as batch_op:
        batch_op.alter_column("n", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index("ix_episode_events_episode_newest")
        batch_op.drop_index("ix_episode_events_episode_day")
        batch_op.drop_constraint(
            "fk_episode_events_supersedes_id_episode_events", type_="foreignkey"
        )
        batch_op.drop_constraint("uq_episode_events_supersedes_id", type_="unique")
        batch_op.drop_column("supersedes_id")
        batch_op.create_index("ix_episode_events_episode_n", ["episode_id", "n"], unique=True)
        batch_op.create_unique_constraint(
            "uq_episode_events_supersedes", ["episode_id", "supersedes_n"]
        )
        batch_op.create_foreign_key(
            "fk_episode_events_supersedes",
            "episode_events",
            ["episode_id", "supersedes_n"],
            ["episode_id", "n"],
        )
        batch_op.create_index("ix_episode_events_episode_day", ["episode_id", "day", "n"])


def _random_merge_ids():
    # Merges were shown by their row id, which counts every clinic's merges.
    with op.batch_alter_table("person_merges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ref", sa.String(length=32), nullable=True))
    merges = sa.table("person_merges", sa.column("id", sa.Integer), sa.column("ref", sa.String))
    connection = op.get_bind()
    for (merge_id,) in connection.execute(sa.select(merges.c.id)).all():
        fill = merges.update().where(merges.c.id == merge_id).values(ref=secrets.token_hex(16))
        connection.execute(fill)
    with op.batch_alter_table("person_merges", schema=None) as batch_op:
        batch_op.alter_column("ref", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint("uq_person_merges_ref", ["ref"])


def downgrade():
    with op.batch_alter_table("person_merges", schema=None) as batch_op:
        batch_op.drop_constraint("uq_person_merges_ref", type_="unique")
        batch_op.drop_column("ref")
    with op.batch_alter_table("episode_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supersedes_id", sa.Integer(), nullable=True))
    op.execute(_ID_CORRECTIONS)
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engine_state_event_id", sa.Integer(), nullable=True))
    op.execute(_ID_SNAPSHOTS)
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_column("engine_state_event_n")
    with op.batch_alter_table("episode_events", schema=None) as batch_op:
        batch_op.drop_index("ix_episode_events_episode_day")
        batch_op.drop_constraint("fk_episode_events_supersedes", type_="foreignkey")
        batch_op.drop_constraint("uq_episode_events_supersedes", type_="unique")
        batch_op.drop_index("ix_episode_events_episode_n")
        batch_op.drop_column("supersedes_n")
        batch_op.drop_column("n")
        batch_op.create_unique_constraint("uq_episode_events_supersedes_id", ["supersedes_id"])
        batch_op.create_foreign_key(
            "fk_episode_events_supersedes_id_episode_events",
            "episode_events",
            ["supersedes_id"],
            ["id"],
        )
        batch_op.create_index("ix_episode_events_episode_day", ["episode_id", "day", "id"])
        batch_op.create_index("ix_episode_events_episode_newest", ["episode_id", "id"])
