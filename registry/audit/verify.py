"""Recompute the whole log and check it against its head and every signed checkpoint."""

from dataclasses import dataclass

from sqlalchemy import select

from registry.audit import merkle
from registry.audit.checkpoints import head_root, signature_valid
from registry.audit.log import entry_bytes
from registry.audit.models import AuditCheckpoint, AuditEntry
from registry.crypto.keyring import Keyring
from registry.extensions import db


@dataclass(frozen=True)
class Verdict:
    """The outcome of a verification: ok, or the first bad index and why."""

    ok: bool
    entries: int
    checkpoints: int
    bad_index: int | None = None
    reason: str = ""


def verify_log(keyring: Keyring) -> Verdict:
    """Verify every entry, the head and every checkpoint; stop at the first fault."""
    checkpoints = (
        db.session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size))
        .scalars()
        .all()
    )
    for checkpoint in checkpoints:
        if not signature_valid(keyring, checkpoint):
            return Verdict(
                False, 0, 0, checkpoint.tree_size, f"checkpoint {checkpoint.id} has a bad signature"
            )
    pending = list(checkpoints)
    tree = merkle.CompactRange()
    expected = 0
    rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.idx)).scalars()
    for entry in rows.yield_per(5000):
        if entry.idx != expected:
            return Verdict(False, expected, 0, expected, "entry missing (deleted)")
        recomputed = merkle.leaf_hash(entry_bytes(entry))
        if recomputed != entry.leaf_hash:
            return Verdict(False, expected, 0, expected, "entry content altered")
        tree.append(recomputed)
        expected += 1
        while pending and pending[0].tree_size == expected:
            if tree.root() != pending.pop(0).root_hash:
                return Verdict(
                    False,
                    expected,
                    0,
                    _first_of_range(checkpoints, expected),
                    f"root differs from the signed checkpoint of size {expected}",
                )
    if pending:
        return Verdict(
            False,
            expected,
            0,
            expected,
            f"log truncated: a checkpoint covers {pending[-1].tree_size} entries, "
            f"the log has {expected}",
        )
    size, root = head_root()
    if size != expected or (size and root != tree.root()):
        return Verdict(
            False,
            expected,
            0,
            min(size, expected),
            f"head records {size} entries, the log has {expected}",
        )
    return Verdict(True, expected, len(checkpoints))


def _first_of_range(checkpoints: list[AuditCheckpoint], size: int) -> int:
    """Return the first index not covered by an earlier good checkpoint than `size`."""
    earlier = [c.tree_size for c in checkpoints if c.tree_size < size]
    return max(earlier, default=0)
