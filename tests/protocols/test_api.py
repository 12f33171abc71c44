"""The protocol API: lifecycle, access, diff, FHIR export, bad documents and audit."""

import copy

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry.audit.models import AuditEntry
from registry.protocols.lifecycle import document_hash
from registry.protocols.models import ProtocolVersion
from tests.conftest import bearer

BASE = "/api/v1/protocols"
KEY = "methadone_test"


@pytest.fixture
def doc(methadone) -> dict:
    """Return a valid document under a key of its own."""
    return {**copy.deepcopy(methadone), "key": KEY}


@pytest.fixture
def author(make_user):
    user, token = make_user("protocol_admin")
    return user, bearer(token)


@pytest.fixture
def reviewer(make_user):
    user, token = make_user("protocol_admin")
    return user, bearer(token)


@pytest.fixture
def clinician(make_user):
    return bearer(make_user("clinician")[1])


def url(n: int, action: str = "", key: str = KEY) -> str:
    return f"{BASE}/{key}/versions/{n}" + (f"/{action}" if action else "")


def ok(answer, status: int = 200) -> dict:
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.json


def draft(client, headers, document) -> dict:
    return ok(client.post(BASE, headers=headers, json={"document": document}), 201)


@pytest.fixture
def active(client, doc, author, reviewer) -> dict:
    """Return version 1 of KEY, drafted, approved and published."""
    draft(client, author[1], doc)
    ok(client.post(url(1, "approve"), headers=reviewer[1]))
    return ok(client.post(url(1, "publish"), headers=author[1]))


# Lifecycle: each forbidden transition.


def test_a_draft_is_created_numbered_and_hashed(client, doc, author):
    created = draft(client, author[1], {**doc, "version": 7, "status": "active"})
    assert (created["key"], created["n"], created["status"]) == (KEY, 1, "draft")
    assert created["document"]["version"] == 1 and created["document"]["status"] == "draft"
    assert created["author_id"] == author[0].id
    assert created["document_hash"] == document_hash(doc)


def test_the_author_cannot_approve_their_own_draft(client, doc, author):
    draft(client, author[1], doc)
    answer = client.post(url(1, "approve"), headers=author[1])
    assert answer.status_code == 403
    assert ok(client.get(url(1), headers=author[1]))["status"] == "draft"


def test_another_administrator_cannot_edit_the_authors_draft(client, doc, author, reviewer):
    draft(client, author[1], doc)
    answer = client.put(url(1), headers=reviewer[1], json={"document": doc})
    assert answer.status_code == 403


def test_an_approved_version_cannot_be_edited(client, doc, author, reviewer):
    draft(client, author[1], doc)
    ok(client.post(url(1, "approve"), headers=reviewer[1]))
    answer = client.put(url(1), headers=author[1], json={"document": doc})
    assert answer.status_code == 409


def test_an_active_version_cannot_be_edited(client, doc, author, active):
    answer = client.put(url(1), headers=author[1], json={"document": doc})
    assert answer.status_code == 409


def retire(client, requester, retirer, n: int = 1) -> dict:
    """Retire version n: one administrator requests it, another retires."""
    ok(client.post(url(n, "retirement-request"), headers=requester))
    return ok(client.post(url(n, "retire"), headers=retirer))


def test_a_retired_version_cannot_be_edited(client, doc, author, reviewer, active):
    retire(client, author[1], reviewer[1])
    assert client.put(url(1), headers=author[1], json={"document": doc}).status_code == 409


def test_a_draft_that_is_not_approved_cannot_be_published(client, doc, author, reviewer):
    draft(client, author[1], doc)
    assert client.post(url(1, "publish"), headers=reviewer[1]).status_code == 409


def test_a_version_cannot_be_approved_twice(client, doc, author, reviewer, make_user):
    draft(client, author[1], doc)
    ok(client.post(url(1, "approve"), headers=reviewer[1]))
    third = bearer(make_user("protocol_admin")[1])
    assert client.post(url(1, "approve"), headers=third).status_code == 409
    assert client.post(url(1, "approve"), headers=reviewer[1]).status_code == 409


def test_a_draft_cannot_be_retired(client, doc, author):
    draft(client, author[1], doc)
    assert client.post(url(1, "retirement-request"), headers=author[1]).status_code == 409
    assert client.post(url(1, "retire"), headers=author[1]).status_code == 409


def test_a_version_not_in_use_is_retired_by_a_second_administrator_without_confirmation(
    client, author, reviewer, active
):
    assert client.post(url(1, "retire"), headers=reviewer[1]).status_code == 409  # no request
    requested = ok(client.post(url(1, "retirement-request"), headers=author[1]))
    assert requested["retire_requested_by_id"] == author[0].id and requested["status"] == "active"
    again = ok(client.post(url(1, "retirement-request"), headers=reviewer[1]))
    assert again["retire_requested_by_id"] == author[0].id  # the first request stands
    assert client.post(url(1, "retire"), headers=author[1]).status_code == 403
    retired = ok(client.post(url(1, "retire"), headers=reviewer[1]))
    assert retired["status"] == "retired" and retired["retired_by_id"] == reviewer[0].id


def test_an_active_version_cannot_be_published_again(client, author, active):
    assert client.post(url(1, "publish"), headers=author[1]).status_code == 409


def test_publishing_retires_the_previous_active_version(client, doc, author, reviewer, active):
    second = draft(client, author[1], doc)
    assert second["n"] == 2
    ok(client.post(url(2, "approve"), headers=reviewer[1]))
    published = ok(client.post(url(2, "publish"), headers=reviewer[1]))
    assert published["status"] == "active" and published["published_at"]
    first = ok(client.get(url(1), headers=author[1]))
    assert first["status"] == "retired" and first["retired_at"]
    listed = ok(client.get(BASE, headers=author[1]))
    statuses = [v["status"] for p in listed if p["key"] == KEY for v in p["versions"]]
    assert statuses == ["retired", "active"]


def test_an_older_version_cannot_replace_a_newer_active_one(client, doc, author, reviewer):
    draft(client, author[1], doc)
    draft(client, author[1], doc)
    for n in (1, 2):
        ok(client.post(url(n, "approve"), headers=reviewer[1]))
    ok(client.post(url(2, "publish"), headers=author[1]))
    assert client.post(url(1, "publish"), headers=author[1]).status_code == 409


def test_the_database_refuses_a_second_active_version(client, session, doc, author, active):
    second = ProtocolVersion(
        protocol_id=session.execute(
            select(ProtocolVersion.protocol_id).where(ProtocolVersion.n == 1)
        ).scalar_one(),
        n=2,
        status="active",
        document=doc,
        document_hash=document_hash(doc),
    )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(second)
        session.flush()


def test_a_retired_version_is_still_readable(client, clinician, author, reviewer, active):
    retire(client, author[1], reviewer[1])
    assert ok(client.get(url(1), headers=clinician))["status"] == "retired"


def test_a_draft_edit_replaces_the_document(client, doc, author):
    draft(client, author[1], doc)
    changed = copy.deepcopy(doc)
    changed["stages"][0]["medications"][0]["first_dose_max"]["value"] = 20
    edited = ok(client.put(url(1), headers=author[1], json={"yaml": yaml.safe_dump(changed)}))
    assert edited["document"]["stages"][0]["medications"][0]["first_dose_max"]["value"] == 20
    assert edited["document_hash"] == document_hash(changed)


def test_a_draft_can_copy_the_active_version(client, author, active):
    copied = ok(client.post(BASE, headers=author[1], json={"key": KEY, "copy_from": "active"}), 201)
    assert copied["n"] == 2 and copied["status"] == "draft"
    assert copied["document_hash"] == active["document_hash"]
    again = ok(client.post(BASE, headers=author[1], json={"key": KEY, "copy_from": 1}), 201)
    assert again["n"] == 3


def test_copying_needs_an_active_version(client, doc, author):
    draft(client, author[1], doc)
    answer = client.post(BASE, headers=author[1], json={"key": KEY, "copy_from": "active"})
    assert answer.status_code == 409


# Reading: diff, FHIR, schema, visibility.


def test_the_diff_names_the_changed_rule_ids(client, doc, author, active):
    new = copy.deepcopy(doc)
    new["stages"][0]["medications"][0]["first_dose_max"]["value"] = 20
    del new["take_home"]["bands"][-1]
    draft(client, author[1], new)
    result = ok(client.get(f"{BASE}/{KEY}/diff?from=1&to=2", headers=author[1]))
    assert [c["id"] for c in result["changed"]] == ["methadone.induction.first_dose_max"]
    assert result["changed"][0]["changes"] == [{"field": "value", "old": 30, "new": 20}]
    assert [r["id"] for r in result["removed"]] == ["methadone.take_home.after_year_2"]
    assert result["added"] == []
    assert result["from"] == {"key": KEY, "version": 1}
    assert result["to"] == {"key": KEY, "version": 2}


@pytest.mark.parametrize("query", ["", "?from=1", "?from=0&to=1", "?from=a&to=1"])
def test_the_diff_needs_two_version_numbers(client, author, active, query):
    answer = client.get(f"{BASE}/{KEY}/diff{query}", headers=author[1])
    assert answer.status_code == 422


def test_the_diff_of_an_unknown_version_is_404(client, author, active):
    assert client.get(f"{BASE}/{KEY}/diff?from=1&to=9", headers=author[1]).status_code == 404


def test_fhir_export_is_a_plan_definition(client, clinician, active):
    answer = client.get(url(1, "fhir"), headers=clinician)
    assert answer.status_code == 200
    assert answer.mimetype == "application/fhir+json"
    plan = answer.get_json(force=True)
    assert plan["resourceType"] == "PlanDefinition"
    assert (plan["version"], plan["status"]) == ("1", "active")
    assert plan["url"].endswith(f"/PlanDefinition/{KEY}")
    assert plan["action"]


def test_fhir_export_of_a_draft_says_draft(client, doc, author):
    draft(client, author[1], doc)
    plan = client.get(url(1, "fhir"), headers=author[1]).get_json(force=True)
    assert plan["status"] == "draft"


def test_the_schema_is_public(client):
    answer = client.get(f"{BASE}/schema")
    assert answer.status_code == 200
    assert "key" in answer.json["properties"]


def test_clinicians_see_published_versions_only(client, doc, clinician, author, active):
    draft(client, author[1], doc)
    listed = ok(client.get(BASE, headers=clinician))
    assert [(p["key"], [v["n"] for v in p["versions"]]) for p in listed] == [(KEY, [1])]
    assert client.get(url(2), headers=clinician).status_code == 404
    assert client.get(url(2, "fhir"), headers=clinician).status_code == 404
    assert ok(client.get(url(1), headers=clinician))["document"]["key"] == KEY


def test_unknown_protocols_and_versions_are_404(client, author, active):
    assert client.get(url(1, key="nothing"), headers=author[1]).status_code == 404
    assert client.get(url(5), headers=author[1]).status_code == 404
    assert client.post(url(5, "approve"), headers=author[1]).status_code == 404


# Access.

ENDPOINTS = [
    ("get", BASE),
    ("post", BASE),
    ("get", f"{BASE}/{KEY}/versions/1"),
    ("put", f"{BASE}/{KEY}/versions/1"),
    ("post", f"{BASE}/{KEY}/versions/1/approve"),
    ("post", f"{BASE}/{KEY}/versions/1/publish"),
    ("post", f"{BASE}/{KEY}/versions/1/retirement-request"),
    ("post", f"{BASE}/{KEY}/versions/1/retire"),
    ("get", f"{BASE}/{KEY}/diff?from=1&to=1"),
    ("get", f"{BASE}/{KEY}/versions/1/fhir"),
]
READ_BY_CLINICIANS = {(m, p) for m, p in ENDPOINTS if m == "get" and "diff" not in p}


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_no_token_is_401(client, method, path):
    assert getattr(client, method)(path, json={}).status_code == 401


FORBIDDEN = [
    (role, method, path)
    for role in ("clinician", "clinic_admin", "analyst", "key_custodian", "admin")
    for method, path in ENDPOINTS
    if not (role == "clinician" and (method, path) in READ_BY_CLINICIANS)
]


@pytest.mark.parametrize("role, method, path", FORBIDDEN)
def test_other_roles_are_403(client, make_user, role, method, path):
    headers = bearer(make_user(role)[1])
    assert getattr(client, method)(path, headers=headers, json={}).status_code == 403


def test_a_clinician_cannot_draft(client, clinician, doc):
    assert client.post(BASE, headers=clinician, json={"document": doc}).status_code == 403


# Bad documents: 422 with JSON paths.


def _errors(answer) -> dict:
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    return answer.json["errors"]


def _break(doc: dict, how: str) -> dict:
    bad = copy.deepcopy(doc)
    medication = bad["stages"][0]["medications"][0]
    if how == "unknown key":
        bad["colour"] = "blue"
    elif how == "wrong type":
        bad["stages"][0]["duration"]["min_days"] = "seven"
    elif how == "out of range":
        medication["daily_max"]["value"] = -5
    elif how == "contradiction":
        medication["first_dose_max"]["value"] = 90
    elif how == "unknown stage":
        bad["initial_stage"] = "nowhere"
    elif how == "missing key":
        del bad["discharge"]
    return bad


@pytest.mark.parametrize(
    "how, path",
    [
        ("unknown key", "/colour"),
        ("wrong type", "/stages/0/duration/min_days"),
        ("out of range", "/stages/0/medications/0/daily_max/value"),
        ("contradiction", "/stages/0/medications/0/first_dose_max/value"),
        ("unknown stage", "/initial_stage"),
        ("missing key", "/discharge"),
    ],
)
def test_bad_documents_are_422_with_paths(client, author, doc, how, path):
    errors = _errors(client.post(BASE, headers=author[1], json={"document": _break(doc, how)}))
    assert path in errors, errors
    assert all(isinstance(m, str) for messages in errors.values() for m in messages)


def test_bad_documents_are_refused_on_edit_too(client, author, doc):
    draft(client, author[1], doc)
    errors = _errors(
        client.put(url(1), headers=author[1], json={"document": _break(doc, "contradiction")})
    )
    assert "/stages/0/medications/0/first_dose_max/value" in errors


def test_an_edit_cannot_change_the_key(client, author, doc):
    draft(client, author[1], doc)
    answer = client.put(url(1), headers=author[1], json={"document": {**doc, "key": "other"}})
    assert "/key" in _errors(answer)


def test_a_draft_key_must_match_the_document(client, author, doc):
    answer = client.post(BASE, headers=author[1], json={"key": "other", "document": doc})
    assert "/key" in _errors(answer)


@pytest.mark.parametrize(
    "body",
    [{}, {"document": {}, "yaml": "a: 1"}, {"copy_from": 1}, {"key": KEY, "copy_from": "latest"}],
)
def test_the_body_must_say_what_to_draft(client, author, body):
    assert client.post(BASE, headers=author[1], json=body).status_code == 422


def test_yaml_syntax_errors_are_422(client, author):
    errors = _errors(client.post(BASE, headers=author[1], json={"yaml": "key: [unclosed"}))
    assert list(errors) == ["document"]


def test_yaml_documents_are_accepted(client, author, doc):
    created = ok(client.post(BASE, headers=author[1], json={"yaml": yaml.safe_dump(doc)}), 201)
    assert created["document_hash"] == document_hash(doc)


def test_a_nested_document_is_422(client, author, doc):
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    errors = _errors(client.post(BASE, headers=author[1], json={"document": {**doc, "d": deep}}))
    assert any("nested deeper" in m for messages in errors.values() for m in messages)


def test_a_json_body_too_deep_to_parse_is_422_not_500(client, author):
    body = '{"document": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    answer = client.post(BASE, headers=author[1], data=body, content_type="application/json")
    assert "document" in _errors(answer)


def test_nan_is_not_a_number(client, author):
    body = '{"document": {"key": "x", "version": NaN}}'
    answer = client.post(BASE, headers=author[1], data=body, content_type="application/json")
    assert "document" in _errors(answer)


def test_documents_may_exceed_the_app_wide_body_limit(client, app, author, doc):
    text = "# " + "x" * (100 * 1024) + "\n" + yaml.safe_dump(doc)
    assert len(text) > app.config["MAX_CONTENT_LENGTH"]
    ok(client.post(BASE, headers=author[1], json={"yaml": text}), 201)


def test_documents_over_the_protocol_limit_are_422(client, app, author, doc, monkeypatch):
    monkeypatch.setitem(app.config, "PROTOCOL_MAX_BYTES", 32 * 1024)
    text = "# " + "x" * (40 * 1024) + "\n" + yaml.safe_dump(doc)
    errors = _errors(client.post(BASE, headers=author[1], json={"yaml": text}))
    assert list(errors) == ["document"] and "limit" in errors["document"][0]


def test_bodies_over_the_protocol_request_limit_are_413(client, app, author):
    size = app.config["PROTOCOL_MAX_REQUEST_BYTES"] + 1
    answer = client.post(BASE, headers=author[1], json={"yaml": "#" * size})
    assert answer.status_code == 413


def test_other_routes_keep_the_app_wide_limit(client, make_user):
    headers = bearer(make_user("admin")[1])
    body = {"name": "x" * (70 * 1024), "region_code": "750000000", "centre_type": "outpatient"}
    assert client.post("/api/v1/clinics", headers=headers, json=body).status_code == 413


# Audit.


def _entries(session, since: int) -> list[tuple]:
    rows = session.execute(
        select(AuditEntry).where(AuditEntry.idx >= since).order_by(AuditEntry.idx)
    ).scalars()
    return [(e.action, e.object_type, e.object_id, e.actor_id, e.outcome) for e in rows]


def _next_idx(session) -> int:
    from sqlalchemy import func

    last = session.execute(select(func.max(AuditEntry.idx))).scalar()
    return 0 if last is None else last + 1


def test_every_lifecycle_step_is_audited(client, session, doc, author, reviewer):
    start = _next_idx(session)
    a, r = author[0].id, reviewer[0].id
    draft(client, author[1], doc)
    ok(client.put(url(1), headers=author[1], json={"document": doc}))
    ok(client.post(url(1, "approve"), headers=reviewer[1]))
    ok(client.post(url(1, "publish"), headers=reviewer[1]))
    draft(client, author[1], doc)
    ok(client.post(url(2, "approve"), headers=reviewer[1]))
    ok(client.post(url(2, "publish"), headers=author[1]))
    retire(client, author[1], reviewer[1], n=2)
    v1, v2 = f"{KEY}/1", f"{KEY}/2"
    assert _entries(session, start) == [
        ("protocol.draft", "protocol_version", v1, a, "ok"),
        ("protocol.edit", "protocol_version", v1, a, "ok"),
        ("protocol.approve", "protocol_version", v1, r, "ok"),
        ("protocol.publish", "protocol_version", v1, r, "ok"),
        ("protocol.draft", "protocol_version", v2, a, "ok"),
        ("protocol.approve", "protocol_version", v2, r, "ok"),
        ("protocol.retire", "protocol_version", v1, a, "ok"),
        ("protocol.publish", "protocol_version", v2, a, "ok"),
        ("protocol.retire_request", "protocol_version", v2, a, "ok"),
        ("protocol.retire", "protocol_version", v2, r, "ok"),
    ]


def test_a_refused_self_approval_is_audited(client, session, doc, author):
    draft(client, author[1], doc)
    start = _next_idx(session)
    assert client.post(url(1, "approve"), headers=author[1]).status_code == 403
    assert _entries(session, start) == [
        ("protocol.approve", "protocol_version", f"{KEY}/1", author[0].id, "refused:403")
    ]


def test_a_refused_action_changes_nothing(client, session, doc, author, reviewer):
    draft(client, author[1], doc)
    start = _next_idx(session)
    assert client.post(url(1, "publish"), headers=reviewer[1]).status_code == 409
    assert _entries(session, start) == []
    assert ok(client.get(url(1), headers=author[1]))["status"] == "draft"


# What the episodes work builds on.


def test_the_active_version_and_its_compiled_rules(client, session, doc, author, active):
    from registry.protocols import CompiledProtocol
    from registry.protocols.lifecycle import active_version, compiled

    version = active_version(KEY)
    assert (version.n, version.status) == (1, "active")
    rules = compiled(version)
    assert isinstance(rules, CompiledProtocol)
    assert compiled(active_version(KEY)) is rules  # immutable versions compile once


def test_a_protocol_without_an_active_version_starts_no_episode(client, doc, author):
    from registry.errors import Conflict
    from registry.protocols.lifecycle import active_version

    draft(client, author[1], doc)
    with pytest.raises(Conflict):
        active_version(KEY)
