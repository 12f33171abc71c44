"""Fixtures for the statistics endpoints: a population of persons and episodes."""

import random
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from registry import clock
from registry.episodes.codes import drug_group

YEAR = 2026
FREQUENCIES = ("daily", "4_6_week", "2_3_week", "weekly_or_less", "not_used", "99")
TESTED = ("never", "ever_not_12m", "last_12m", "99")
DRUGS = ("heroin", "alcohol", "alcohol", "alcohol", "cannabis", "methamphetamine", "tramadol")


@pytest.fixture(autouse=True)
def frozen_clock():
    """Freeze the clock in late 2026 so that the reference year is complete."""
    clock.freeze(datetime(YEAR, 12, 20, 6, tzinfo=UTC))
    yield
    clock.freeze(None)


@pytest.fixture()
def analyst(make_user) -> str:
    """Return an analyst's token."""
    return make_user("analyst")[1]


@pytest.fixture()
def population(session, make_clinic) -> Callable:
    """Return a factory filling the database with persons and episodes; returns their rows."""
    from registry.episodes.models import Episode
    from registry.patients.models import Person
    from registry.protocols.lifecycle import install_shipped_protocols
    from registry.protocols.models import ProtocolVersion

    def build(n_persons: int, seed: int = 1) -> list[dict]:
        install_shipped_protocols()
        version = session.query(ProtocolVersion).filter_by(n=1).first()
        rng = random.Random(seed)
        # The later TDI items come from their own generator: the main draws stay as they were.
        extra = random.Random(seed + 1000)
        clinics = [make_clinic(region="750000000"), make_clinic(region="710000000")]
        rows = []
        for _ in range(n_persons):
            person = Person(person_key=secrets.token_hex(16), record_key=rng.random())
            session.add(person)
            session.flush()
            count = 1 if rng.random() < 0.8 else 2
            for k in range(count):
                row = {
                    "person": person.id,
                    "sex": "male" if rng.random() < 0.75 else "female",
                    "primary_drug": rng.choice(DRUGS) if rng.random() > 0.03 else "ketamine",
                    "clinic": rng.choice(clinics),
                    "admitted_on": date(YEAR, rng.randint(1, 12), rng.randint(1, 28)),
                    "age": rng.randint(16, 70),
                    "ever_treated": "yes" if k else rng.choice(["no", "yes"]),
                }
                row["drug_group"] = drug_group(row["primary_drug"])
                row.update(
                    frequency=extra.choice(FREQUENCIES),
                    age_first_use=extra.choice((12, 16, 18, 25, 41, 99)),
                    hiv_tested=extra.choice(TESTED),
                    hcv_tested=extra.choice(TESTED),
                    ost_status=extra.choice(("never", "current", "ever_not_current")),
                )
                # Only the last episode stays open: one open episode per person and protocol.
                row["discharged"] = k < count - 1
                session.add(_episode(Episode, version, person.id, row))
                rows.append(row)
        session.flush()
        return rows

    return build


def _episode(model, version, person_id: int, row: dict):
    closed = row["discharged"]
    return model(
        ref=secrets.token_hex(8),
        status="discharged" if closed else "open",
        discharged_on=row["admitted_on"] if closed else None,
        discharge_reason="completed" if closed else None,
        person_id=person_id,
        clinic_id=row["clinic"].id,
        protocol_version_id=version.id,
        protocol_key=version.protocol.key,
        stage="induction",
        admitted_on=row["admitted_on"],
        diagnosis="F11.2",
        centre_type=row["clinic"].centre_type,
        ever_treated=row["ever_treated"],
        referral_source="self_family_friends",
        sex=row["sex"],
        birth_year=YEAR - row["age"],
        birth_month=1,
        age_at_admission=row["age"],
        living_with="family",
        living_with_children="no",
        living_where="stable",
        education="upper_secondary",
        labour_status="employed",
        primary_drug=row["primary_drug"],
        route="inject" if row["primary_drug"] == "heroin" else "eat_drink",
        frequency=row["frequency"],
        age_first_use=row["age_first_use"],
        injecting="last_30d" if row["primary_drug"] == "heroin" else "never",
        needle_sharing="never",
        hiv_tested=row["hiv_tested"],
        hcv_tested=row["hcv_tested"],
        ost_status=row["ost_status"],
    )
