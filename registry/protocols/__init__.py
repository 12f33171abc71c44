"""Clinical protocols as data: document format, validation, rule engine, diff and FHIR export."""

from registry.protocols.compiled import CompiledProtocol, compile_protocol
from registry.protocols.diff import diff_documents
from registry.protocols.document import (
    DocumentError,
    Problem,
    load_document,
    parse_document,
    schema,
    validate_document,
)
from registry.protocols.engine import (
    check_eligibility,
    compliance,
    compliance_of,
    episode_state,
    evaluate,
    first_deadline,
)
from registry.protocols.fhir import to_plan_definition
from registry.protocols.model import (
    Compliance,
    ComplianceItem,
    EpisodeHistory,
    Event,
    Violation,
)
from registry.protocols.shipped import shipped_documents
from registry.protocols.state import EpisodeState

__all__ = [
    "CompiledProtocol",
    "Compliance",
    "ComplianceItem",
    "DocumentError",
    "EpisodeHistory",
    "EpisodeState",
    "Event",
    "Problem",
    "Violation",
    "check_eligibility",
    "compile_protocol",
    "compliance",
    "compliance_of",
    "diff_documents",
    "episode_state",
    "evaluate",
    "first_deadline",
    "load_document",
    "parse_document",
    "schema",
    "shipped_documents",
    "to_plan_definition",
    "validate_document",
]
