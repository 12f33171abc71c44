import copy
from datetime import date, timedelta

import pytest

from registry.protocols import Event, compile_protocol
from registry.protocols.shipped import shipped_documents

ADMISSION = date(2025, 1, 6)


def day(offset: int) -> date:
    return ADMISSION + timedelta(days=offset)


def dose(offset: int, amount: float, medication: str = "methadone", unit: str = "mg") -> Event:
    return Event("dose", day(offset), {"medication": medication, "amount": amount, "unit": unit})


def ramp(offset: int) -> float:
    """Return a methadone titration that keeps every limit: 30 mg, +10 mg every 4 days to 60."""
    return min(30 + 10 * (offset // 4), 60)


def compliant_events(days: int, skip: frozenset[str] = frozenset()) -> list[Event]:
    """Return a methadone history for days 0..days-1 that breaks no rule.

    Induction to day 7, stabilisation to day 21, then maintenance; weekly screens,
    4-weekly reviews, a TOP assessment every 84 days. Types in skip are recorded on day 0 only.
    """
    events = []
    for offset in range(days):
        first = offset == 0
        if offset % 7 == 0 and ("screen" not in skip or first):
            events.append(Event("screen", day(offset)))
        if offset % 28 == 0 and ("review" not in skip or first):
            events.append(Event("review", day(offset)))
        if offset % 84 == 0 and ("assessment" not in skip or first):
            events.append(Event("assessment", day(offset)))
        if offset == 7:
            events.append(Event("stage_change", day(offset), {"to": "stabilisation"}))
        if offset == 21:
            events.append(Event("stage_change", day(offset), {"to": "maintenance"}))
        events.append(dose(offset, ramp(offset)))
    return events


@pytest.fixture
def methadone() -> dict:
    return copy.deepcopy(shipped_documents()["methadone_oat"])


@pytest.fixture(scope="session")
def methadone_compiled():
    return compile_protocol(shipped_documents()["methadone_oat"])
