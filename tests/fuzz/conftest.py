"""An app on its own committed database, with a clinic, its service and a user per role."""

import os
from collections.abc import Iterator

import pytest
from flask import Flask

from registry.auth.models import CLINIC_ROLES, Role
from registry.extensions import db
from tests.conftest import _new_database, make_test_app, migrate_database

# `make test` runs a short pass; `make fuzz` sets more examples per operation.
EXAMPLES = int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "8"))


@pytest.fixture(scope="module")
def fuzz_app(keyring, tmp_path_factory) -> Iterator[Flask]:
    """Return an app whose writes really commit, on a database of its own."""
    directory = tmp_path_factory.mktemp("fuzz")
    for url in _new_database(directory):
        app = make_test_app(url, keyring, str(directory / "instance"), ALTCHA_MAX_NUMBER=50)
        migrate_database(app)
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def role_tokens(fuzz_app) -> dict[str, str]:
    """Return a token per role; clinic roles at one clinic that holds a patient and a service."""
    from registry.access.models import Clinic, Service
    from registry.auth.tokens import issue_token
    from registry.auth.users import create_user
    from registry.protocols.lifecycle import install_shipped_protocols

    with fuzz_app.app_context():
        clinic = Clinic(name="Fuzz clinic", region_code="750000000", centre_type="outpatient")
        db.session.add(clinic)
        db.session.flush()
        service = Service(
            clinic_id=clinic.id,
            name="Fuzz service",
            care_type="oat",
            languages=["ru"],
            address="Abay Ave 1",
            published=True,
        )
        db.session.add(service)
        install_shipped_protocols()
        tokens = {}
        for role in Role:
            user = create_user(f"fuzz-{role}", [role], clinic.id if role in CLINIC_ROLES else None)
            tokens[role.value] = issue_token(user, 30)[1]
        db.session.commit()
    return tokens
