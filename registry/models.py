"""Import every model so that Alembic and create_all see the whole schema."""

from registry.access.models import Booking, Clinic, Region, Service, Slot, SpentChallenge
from registry.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from registry.auth.models import ApiToken, User, UserCredential, UserRole
from registry.console.models import ConsoleSession
from registry.episodes.models import ComplianceFlag, Episode, EpisodeEvent, EpisodeMigration
from registry.imports.models import ImportRun
from registry.jobs_models import JobRun, SchedulerLease
from registry.oversight.models import OversightFinding
from registry.patients.models import (
    CareCard,
    Escrow,
    LinkageToken,
    OstEnrolment,
    Person,
    PersonMerge,
    Pseudonym,
    ReidentificationApproval,
    ReidentificationRequest,
)
from registry.protocols.models import Protocol, ProtocolVersion
from registry.stats.models import StatsRelease
from registry.stats.output_models import StatsDpAnalyst, StatsDpBudget, StatsScheduledRelease

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "Booking",
    "CareCard",
    "Clinic",
    "ComplianceFlag",
    "ConsoleSession",
    "Episode",
    "EpisodeEvent",
    "EpisodeMigration",
    "Escrow",
    "ImportRun",
    "JobRun",
    "LinkageToken",
    "OstEnrolment",
    "OversightFinding",
    "Person",
    "PersonMerge",
    "Protocol",
    "ProtocolVersion",
    "Pseudonym",
    "Region",
    "ReidentificationApproval",
    "ReidentificationRequest",
    "SchedulerLease",
    "Service",
    "Slot",
    "SpentChallenge",
    "StatsDpAnalyst",
    "StatsDpBudget",
    "StatsRelease",
    "StatsScheduledRelease",
    "User",
    "UserCredential",
    "UserRole",
]
