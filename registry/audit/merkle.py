"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and a compact range (pure: no Flask, no DB).

Sizes and indices are plain ints; hashes are 32-byte ``bytes``. Generators and verifiers raise
``ValueError`` for out-of-range indices or sizes (a caller error), while verifiers return
``False`` for any proof, leaf or root that does not check out (untrusted input).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()

# Domain-separation prefixes (RFC 6962 §2.1): a leaf can never be passed off as an inner node.
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 hash of one leaf entry."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of an inner node from its two children."""
    return sha256(_NODE_PREFIX + left + right).digest()


def _is_hash(value: object) -> bool:
    """Tell whether value looks like a SHA-256 digest."""
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _check_hashes(hashes: Iterable[bytes], what: str) -> None:
    """Raise ValueError unless every item is a 32-byte hash."""
    for i, h in enumerate(hashes):
        if not _is_hash(h):
            raise ValueError(f"{what}[{i}] is not a {HASH_SIZE}-byte hash")


def _check_size(size: int, available: int) -> None:
    """Raise ValueError unless 0 <= size <= available leaves."""
    if size < 0:
        raise ValueError(f"tree size must be >= 0, got {size}")
    if size > available:
        raise ValueError(f"tree size {size} exceeds the {available} leaf hashes given")


def _split(n: int) -> int:
    """Return the largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _fold_levels(level: list[bytes]) -> bytes:
    """Return the MTH of a non-empty level by hashing pairs bottom-up."""
    # Promoting an unpaired last node unchanged yields exactly the RFC 6962 shape, because the
    # left split is always a perfect subtree whose pairs line up with the level boundaries.
    while len(level) > 1:
        paired = [
            sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (RFC 6962 §2.1) over the given leaf hashes."""
    if not hashes:
        return EMPTY_ROOT
    _check_hashes(hashes, "hashes")
    return _fold_levels(list(hashes))


def _range_root(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """Return the MTH of hashes[lo:hi] (non-empty, already validated)."""
    return _fold_levels(list(hashes[lo:hi]))


class CompactRange:
    """Frontier of a growing log: the roots of its perfect subtrees, largest first."""

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        """Start an empty range."""
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """Return the number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash, merging completed subtrees."""
        if not _is_hash(leaf_hash):
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        merged = leaf_hash
        # Each trailing 1-bit of the old size is a perfect subtree the new leaf now completes.
        carry = self._size
        while carry & 1:
            merged = node_hash(self._hashes.pop(), merged)
            carry >>= 1
        self._hashes.append(merged)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Return the Merkle tree hash of all leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            root = node_hash(h, root)
        return root

    def to_hashes(self) -> list[bytes]:
        """Return the frontier hashes for storage (pair them with ``size``)."""
        return list(self._hashes)

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild a range from a stored size and its frontier hashes."""
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        expected = size.bit_count()
        if len(hashes) != expected:
            raise ValueError(f"a range of size {size} has {expected} hashes, got {len(hashes)}")
        _check_hashes(hashes, "hashes")
        rng = cls()
        rng._size = size
        rng._hashes = list(hashes)
        return rng

    def __eq__(self, other: object) -> bool:
        """Compare size and frontier."""
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __repr__(self) -> str:
        """Show the size and root prefix for debugging."""
        return f"CompactRange(size={self._size}, root={self.root().hex()[:16]}…)"


def inclusion_proof(index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the audit path (RFC 6962 §2.1.1) for leaf index in the first size leaves."""
    _check_size(size, len(leaf_hashes))
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    _check_hashes(leaf_hashes[:size], "leaf_hashes")
    siblings: list[bytes] = []
    lo, hi = 0, size
    # Walk down from the root; the sibling of each chosen half is one proof node.
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            siblings.append(_range_root(leaf_hashes, mid, hi))
            hi = mid
        else:
            siblings.append(_range_root(leaf_hashes, lo, mid))
            lo = mid
    siblings.reverse()  # proofs list nodes leaf-side first
    return siblings


def consistency_proof(old_size: int, new_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the consistency proof (RFC 6962 §2.1.2) between two tree sizes."""
    _check_size(new_size, len(leaf_hashes))
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} must be within 0..{new_size}")
    _check_hashes(leaf_hashes[:new_size], "leaf_hashes")
    if old_size in (0, new_size):
        return []
    tail: list[bytes] = []
    lo, hi, m = 0, new_size, old_size
    old_is_whole_subtree = True  # the "b" flag of SUBPROOF: old root is already known
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            tail.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            tail.append(_range_root(leaf_hashes, lo, lo + k))
            lo += k
            m -= k
            old_is_whole_subtree = False
    head = [] if old_is_whole_subtree else [_range_root(leaf_hashes, lo, hi)]
    return head + tail[::-1]


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Tell whether proof shows leaf_hash at index in the tree of size with root (RFC 9162)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in proof)):
        return False
    # RFC 9162 §2.1.3.2: fn walks the leaf's path, sn the right edge of the tree.
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False  # proof is longer than the path
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right edge a node may have no sibling at some levels: skip them.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Tell whether proof shows the tree with old_root is a prefix of new_root (RFC 9162)."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} must be within 0..{new_size}")
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
        return False
    if old_size == 0 and old_root != EMPTY_ROOT:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # every tree extends the empty one
    return _verify_consistency_path(old_size, new_size, old_root, new_root, list(proof))


def _verify_consistency_path(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: list[bytes]
) -> bool:
    """Run RFC 9162 §2.1.4.2 for 0 < old_size < new_size."""
    if not path:
        return False
    # A power-of-two old tree is a whole subtree of the new one, so its root starts the path.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False  # proof is longer than the path
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
