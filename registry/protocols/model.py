"""Plain data exchanged with the rule engine: events, histories, violations, compliance."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

EVENT_TYPES = frozenset(
    {"dose", "visit", "screen", "review", "assessment", "stage_change", "take_home", "discharge"}
)
LANGUAGES = ("ru", "kk", "en")
# Required payload keys and types per event type; the API validates first, this is a backstop.
PAYLOAD: dict[str, tuple[tuple[str, type | tuple[type, ...]], ...]] = {
    "dose": (("medication", str), ("amount", (int, float))),
    "take_home": (("doses", int),),
    "stage_change": (("to", str),),
    "discharge": (("reason", str),),
}


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in an episode; only its calendar day matters to the rules.

    Payloads: dose {medication, amount, unit}; take_home {medication, doses};
    stage_change {to}; discharge {reason}; the other types need none.
    """

    type: str
    at: date | datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    day: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")
        for key, kind in PAYLOAD.get(self.type, ()):
            if not isinstance(self.payload.get(key), kind) or isinstance(self.payload[key], bool):
                raise ValueError(f"a {self.type} event needs {key!r} of type {kind}")
        if self.type == "dose" and not self.payload["amount"] > 0:
            raise ValueError("a dose amount must be positive")
        at = self.at.date() if isinstance(self.at, datetime) else self.at
        object.__setattr__(self, "day", at.toordinal())


@dataclass(frozen=True, slots=True)
class EpisodeHistory:
    """What the engine needs to know about an episode besides the protocol.

    The current stage is derived: start_stage (default: the protocol's initial stage)
    moved by the stage_change events.
    """

    admission: date
    diagnosis: str = ""
    events: Sequence[Event] = ()
    start_stage: str | None = None
    age: int | None = None
    birth_year: int | None = None
    birth_month: int | None = None

    def age_at_admission(self) -> int | None:
        """Return completed years at admission, taking the birthday as the 1st of its month."""
        if self.age is not None:
            return self.age
        if self.birth_year is None:
            return None
        month = self.birth_month or 1
        behind = (self.admission.month, self.admission.day) < (month, 1)
        return self.admission.year - self.birth_year - behind


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def render(text: str, details: Mapping[str, Any]) -> str:
    """Fill {name} placeholders from details, leaving unknown ones as they are."""
    # Not str.format: templates come from documents, and must not reach attributes or indices.
    return PLACEHOLDER.sub(lambda m: str(details.get(m.group(1), m.group(0))), text)


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule: its stable id, severity, message per language and the numbers behind it."""

    rule_id: str
    severity: str
    message: Mapping[str, str]
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ComplianceItem:
    """A required event that is due: which rule, what to record, by when."""

    rule_id: str
    event_type: str
    due: date
    grace_until: date
    message: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Compliance:
    """Overdue and upcoming required events of one episode on one day."""

    overdue: list[ComplianceItem]
    upcoming: list[ComplianceItem]
