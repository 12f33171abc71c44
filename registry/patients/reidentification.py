"""Governed re-identification: request, two custodians' approvals, one reveal before expiry."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from registry import clock
from registry.audit.log import record
from registry.crypto import escrow as hpke_escrow
from registry.crypto.codes import PSEUDONYM, parse_code
from registry.crypto.errors import DecryptionError, InvalidCode
from registry.errors import AuditNote, Conflict, Forbidden, NotFound, ValidationFailed
from registry.extensions import db
from registry.patients.escrow import escrow_aad
from registry.patients.models import (
    Escrow,
    Person,
    Pseudonym,
    ReidentificationApproval,
    ReidentificationRequest,
)
from registry.patients.services import canonical, group_ids

APPROVALS_NEEDED = 2


def _note(action: str, request_id: int | None) -> AuditNote:
    return AuditNote(f"reidentification.{action}", "reidentification", request_id)


def request_reidentification(
    requester_id: int, pseudonym: str, purpose: str, legal_basis: str
) -> ReidentificationRequest:
    """Open a request to reveal the identity behind a pseudonym of any domain."""
    try:
        value = parse_code(pseudonym, PSEUDONYM)
    except InvalidCode as exc:
        raise ValidationFailed(errors={"pseudonym": [exc.rule]}) from None
    person = db.session.execute(
        select(Person)
        .join(Pseudonym, Pseudonym.person_id == Person.id)
        .where(Pseudonym.value == value)
    ).scalar_one_or_none()
    if person is None:
        raise NotFound("no such patient", audit=_note("request", None))
    holder = _escrow_holder(person)
    if holder is None:
        raise Conflict(
            "no identity is held in escrow for this person", audit=_note("request", None)
        )
    hours = current_app.config["REIDENTIFICATION_EXPIRY_HOURS"]
    now = clock.now()
    row = ReidentificationRequest(
        person_id=holder.id,
        requester_id=requester_id,
        purpose=purpose,
        legal_basis=legal_basis,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    db.session.add(row)
    db.session.flush()
    record("reidentification.request", "reidentification", row.id)
    return row


def _escrow_holder(person: Person) -> Person | None:
    """Return the person itself, or a merged one, that has an escrow blob."""
    if _escrow_of(person.id) is not None:
        return person
    for person_id in group_ids(canonical(person)):
        if _escrow_of(person_id) is not None:
            return db.session.get(Person, person_id)
    return None


def _escrow_of(person_id: int) -> Escrow | None:
    return db.session.execute(
        select(Escrow).where(Escrow.person_id == person_id)
    ).scalar_one_or_none()


def _locked_request(request_id: int, action: str) -> ReidentificationRequest:
    """Return the request locked for update, or 404 (audited)."""
    row = db.session.execute(
        select(ReidentificationRequest)
        .where(ReidentificationRequest.id == request_id)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such request", audit=_note(action, None))
    return row


def _check_open(row: ReidentificationRequest, user_id: int, action: str) -> None:
    """Refuse the requester, an expired request and a revealed one (each audited)."""
    if row.requester_id == user_id:
        raise Forbidden("the requester may not approve or reveal", audit=_note(action, row.id))
    if row.revealed_at is not None:
        raise Conflict("this request has been revealed already", audit=_note(action, row.id))
    if row.denied_at is not None:
        raise Conflict("this request has been denied", audit=_note(action, row.id))
    if clock.now() >= row.expires_at:
        raise Conflict("this request has expired", audit=_note(action, row.id))


def approval_count(request_id: int) -> int:
    """Return the number of distinct custodians who approved a request."""
    return db.session.execute(
        select(func.count(func.distinct(ReidentificationApproval.custodian_id))).where(
            ReidentificationApproval.request_id == request_id
        )
    ).scalar_one()


def approve(request_id: int, custodian_id: int) -> ReidentificationRequest:
    """Approve a request as a custodian who is not its requester and has not approved yet."""
    row = _locked_request(request_id, "approve")
    _check_open(row, custodian_id, "approve")
    already = db.session.execute(
        select(ReidentificationApproval).where(
            ReidentificationApproval.request_id == row.id,
            ReidentificationApproval.custodian_id == custodian_id,
        )
    ).scalar_one_or_none()
    if already is not None:
        raise Conflict(
            "you have approved this request already; a second custodian must approve",
            audit=_note("approve", row.id),
        )
    db.session.add(ReidentificationApproval(request_id=row.id, custodian_id=custodian_id))
    db.session.flush()
    record("reidentification.approve", "reidentification", row.id)
    return row


def deny(request_id: int, custodian_id: int) -> ReidentificationRequest:
    """Deny a request as a custodian who is not its requester: it can no longer be revealed."""
    row = _locked_request(request_id, "deny")
    _check_open(row, custodian_id, "deny")
    row.denied_at = clock.now()
    row.denied_by = custodian_id
    db.session.flush()
    record("reidentification.deny", "reidentification", row.id)
    return row


def recent_requests(limit: int) -> list[tuple[ReidentificationRequest, int]]:
    """Return the newest requests first, each with its number of approvals."""
    approvals = (
        select(func.count(func.distinct(ReidentificationApproval.custodian_id)))
        .where(ReidentificationApproval.request_id == ReidentificationRequest.id)
        .scalar_subquery()
    )
    query = (
        select(ReidentificationRequest, approvals)
        .order_by(ReidentificationRequest.id.desc())
        .limit(limit)
    )
    return [(row, count) for row, count in db.session.execute(query)]


def approvers(request_ids: list[int]) -> set[tuple[int, int]]:
    """Return the (request id, custodian id) pairs of approvals of these requests."""
    if not request_ids:
        return set()
    query = select(
        ReidentificationApproval.request_id, ReidentificationApproval.custodian_id
    ).where(ReidentificationApproval.request_id.in_(request_ids))
    return {(request_id, custodian) for request_id, custodian in db.session.execute(query)}


def decode_private_key(text: str) -> bytes:
    """Return private key bytes from base64 text, or raise ValueError (never echoing it)."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None


def reveal(
    request_id: int,
    custodian_id: int,
    private_key: bytes | str,
    actor: tuple[int | None, str | None] | None = None,
) -> dict:
    """Open the escrow once with a private key given for this call only; never store it."""
    row = _locked_request(request_id, "reveal")
    _check_open(row, custodian_id, "reveal")
    if approval_count(row.id) < APPROVALS_NEEDED:
        raise Conflict(
            "two custodians other than the requester must approve first",
            audit=_note("reveal", row.id),
        )
    blob = _escrow_of(row.person_id)
    if blob is None:
        raise Conflict("the identity has been erased", audit=_note("reveal", row.id))
    person = db.session.get(Person, row.person_id)
    try:
        if isinstance(private_key, str):
            private_key = decode_private_key(private_key)
        plaintext = hpke_escrow.open_(private_key, blob.blob, escrow_aad(person))
    except (DecryptionError, ValueError):
        raise ValidationFailed(
            errors={"private_key": ["does not open this escrow"]},
            audit=_note("reveal", row.id),
        ) from None
    row.revealed_at = clock.now()
    row.revealed_by = custodian_id
    db.session.flush()
    record("reidentification.reveal", "reidentification", row.id, actor=actor)
    return json.loads(plaintext)
