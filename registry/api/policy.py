"""Who may call each route: the one declared access table (tests/api/test_policy_matrix.py).

Views still carry their own `@blp.auth(...)`/`@blp.public` decorators; the matrix test checks
that every route of the app has an entry here, that the decorators agree with it, and that the
running service answers by it for every role, another clinic's caller and bad tokens.
"""

from dataclasses import dataclass

from flask import Flask

from registry.auth.guard import PUBLIC
from registry.auth.models import Role

# Views that take no decorator: static files and the API documentation, all shipped assets.
UNDECORATED = frozenset(
    {
        "static",
        "site.static",
        "console.static",
        "docs.page",
        "docs.asset",
        "docs.local",
        "api-docs.openapi_json",
    }
)
# Console pages (a session cookie, not a bearer token): signed out, they redirect to sign-in.
CONSOLE_PREFIX = "/console"


@dataclass(frozen=True)
class Access:
    """Roles that may call a route (or PUBLIC), and whether it names one clinic's objects."""

    roles: frozenset[str] | str
    clinic_scoped: bool = False  # another clinic's caller gets 404 (or 403), never the object

    @property
    def public(self) -> bool:
        """Tell whether no token is needed."""
        return self.roles == PUBLIC


def _allow(*roles: Role, clinic_scoped: bool = False) -> Access:
    return Access(frozenset(roles), clinic_scoped)


OPEN = Access(PUBLIC)
STAFF = (Role.CLINICIAN, Role.CLINIC_ADMIN)
C, CA, AN, PA, KC, AD = (
    Role.CLINICIAN,
    Role.CLINIC_ADMIN,
    Role.ANALYST,
    Role.PROTOCOL_ADMIN,
    Role.KEY_CUSTODIAN,
    Role.ADMIN,
)
_CLINIC = "/api/v1/clinics/<int:clinic_id>"
_VERSION = "/api/v1/protocols/<key>/versions/<int:n>"
_REID = "/api/v1/reidentifications"

POLICY: dict[str, Access] = {
    # Health, documentation, code lists and the public web pages.
    "GET /healthz": OPEN,
    "GET /readyz": OPEN,
    "GET /api/v1/openapi.json": OPEN,
    "GET /api/v1/docs": OPEN,
    "GET /api/v1/docs/static/<path:name>": OPEN,
    "GET /api/v1/docs/local/<path:name>": OPEN,
    "GET /static/<path:filename>": OPEN,
    "GET /static/site/<path:filename>": OPEN,
    "GET /static/console/<path:filename>": OPEN,
    "GET /": OPEN,
    "GET /services/<int:service_id>": OPEN,
    "POST /book": OPEN,
    "POST /book/no-script": OPEN,
    "GET /booking": OPEN,
    "POST /booking": OPEN,
    "POST /booking/cancel": OPEN,
    "POST /booking/code": OPEN,
    "GET /anonymity": OPEN,
    "GET /api/v1/codes": OPEN,
    "GET /api/v1/protocols/schema": OPEN,
    # Care access without an account.
    "GET /api/v1/public/services": OPEN,
    "GET /api/v1/public/services/<int:service_id>": OPEN,
    "GET /api/v1/public/services/<int:service_id>/slots": OPEN,
    "GET /api/v1/public/challenge": OPEN,
    "POST /api/v1/public/bookings": OPEN,
    "POST /api/v1/public/bookings/lookup": OPEN,
    "POST /api/v1/public/bookings/cancel": OPEN,
    # The caller and the clinics.
    "GET /api/v1/me": _allow(*Role),
    "POST /api/v1/clinics": _allow(AD),
    "GET /api/v1/clinics": _allow(AD, *STAFF),
    "GET /api/v1/clinics/<int:clinic_id>": _allow(AD, *STAFF, clinic_scoped=True),
    # A clinic's services, slots and bookings: its own staff only.
    f"POST {_CLINIC}/services": _allow(CA, clinic_scoped=True),
    f"GET {_CLINIC}/services": _allow(*STAFF, clinic_scoped=True),
    f"PATCH {_CLINIC}/services/<int:service_id>": _allow(CA, clinic_scoped=True),
    f"POST {_CLINIC}/slots": _allow(CA, clinic_scoped=True),
    f"GET {_CLINIC}/slots": _allow(*STAFF, clinic_scoped=True),
    f"PATCH {_CLINIC}/slots/<int:slot_id>": _allow(CA, clinic_scoped=True),
    f"POST {_CLINIC}/slots/<int:slot_id>/cancel": _allow(CA, clinic_scoped=True),
    f"GET {_CLINIC}/bookings": _allow(*STAFF, clinic_scoped=True),
    f"POST {_CLINIC}/bookings/check-in": _allow(*STAFF, clinic_scoped=True),
    # Patients: clinicians of the clinic that holds the pseudonym; erasure by operators.
    "POST /api/v1/patients": _allow(C),
    "POST /api/v1/patients/resolve": _allow(C),
    "POST /api/v1/patients/care-card/qr": _allow(C),
    "POST /api/v1/patients/merges": _allow(C, clinic_scoped=True),
    "POST /api/v1/patients/merges/<merge_id>/split": _allow(C, clinic_scoped=True),
    "GET /api/v1/patients/<pseudonym>": _allow(C, clinic_scoped=True),
    "DELETE /api/v1/patients/<pseudonym>": _allow(AD),
    # Moving the legacy register in: operators only (docs/import.md).
    "POST /api/v1/admin/imports": _allow(AD),
    # Episodes: clinicians of the episode's clinic.
    "POST /api/v1/episodes": _allow(C, clinic_scoped=True),
    "GET /api/v1/episodes": _allow(C),
    "GET /api/v1/episodes/<ref>": _allow(C, clinic_scoped=True),
    "POST /api/v1/episodes/<ref>/events": _allow(C, clinic_scoped=True),
    "POST /api/v1/episodes/<ref>/events/check": _allow(C, clinic_scoped=True),
    "POST /api/v1/episodes/<ref>/discharge": _allow(C, clinic_scoped=True),
    "GET /api/v1/episodes/<ref>/compliance": _allow(C, clinic_scoped=True),
    # Protocols: read by clinicians, changed by protocol administrators.
    "GET /api/v1/protocols": _allow(PA, C),
    "POST /api/v1/protocols": _allow(PA),
    f"GET {_VERSION}": _allow(PA, C),
    f"PUT {_VERSION}": _allow(PA),
    f"POST {_VERSION}/approve": _allow(PA),
    f"POST {_VERSION}/publish": _allow(PA),
    f"POST {_VERSION}/retirement-request": _allow(PA),
    f"POST {_VERSION}/retire": _allow(PA),
    f"GET {_VERSION}/fhir": _allow(PA, C),
    "GET /api/v1/protocols/<key>/diff": _allow(PA),
    "POST /api/v1/protocols/<key>/migrations": _allow(PA),
    "GET /api/v1/protocols/<key>/migrations": _allow(PA),
    # Statistics for analysts; the audit log and re-identification for their roles only.
    "GET /api/v1/stats/catalogue": _allow(AN),
    "POST /api/v1/stats/query": _allow(AN),
    "GET /api/v1/stats/releases": _allow(AN, AD),
    "GET /api/v1/stats/tdi/<table>": _allow(AN),
    "GET /api/v1/audit/checkpoint": _allow(AD),
    "GET /api/v1/audit/proof": _allow(AD),
    "GET /api/v1/audit/consistency": _allow(AD),
    "GET /api/v1/audit/entries": _allow(AD),
    # Findings about users who may be probing the registry: for those who act on them.
    "GET /api/v1/oversight/findings": _allow(AD, KC),
    f"POST {_REID}": _allow(KC),
    f"GET {_REID}/<int:request_id>": _allow(KC),
    f"POST {_REID}/<int:request_id>/approve": _allow(KC),
    f"POST {_REID}/<int:request_id>/deny": _allow(KC),
    f"POST {_REID}/<int:request_id>/reveal": _allow(KC),
    # The staff console: sign-in steps open to all (each checks its own progress), pages by role.
    "GET /console/sign-in": OPEN,
    "POST /console/sign-in": OPEN,
    "GET /console/sign-in/code": OPEN,
    "POST /console/sign-in/code": OPEN,
    "GET /console/sign-in/enrol": OPEN,
    "POST /console/sign-in/enrol": OPEN,
    "GET /console/activate": OPEN,
    "POST /console/activate": OPEN,
    "POST /console/sign-out": _allow(*Role),
    "GET /console/": _allow(*Role),
    "GET /console/account/second-factor": _allow(*Role),
    "POST /console/account/second-factor": _allow(*Role),
    "GET /console/patients": _allow(C),
    "GET /console/patients/new": _allow(C),
    "POST /console/patients/new": _allow(C),
    "GET /console/patients/resolve": _allow(C),
    "POST /console/patients/resolve": _allow(C),
    "GET /console/patients/<pseudonym>": _allow(C, clinic_scoped=True),
    "GET /console/patients/<pseudonym>/episodes/new": _allow(C, clinic_scoped=True),
    "POST /console/patients/<pseudonym>/episodes/new": _allow(C, clinic_scoped=True),
    "GET /console/episodes/<ref>": _allow(C, clinic_scoped=True),
    "POST /console/episodes/<ref>/events": _allow(C, clinic_scoped=True),
    "GET /console/episodes/<ref>/discharge": _allow(C, clinic_scoped=True),
    "POST /console/episodes/<ref>/discharge": _allow(C, clinic_scoped=True),
    "GET /console/compliance": _allow(C),
    "GET /console/account/password": _allow(*Role),
    "POST /console/account/password": _allow(*Role),
    # Clinic staff: services and slots on a week grid, today's bookings and check-in, tokens.
    "GET /console/clinic/services": _allow(*STAFF),
    "GET /console/clinic/services/<int:service_id>/slots": _allow(*STAFF, clinic_scoped=True),
    "POST /console/clinic/services/<int:service_id>/slots": _allow(CA, clinic_scoped=True),
    "POST /console/clinic/slots/<int:slot_id>/cancel": _allow(CA, clinic_scoped=True),
    "GET /console/clinic/bookings": _allow(*STAFF),
    "POST /console/clinic/bookings/check-in": _allow(*STAFF),
    "GET /console/clinic/staff": _allow(CA),
    "POST /console/clinic/tokens/<int:token_id>/revoke": _allow(CA, clinic_scoped=True),
    # Key custodians: re-identification requests, decided here and revealed only offline.
    "GET /console/reidentifications": _allow(KC),
    "POST /console/reidentifications/<int:request_id>/approve": _allow(KC),
    "POST /console/reidentifications/<int:request_id>/deny": _allow(KC),
    "GET /console/reidentifications/reveal": _allow(KC),
}


def operations(app: Flask) -> list[tuple[str, str]]:
    """Return (policy key, endpoint) for every method of every route of the app."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((f"{method} {rule.rule}", rule.endpoint))
    return sorted(found)


def policy_faults(app: Flask) -> list[str]:
    """Name every route without an entry, every stale entry and every disagreeing decorator."""
    faults = []
    served = operations(app)
    for key, endpoint in served:
        access = POLICY.get(key)
        if access is None:
            faults.append(f"{key}: no entry in registry/api/policy.py")
            continue
        declared = getattr(app.view_functions[endpoint], "policy", None)
        if declared is None and endpoint in UNDECORATED and access.public:
            continue
        if declared != access.roles:
            faults.append(f"{key}: the view allows {declared!r}, the table {access.roles!r}")
    faults += [f"{key}: no such route" for key in POLICY.keys() - {key for key, _ in served}]
    return faults
