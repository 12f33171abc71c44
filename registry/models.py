"""Import every model so that Alembic and create_all see the whole schema."""

from registry.access.models import Clinic, Region
from registry.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from registry.auth.models import ApiToken, User, UserRole
from registry.jobs_models import JobRun, SchedulerLease
from registry.protocols.models import Protocol, ProtocolVersion

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "Clinic",
    "JobRun",
    "Protocol",
    "ProtocolVersion",
    "Region",
    "SchedulerLease",
    "User",
    "UserRole",
]
