"""Treatment episodes, their append-only events, compliance flags and protocol migrations."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.types import UTCDateTime, utcnow

_OPEN = text("status = 'open'")


class EpisodeStatus(StrEnum):
    """An episode is open until it is discharged."""

    OPEN = "open"
    DISCHARGED = "discharged"


class Episode(db.Model):
    """One treatment episode of a person at a clinic, pinned to a protocol version.

    The TDI 3.0 admission record is stored as one typed column per item so that statistics
    can group by them; categorical items hold codes of codes.yaml, "99" meaning not known.
    """

    __tablename__ = "episodes"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'discharged')", name="known_status"),
        CheckConstraint(
            "discharged_on IS NULL OR discharged_on >= admitted_on",
            name="discharge_after_admission",
        ),
        Index("ix_episodes_clinic_status", "clinic_id", "status"),
        Index("ix_episodes_person_status", "person_id", "status"),
        # One open episode per person, clinic and protocol; the services check first.
        Index(
            "uq_episodes_one_open",
            "person_id",
            "clinic_id",
            "protocol_key",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id clients see: random, so that clinics cannot count each other's episodes.
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"), index=True)
    # The treatment type, kept beside the version so that lists and statistics need no join.
    protocol_key: Mapped[str] = mapped_column(String(64), index=True)
    # Opioid agonist treatment: the protocol excludes persons in OST elsewhere.
    oat: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default=EpisodeStatus.OPEN)
    stage: Mapped[str] = mapped_column(String(64))
    admitted_on: Mapped[date] = mapped_column(Date, index=True)
    discharged_on: Mapped[date | None] = mapped_column(Date)
    discharge_reason: Mapped[str | None] = mapped_column(String(20))
    diagnosis: Mapped[str] = mapped_column(String(5))
    diagnosis_icd11: Mapped[str | None] = mapped_column(String(10))
    # Comorbidities and other diagnoses, ICD-10 codes of any chapter (icd10.who_code form):
    # the protocol's exclusions are checked against them at admission.
    secondary_diagnoses: Mapped[list] = mapped_column(JSON, default=list)
    # The last day nothing is overdue (clinic calendar); None when nothing is ever due.
    overdue_after: Mapped[date | None] = mapped_column(Date)
    override_count: Mapped[int] = mapped_column(Integer, default=0)
    # The protocol engine's state after every event up to the event with this number (see
    # EpisodeState.snapshot): a later event is checked without folding the history again.
    # Valid only while that number is still the episode's newest event; otherwise it is rebuilt.
    engine_state: Mapped[dict | None] = mapped_column(JSON)
    engine_state_event_n: Mapped[int | None] = mapped_column(Integer)
    # What the eligibility check found at admission, and why an error was overridden (a code
    # of override_reasons in codes.yaml: never free text, which could name the person).
    admission_violations: Mapped[list] = mapped_column(JSON, default=list)
    admission_override_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Moved in from the legacy register (docs/import.md): history the protocol's rules never
    # checked, so the daily compliance job and protocol migrations leave it alone.
    imported: Mapped[bool] = mapped_column(Boolean, default=False)

    # -- TDI 3.0 admission record ------------------------------------------------------------
    centre_type: Mapped[str] = mapped_column(String(20))
    ever_treated: Mapped[str] = mapped_column(String(8))
    referral_source: Mapped[str] = mapped_column(String(30))
    sex: Mapped[str] = mapped_column(String(8))
    birth_year: Mapped[int] = mapped_column(Integer)
    birth_month: Mapped[int] = mapped_column(Integer)
    age_at_admission: Mapped[int | None] = mapped_column(Integer)
    living_with: Mapped[str] = mapped_column(String(20))
    living_with_children: Mapped[str] = mapped_column(String(20))
    living_where: Mapped[str] = mapped_column(String(20))
    education: Mapped[str] = mapped_column(String(20))
    labour_status: Mapped[str] = mapped_column(String(20))
    primary_drug: Mapped[str] = mapped_column(String(30))
    route: Mapped[str] = mapped_column(String(20))
    frequency: Mapped[str] = mapped_column(String(20))
    age_first_use: Mapped[int] = mapped_column(Integer)
    secondary_drug_1: Mapped[str | None] = mapped_column(String(30))
    secondary_drug_2: Mapped[str | None] = mapped_column(String(30))
    secondary_drug_3: Mapped[str | None] = mapped_column(String(30))
    injecting: Mapped[str] = mapped_column(String(20))
    needle_sharing: Mapped[str] = mapped_column(String(20))
    hiv_tested: Mapped[str] = mapped_column(String(20))
    hiv_result: Mapped[str | None] = mapped_column(String(20))
    hcv_tested: Mapped[str] = mapped_column(String(20))
    hcv_result: Mapped[str | None] = mapped_column(String(20))
    ost_status: Mapped[str] = mapped_column(String(20))
    ost_first_year: Mapped[int | None] = mapped_column(Integer)

    def length_of_stay(self, today: date) -> int:
        """Return the days from admission to discharge (or to today while open)."""
        return ((self.discharged_on or today) - self.admitted_on).days


@dataclass(slots=True)
class NewEvent:
    """An event checked and ready to append, as the values of its row (see EpisodeEvent).

    A plain object: an ORM instance only to carry these values cost about 3% of recording an event.
    """

    episode_id: int
    type: str
    occurred_at: datetime
    day: date
    payload: dict
    supersedes_n: int | None
    override_reason: str | None
    violations: list
    recorded_by: int | None
    recorded_at: datetime | None = None  # set when appended
    n: int | None = None  # set when appended


class EpisodeEvent(db.Model):
    """One recorded event; never updated or deleted: a correction supersedes it.

    Clients know an event by its number within its episode (`n`: 1, 2, 3…), never by the row
    id, which counts every clinic's events and would tell each clinic how busy the others are.
    """

    __tablename__ = "episode_events"
    __table_args__ = (
        # Numbers are unique within an episode; max(n) is this index's last entry for it.
        Index("ix_episode_events_episode_n", "episode_id", "n", unique=True),
        # A correction names an event of its own episode, and each event is corrected once.
        UniqueConstraint("episode_id", "supersedes_n", name="uq_episode_events_supersedes"),
        ForeignKeyConstraint(
            ["episode_id", "supersedes_n"],
            ["episode_events.episode_id", "episode_events.n"],
            name="fk_episode_events_supersedes",
        ),
        Index("ix_episode_events_episode_day", "episode_id", "day", "n"),  # histories, by day
    )

    id: Mapped[int] = mapped_column(primary_key=True)  # private: see the class docstring
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"))
    n: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The calendar day of occurred_at in the clinic's time zone: what the rules count in.
    day: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    # A correction names the number of the event it replaces.
    supersedes_n: Mapped[int | None] = mapped_column(Integer)
    override_reason: Mapped[str | None] = mapped_column(String(40))  # a code, see Episode
    # What the engine found when the event was recorded (warnings, overdue notices, overrides).
    violations: Mapped[list] = mapped_column(JSON, default=list)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ComplianceFlag(db.Model):
    """A required event overdue or upcoming for an open episode, as the daily job saw it."""

    __tablename__ = "compliance_flags"
    __table_args__ = (
        UniqueConstraint("episode_id", "computed_on", "rule_id", name="uq_compliance_flag"),
        CheckConstraint("status IN ('overdue', 'upcoming')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"), index=True)
    computed_on: Mapped[date] = mapped_column(Date, index=True)
    rule_id: Mapped[str] = mapped_column(String(120))
    event_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    due: Mapped[date] = mapped_column(Date)
    grace_until: Mapped[date] = mapped_column(Date)


class EpisodeMigration(db.Model):
    """An episode moved from one version of its protocol to a newer one."""

    __tablename__ = "episode_migrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"), index=True)
    from_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    migrated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    migrated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Rule ids the episode's history breaks under the new version (the dry run's finding).
    violations: Mapped[list] = mapped_column(JSON, default=list)
