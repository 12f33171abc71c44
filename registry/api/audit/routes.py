"""Read the audit log: signed checkpoints, proofs and entries (operators only)."""

from sqlalchemy import select

from registry import keyring
from registry.api.audit.schemas import (
    CheckpointSchema,
    ConsistencyProofSchema,
    ConsistencyQuerySchema,
    EntryPageQuerySchema,
    EntryPageSchema,
    InclusionProofSchema,
    ProofQuerySchema,
)
from registry.api.blueprint import ApiBlueprint
from registry.audit.checkpoints import (
    checkpoint_message,
    consistency_proof,
    inclusion_proof,
    latest_checkpoint,
)
from registry.audit.models import AuditCheckpoint, AuditEntry
from registry.auth.models import Role
from registry.database import read_only
from registry.errors import NotFound
from registry.extensions import db

blp = ApiBlueprint(
    "audit", __name__, url_prefix="/api/v1/audit", description="Tamper-evident audit log"
)


def _checkpoint_view(checkpoint: AuditCheckpoint) -> dict:
    """Describe a checkpoint with everything an outside verifier needs."""
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "signed_at": checkpoint.signed_at,
        "key_id": f"audit_signing:v{checkpoint.key_version}",
        "public_key": keyring().verify_key(checkpoint.key_version),
        "signature": checkpoint.signature,
        "signed_message": checkpoint_message(checkpoint.tree_size, checkpoint.root_hash).decode(),
    }


@blp.route("/checkpoint", methods=["GET"])
@read_only
@blp.auth(Role.ADMIN)
@blp.response(200, CheckpointSchema)
@blp.alt_response(404, response="NOT_FOUND")
def checkpoint():
    """Return the newest signed checkpoint."""
    latest = latest_checkpoint()
    if latest is None:
        raise NotFound("no checkpoint has been signed yet")
    return _checkpoint_view(latest)


@blp.route("/proof", methods=["GET"])
@read_only
@blp.auth(Role.ADMIN)
@blp.arguments(ProofQuerySchema, location="query")
@blp.response(200, InclusionProofSchema)
@blp.alt_response(404, response="NOT_FOUND")
def proof(query):
    """Prove that an entry is in a signed checkpoint (default: the newest)."""
    found = inclusion_proof(query["index"], query.get("tree_size"))
    return {
        "index": found.entry.idx,
        "tree_size": found.checkpoint.tree_size,
        "leaf_hash": found.entry.leaf_hash,
        "audit_path": found.path,
        "entry": found.entry,
        "checkpoint": _checkpoint_view(found.checkpoint),
    }


@blp.route("/consistency", methods=["GET"])
@read_only
@blp.auth(Role.ADMIN)
@blp.arguments(ConsistencyQuerySchema, location="query")
@blp.response(200, ConsistencyProofSchema)
def consistency(query):
    """Prove that the log of one size is a prefix of the log of a larger size."""
    path = consistency_proof(query["from_size"], query["to_size"])
    return {"from_size": query["from_size"], "to_size": query["to_size"], "proof": path}


@blp.route("/entries", methods=["GET"])
@read_only
@blp.auth(Role.ADMIN)
@blp.arguments(EntryPageQuerySchema, location="query")
@blp.response(200, EntryPageSchema)
def entries(query):
    """List audit entries in order, a page at a time."""
    rows = (
        db.session.execute(
            select(AuditEntry)
            .where(AuditEntry.idx > query["after"])
            .order_by(AuditEntry.idx)
            .limit(query["limit"])
        )
        .scalars()
        .all()
    )
    next_after = rows[-1].idx if len(rows) == query["limit"] else None
    return {"entries": rows, "next_after": next_after}
