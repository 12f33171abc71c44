"""A birth date, typed or encoded in an IIN, is neither in the future nor over 130 years ago."""

import datetime as dt

import pytest

from registry import clock
from tests.patients.conftest import new_iin

# 20:00 UTC: already the next day in Almaty (UTC+5), where a child may have just been born.
NOW = dt.datetime(2026, 6, 1, 20, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(NOW)
    yield
    clock.freeze(None)


def _named(born: str) -> dict:
    return {"family_name": "Ким", "given_name": "Виктор", "birth_date": born, "sex": "M"}


def _refused(answer, field: str, rule: str) -> None:
    assert answer.status_code == 422, answer.json
    assert answer.json["errors"] == {field: [rule]}


def test_the_issues_examples_are_refused(clinician, register):
    headers = clinician()
    _refused(register(headers, {"iin": "300101510001"}), "identity.iin", "birth_date_in_future")
    _refused(register(headers, _named("2099-04-04")), "identity.birth_date", "in_future")


@pytest.mark.parametrize(
    "born, accepted",
    [
        (dt.date(2026, 6, 2), True),  # today in Almaty and east of it
        (dt.date(2026, 6, 3), False),  # tomorrow everywhere on Earth
        (dt.date(1896, 6, 1), True),  # 130 years old today
        (dt.date(1896, 5, 31), False),
    ],
)
def test_the_limits_in_both_modes(clinician, register, born, accepted):
    headers = clinician()
    by_iin = register(headers, {"iin": new_iin(born)})
    by_name = register(headers, _named(born.isoformat()))
    if accepted:
        assert by_iin.status_code == 201 and by_name.status_code == 201, (by_iin.json, by_name.json)
        return
    rule = "in_future" if born > NOW.date() else "too_old"
    _refused(by_iin, "identity.iin", f"birth_date_{rule}")
    _refused(by_name, "identity.birth_date", rule)
