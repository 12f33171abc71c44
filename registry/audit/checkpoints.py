"""Sign checkpoints of the log and serve inclusion and consistency proofs."""

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from registry import clock
from registry.audit import merkle
from registry.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from registry.crypto.keyring import Keyring
from registry.errors import NotFound, ValidationFailed
from registry.extensions import db


def checkpoint_message(tree_size: int, root_hash: bytes) -> bytes:
    """Return the exact bytes a checkpoint signature covers."""
    return b"registry audit log v1\n%d\n%s\n" % (tree_size, root_hash.hex().encode())


def head_root() -> tuple[int, bytes]:
    """Return the current size and root of the log from its compact range."""
    head = db.session.get(AuditHead, 1)
    if head is None or head.size == 0:
        return 0, merkle.root_from_leaf_hashes([])
    frontier = merkle.CompactRange.from_hashes(head.size, [bytes.fromhex(h) for h in head.frontier])
    return head.size, frontier.root()


def latest_checkpoint() -> AuditCheckpoint | None:
    """Return the newest checkpoint."""
    return db.session.execute(
        select(AuditCheckpoint)
        .order_by(AuditCheckpoint.tree_size.desc(), AuditCheckpoint.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def sign_checkpoint(keyring: Keyring, *, force: bool = False) -> AuditCheckpoint | None:
    """Sign the current head if the log grew since the last checkpoint (or when forced)."""
    size, root = head_root()
    latest = latest_checkpoint()
    if latest is not None and latest.tree_size >= size and not force:
        return None
    key, private = keyring.signing_key()
    checkpoint = AuditCheckpoint(
        tree_size=size,
        root_hash=root,
        key_version=key.version,
        signature=private.sign(checkpoint_message(size, root)),
        signed_at=clock.now(),
    )
    db.session.add(checkpoint)
    db.session.flush()
    return checkpoint


def signature_valid(keyring: Keyring, checkpoint: AuditCheckpoint) -> bool:
    """Check a checkpoint's Ed25519 signature with the key version it names."""
    try:
        public = Ed25519PublicKey.from_public_bytes(keyring.verify_key(checkpoint.key_version))
        public.verify(
            checkpoint.signature, checkpoint_message(checkpoint.tree_size, checkpoint.root_hash)
        )
    except (InvalidSignature, Exception):
        return False
    return True


def leaf_hashes(size: int) -> list[bytes]:
    """Return the stored leaf hashes of the first `size` entries."""
    rows = (
        db.session.execute(
            select(AuditEntry.leaf_hash).where(AuditEntry.idx < size).order_by(AuditEntry.idx)
        )
        .scalars()
        .all()
    )
    return list(rows)


@dataclass(frozen=True)
class InclusionProof:
    """Proof that one entry is in the tree of a signed checkpoint."""

    entry: AuditEntry
    checkpoint: AuditCheckpoint
    path: list[bytes]


def inclusion_proof(index: int, tree_size: int | None = None) -> InclusionProof:
    """Prove that entry `index` is in the checkpoint of `tree_size` (default: the latest)."""
    query = select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    if tree_size is not None:
        query = query.where(AuditCheckpoint.tree_size == tree_size)
    else:
        query = query.order_by(None).order_by(
            AuditCheckpoint.tree_size.desc(), AuditCheckpoint.id.desc()
        )
    checkpoint = db.session.execute(query).scalar_one_or_none()
    if checkpoint is None:
        raise NotFound("no signed checkpoint of that size")
    if not 0 <= index < checkpoint.tree_size:
        raise ValidationFailed(errors={"index": ["must be below the checkpoint's tree size"]})
    entry = db.session.get(AuditEntry, index)
    if entry is None:
        raise NotFound("no such entry")
    path = merkle.inclusion_proof(index, checkpoint.tree_size, leaf_hashes(checkpoint.tree_size))
    return InclusionProof(entry, checkpoint, path)


def consistency_proof(old_size: int, new_size: int) -> list[bytes]:
    """Prove that the tree of old_size is a prefix of the tree of new_size."""
    current, _ = head_root()
    if not 0 < old_size <= new_size <= current:
        raise ValidationFailed(errors={"from": ["need 0 < from <= to <= log size"]})
    return merkle.consistency_proof(old_size, new_size, leaf_hashes(new_size))
