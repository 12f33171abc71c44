"""Free text that people type never carries a direct identifier into the database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from registry.api.free_text import REFUSED, no_identifier

ACCEPTED = [
    "patient requested a slower taper",
    "withdrawal, senior reviewed; 120 mg split dose",
    "doses missed on 2026-03-01 and 2026-03-05, 01.02.2026 too",
    "court order No. 2-1234/2026, article 273",
    "seen at 10:30 and 14:45 by the duty doctor",
]
REFUSED_TEXTS = [
    "IIN 850315301235 confirmed",
    "IIN 850315 301235",
    "ИИН: 850315-301-235",
    "call +7 (701) 123-45-67 first",
    "phone 87011234567",
    "write to a.person@example.kz",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_ordinary_reasons_pass(text):
    no_identifier(text)


@pytest.mark.parametrize("text", REFUSED_TEXTS)
def test_identifier_shapes_are_refused_without_echo(text):
    with pytest.raises(ValidationError) as refused:
        no_identifier(text)
    assert refused.value.messages == [REFUSED]


@given(
    st.from_regex(r"[0-9]{12}", fullmatch=True),
    st.sampled_from([" ", "", "-", " - ", "."]),
    st.text(max_size=20),
)
def test_any_twelve_digits_anywhere_in_a_reason_are_refused(iin, separator, words):
    grouped = iin[:6] + separator + iin[6:]
    with pytest.raises(ValidationError):
        no_identifier(f"{words} {grouped} {words}")
