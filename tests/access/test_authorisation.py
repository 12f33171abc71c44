"""Role × endpoint table for the clinic-side access endpoints; public ones need no token."""

import pytest

from registry.access.models import Clinic
from tests.access.conftest import new_service, new_slot
from tests.conftest import bearer

ROLES = ["clinician", "clinic_admin", "analyst", "protocol_admin", "key_custodian", "admin"]
STAFF = {"clinician", "clinic_admin"}
MANAGER = {"clinic_admin"}

# (method, path template, JSON body, roles allowed)
ENDPOINTS = [
    ("post", "/services", {"name": "X", "care_type": "oat"}, MANAGER),
    ("get", "/services", None, STAFF),
    ("patch", "/services/{service}", {"published": False}, MANAGER),
    ("post", "/slots", {"service_id": 0, "capacity": 1}, MANAGER),
    ("get", "/slots", None, STAFF),
    ("patch", "/slots/{slot}", {"capacity": 3}, MANAGER),
    ("post", "/slots/{slot}/cancel", {}, MANAGER),
    ("get", "/bookings", None, STAFF),
    ("post", "/bookings/check-in", {"code": "B-0"}, STAFF),
]


@pytest.mark.parametrize("method, path, body, allowed", ENDPOINTS)
@pytest.mark.parametrize("role", [*ROLES, None])
def test_role_matrix(client, session, make_user, role, method, path, body, allowed):
    from registry.auth.models import CLINIC_ROLES

    clinic = Clinic(name="Matrix clinic", region_code="750000000", centre_type="outpatient")
    session.add(clinic)
    session.flush()
    service = new_service(session, clinic)
    slot = new_slot(session, service)
    headers = {}
    if role:
        headers = bearer(make_user(role, clinic=clinic if role in CLINIC_ROLES else None)[1])
    url = f"/api/v1/clinics/{clinic.id}" + path.format(service=service.id, slot=slot.id)
    answer = getattr(client, method)(url, headers=headers, json=body)
    if role is None:
        assert answer.status_code == 401
    elif role in allowed:
        assert answer.status_code not in (401, 403), answer.json
    else:
        assert answer.status_code == 403


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("get", "/api/v1/public/services", None),
        ("get", "/api/v1/public/challenge", None),
        ("post", "/api/v1/public/bookings/lookup", {"code": "B-0"}),
    ],
)
def test_public_endpoints_need_no_token(client, method, path, body):
    answer = getattr(client, method)(path, json=body)
    assert answer.status_code not in (401, 403)
