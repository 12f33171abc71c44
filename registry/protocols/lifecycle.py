"""Protocol lifecycle services: draft, edit, approve, publish, retire; flush, never commit."""

import copy
import hashlib
import json
from typing import Any

from flask import current_app
from sqlalchemy import select

from registry import clock
from registry.audit.log import record
from registry.errors import AuditNote, Conflict, Forbidden, NotFound, ValidationFailed
from registry.extensions import db
from registry.protocols.compiled import CompiledProtocol, compile_protocol
from registry.protocols.diff import diff_documents
from registry.protocols.document import (
    DocumentError,
    Problem,
    load_document,
    shape_problem,
    validate_document,
)
from registry.protocols.fhir import to_plan_definition
from registry.protocols.models import Protocol, ProtocolVersion, Status
from registry.protocols.shipped import shipped_documents

# Statuses that clinicians may read: what episodes run, or ran, under.
PUBLISHED = (Status.ACTIVE, Status.RETIRED)
OBJECT = "protocol_version"
# Where problems with the document as a whole (size, syntax, nesting) are reported.
WHOLE = "document"


def document_hash(doc: dict) -> str:
    """Return the SHA-256 (hex) of a document's canonical JSON without version and status."""
    # Both are the server's bookkeeping: an unchanged copy of a version hashes the same.
    content = {k: v for k, v in doc.items() if k not in ("version", "status")}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _limits() -> dict[str, int]:
    config = current_app.config
    return {
        "max_bytes": config["PROTOCOL_MAX_BYTES"],
        "max_depth": config["PROTOCOL_MAX_DEPTH"],
        "max_nodes": config["PROTOCOL_MAX_NODES"],
    }


def _failed(problems: list[Problem]) -> ValidationFailed:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(problem.path or WHOLE, []).append(problem.message)
    return ValidationFailed("the protocol document is not valid", errors=errors)


def read_submission(document: Any = None, yaml_text: str | None = None) -> dict:
    """Turn a submitted document (a parsed JSON object or YAML text) into a dict within limits."""
    limits = _limits()
    if yaml_text is not None:
        data, fmt = yaml_text, "yaml"
    else:
        # Bound the shape before serialising: a deep object would make json.dumps recurse.
        problem = shape_problem(document, limits["max_depth"], limits["max_nodes"])
        if problem is not None:
            raise _failed([problem])
        try:
            data, fmt = json.dumps(document, ensure_ascii=False, allow_nan=False), "json"
        except ValueError:
            raise _failed([Problem("", "NaN and Infinity are not numbers")])
    try:
        return load_document(data, fmt, **limits)
    except DocumentError as exc:
        raise _failed(exc.problems)


def _validated(doc: dict) -> dict:
    problems = validate_document(doc)
    if problems:
        raise _failed(problems)
    return doc


def _protocol(key: str, *, lock: bool = False) -> Protocol:
    query = select(Protocol).where(Protocol.key == key)
    if lock:  # serialise lifecycle changes of one protocol (PostgreSQL; SQLite locks the DB)
        query = query.with_for_update()
    found = db.session.execute(query).scalar_one_or_none()
    if found is None:
        raise NotFound("no such protocol")
    return found


def _version(key: str, n: int, *, lock: bool = False) -> ProtocolVersion:
    protocol = _protocol(key, lock=lock)
    query = select(ProtocolVersion).where(
        ProtocolVersion.protocol_id == protocol.id, ProtocolVersion.n == n
    )
    if lock:
        query = query.execution_options(populate_existing=True)
    found = db.session.execute(query).scalar_one_or_none()
    if found is None:
        raise NotFound("no such protocol version")
    return found


def get_version(key: str, n: int, *, include_unpublished: bool = True) -> ProtocolVersion:
    """Return one version; drafts and approved versions only to those who may see them."""
    version = _version(key, n)
    if not include_unpublished and version.status not in PUBLISHED:
        raise NotFound("no such protocol version")
    return version


def list_protocols(*, include_unpublished: bool = True) -> list[dict[str, Any]]:
    """Return every protocol with its versions (published ones only, unless asked)."""
    protocols = db.session.execute(select(Protocol).order_by(Protocol.key)).scalars()
    return [
        {
            "key": protocol.key,
            "title": protocol.title,
            "versions": [
                v for v in protocol.versions if include_unpublished or v.status in PUBLISHED
            ],
        }
        for protocol in protocols
    ]


def _active(protocol: Protocol) -> ProtocolVersion | None:
    return db.session.execute(
        select(ProtocolVersion).where(
            ProtocolVersion.protocol_id == protocol.id,
            ProtocolVersion.status == Status.ACTIVE,
        )
    ).scalar_one_or_none()


def _next_number(protocol: Protocol) -> int:
    numbers = db.session.execute(
        select(ProtocolVersion.n).where(ProtocolVersion.protocol_id == protocol.id)
    ).scalars()
    return max(numbers, default=0) + 1


def _copied(protocol: Protocol, copy_from: int | str) -> dict:
    if copy_from == "active":
        source = _active(protocol)
        if source is None:
            raise Conflict("the protocol has no active version to copy")
    else:
        source = _version(protocol.key, int(copy_from))
    return copy.deepcopy(source.document)


def _as_draft(doc: dict, n: int) -> dict:
    """Number the document as version n in draft; the server owns both fields."""
    return {**doc, "version": n, "status": Status.DRAFT.value}


def create_draft(
    author_id: int,
    document: dict | None = None,
    *,
    key: str | None = None,
    copy_from: int | str | None = None,
) -> ProtocolVersion:
    """Create a draft: version 1 of a new key, or the next version of a key (from a copy)."""
    if document is None:
        if key is None or copy_from is None:
            raise ValidationFailed(errors={WHOLE: ["give a document, or a key to copy from"]})
        document = _copied(_protocol(key, lock=True), copy_from)
    doc_key = document.get("key")
    if key is not None and doc_key != key:
        raise ValidationFailed(errors={"/key": ["must equal the key the draft is created for"]})
    if not isinstance(doc_key, str):
        _validated(_as_draft(document, 1))  # reports the missing key with every other problem
        raise ValidationFailed(errors={"/key": ["must be a protocol key"]})
    protocol = db.session.execute(
        select(Protocol).where(Protocol.key == doc_key).with_for_update()
    ).scalar_one_or_none()
    n = 1 if protocol is None else _next_number(protocol)
    doc = _validated(_as_draft(document, n))
    if protocol is None:
        protocol = Protocol(key=doc_key, title=doc["title"])
        db.session.add(protocol)
        db.session.flush()
    version = ProtocolVersion(
        protocol=protocol,
        n=n,
        status=Status.DRAFT,
        document=doc,
        document_hash=document_hash(doc),
        author_id=author_id,
    )
    db.session.add(version)
    db.session.flush()
    record("protocol.draft", OBJECT, version.label)
    return version


def edit_draft(key: str, n: int, editor_id: int, document: dict) -> ProtocolVersion:
    """Replace the document of a draft; only its author may, and only while it is a draft."""
    version = _version(key, n, lock=True)
    if version.status != Status.DRAFT:
        raise Conflict(f"a version that is {version.status} cannot be edited; draft a new one")
    if version.author_id != editor_id:
        # The approver must not have written any of it, so a draft has one writer.
        raise Forbidden(
            "only the author may edit a draft",
            audit=AuditNote("protocol.edit", OBJECT, version.label),
        )
    if document.get("key") != key:
        raise ValidationFailed(errors={"/key": ["must equal the key of the version edited"]})
    doc = _validated(_as_draft(document, n))
    version.document = doc
    version.document_hash = document_hash(doc)
    db.session.flush()
    record("protocol.edit", OBJECT, version.label)
    return version


def approve(key: str, n: int, approver_id: int) -> ProtocolVersion:
    """Approve a draft: a second protocol administrator, never its author."""
    version = _version(key, n, lock=True)
    if version.status != Status.DRAFT:
        raise Conflict(f"only a draft can be approved; this version is {version.status}")
    if version.author_id == approver_id:
        raise Forbidden(
            "a draft must be approved by another protocol administrator than its author",
            audit=AuditNote("protocol.approve", OBJECT, version.label),
        )
    version.status = Status.APPROVED
    version.approved_by_id = approver_id
    version.approved_at = clock.now()
    db.session.flush()
    record("protocol.approve", OBJECT, version.label)
    return version


def _retire(version: ProtocolVersion, by: int | None = None) -> None:
    version.status = Status.RETIRED
    version.retired_at = clock.now()
    version.retired_by_id = by
    db.session.flush()
    record("protocol.retire", OBJECT, version.label)


def publish(key: str, n: int) -> ProtocolVersion:
    """Make an approved version active, retiring the version active before it."""
    version = _version(key, n, lock=True)
    if version.status != Status.APPROVED:
        raise Conflict(f"only an approved version can be published; this one is {version.status}")
    previous = _active(version.protocol)
    if previous is not None and previous.n > version.n:
        raise Conflict("a newer version of this protocol is active")
    if previous is not None:
        _retire(previous)  # flushed first: the partial unique index allows one active row
    version.status = Status.ACTIVE
    version.published_at = clock.now()
    version.protocol.title = version.document["title"]
    db.session.flush()
    record("protocol.publish", OBJECT, version.label)
    return version


def request_retirement(key: str, n: int, requester_id: int) -> ProtocolVersion:
    """Ask for the active version to be retired; another administrator then retires it."""
    version = _version(key, n, lock=True)
    if version.status != Status.ACTIVE:
        raise Conflict(f"only the active version can be retired; this one is {version.status}")
    if version.retire_requested_by_id is None:
        version.retire_requested_by_id = requester_id
        version.retire_requested_at = clock.now()
        db.session.flush()
        record("protocol.retire_request", OBJECT, version.label)
    return version


def retire(
    key: str, n: int, retirer_id: int, *, open_episodes: int, confirmed: bool
) -> ProtocolVersion:
    """Retire the active version on a second administrator's word; episodes pinned keep it.

    Retiring it leaves the protocol without an active version, so no new episode can open
    under it: while `open_episodes` (of any version of the key) shows the protocol in use,
    that needs the retirer's explicit confirmation.
    """
    version = _version(key, n, lock=True)
    if version.status != Status.ACTIVE:
        raise Conflict(f"only the active version can be retired; this one is {version.status}")
    if version.retire_requested_by_id is None:
        raise Conflict(
            "request the retirement first; a second protocol administrator then retires",
            audit=AuditNote("protocol.retire", OBJECT, version.label),
        )
    if version.retire_requested_by_id == retirer_id:
        raise Forbidden(
            "a retirement must be confirmed by another protocol administrator than its requester",
            audit=AuditNote("protocol.retire", OBJECT, version.label),
        )
    if open_episodes and not confirmed:
        raise Conflict(
            "this is the protocol's only active version and the protocol is in use: once it is "
            "retired no new episode can open under it until a version is published; confirm "
            "with confirm_no_active_version",
            audit=AuditNote("protocol.retire", OBJECT, version.label),
            extra={"open_episodes": open_episodes},
        )
    _retire(version, by=retirer_id)
    return version


def active_version(key: str) -> ProtocolVersion:
    """Return the active version of a protocol, which new episodes are pinned to."""
    version = _active(_protocol(key))
    if version is None:
        raise Conflict("the protocol has no active version")
    return version


# Compiled rules of versions that can no longer change, by (key, n, document hash).
_COMPILED: dict[tuple[str, int, str], CompiledProtocol] = {}
_COMPILED_LIMIT = 64


def compiled(version: ProtocolVersion) -> CompiledProtocol:
    """Return the rule engine's compiled form of a version, cached once it is immutable."""
    if version.status == Status.DRAFT:
        return compile_protocol(version.served_document())
    cache_key = (version.key, version.n, version.document_hash)
    found = _COMPILED.get(cache_key)
    if found is None:
        if len(_COMPILED) >= _COMPILED_LIMIT:
            _COMPILED.clear()
        found = _COMPILED[cache_key] = compile_protocol(version.served_document())
    return found


def diff_versions(key: str, old: int, new: int) -> dict[str, Any]:
    """Return the rule-by-rule diff between two versions of a protocol."""
    before, after = _version(key, old), _version(key, new)
    return diff_documents(before.served_document(), after.served_document())


def plan_definition(version: ProtocolVersion) -> dict[str, Any]:
    """Return the version as a FHIR R4 PlanDefinition."""
    return to_plan_definition(version.served_document(), current_app.config["FHIR_BASE_URL"])


def install_shipped_protocols() -> list[ProtocolVersion]:
    """Install each shipped protocol whose key is new as its active version 1."""
    existing = set(db.session.execute(select(Protocol.key)).scalars())
    installed = []
    now = clock.now()
    for key, doc in shipped_documents().items():
        if key in existing:
            continue
        protocol = Protocol(key=key, title=doc["title"])
        doc = {**doc, "version": 1, "status": Status.ACTIVE.value}
        version = ProtocolVersion(
            protocol=protocol,
            n=1,
            status=Status.ACTIVE,
            document=doc,
            document_hash=document_hash(doc),
            approved_at=now,
            published_at=now,
        )
        db.session.add_all([protocol, version])
        db.session.flush()
        record("protocol.install", OBJECT, version.label, actor=(None, "system"))
        installed.append(version)
    return installed
