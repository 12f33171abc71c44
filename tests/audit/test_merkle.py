"""Tests for registry.audit.merkle: published vectors, an RFC oracle and properties."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# --- Published RFC 6962 test vectors ------------------------------------------------------------
# Copied from github.com/transparency-dev/merkle (formerly google/trillian merkle/testonly):
# testonly/constants.go (LeafInputs, NodeHashes, RootHashes, CompactTrees) and
# proof/verify_test.go (inclusionProofs, consistencyProofs). The Go inclusion vectors number
# leaves from 1; they are converted to 0-based indices below.

LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# NodeHashes()[level][index]: level 0 are the leaf hashes.
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# RootHashes(): index = tree size, from the empty tree to 8 leaves.
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# CompactTrees(): frontier per tree size, as (level, index) into NODE_HASHES.
COMPACT_TREES = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]

# (0-based leaf index, tree size, proof)
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# From proof/verify_test.go: an arbitrary well-formed hash that is no node of the test tree.
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

VECTOR_LEAVES = [leaf_hash(d) for d in LEAF_INPUTS]


def _hexes(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _root(size: int) -> bytes:
    return bytes.fromhex(ROOTS[size])


def _flip(value: bytes, pos: int, mask: int = 0x01) -> bytes:
    """Return value with one byte xor-ed by mask."""
    out = bytearray(value)
    out[pos] ^= mask
    return bytes(out)


def _rejected(verify: Callable[..., bool], *args: object) -> bool:
    """Tell whether a verifier refuses its input, by returning False or raising ValueError."""
    try:
        return verify(*args) is False
    except ValueError:
        return True


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


# --- Independent oracle: a literal transcription of RFC 6962 §2.1 (recursive, slicing) --------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(d: list[bytes]) -> bytes:
    if not d:
        return sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*_path(m, d[:k]), _mth(d[k:])]
    return [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*_subproof(m, d[:k], b), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


# --- Hashing primitives --------------------------------------------------------------------------


def test_leaf_and_node_hash_use_rfc6962_prefixes():
    assert leaf_hash(b"abc") == sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    assert sha256(b"").digest() == EMPTY_ROOT


def test_leaf_hashes_match_published_level_zero():
    assert _hexes(NODE_HASHES[0]) == VECTOR_LEAVES


def test_node_hashes_match_published_levels():
    level = VECTOR_LEAVES
    for expected in NODE_HASHES[1:]:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        assert level == _hexes(expected)


# --- Roots ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_root_matches_published_vector(size):
    assert root_from_leaf_hashes(VECTOR_LEAVES[:size]) == _root(size)


def test_empty_root_is_sha256_of_nothing():
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == _root(0)


@pytest.mark.parametrize("size", [*range(1, 70), 127, 128, 129, 255, 256, 257, 1000])
def test_root_matches_rfc_oracle(size):
    leaves = _leaves(size)
    assert root_from_leaf_hashes(leaves) == _mth(leaves)


def test_root_rejects_malformed_leaf_hash():
    leaves = _leaves(3)
    leaves[1] = leaves[1][:31]
    with pytest.raises(ValueError, match=r"hashes\[1\]"):
        root_from_leaf_hashes(leaves)


def test_root_accepts_a_tuple():
    leaves = tuple(_leaves(5))
    assert root_from_leaf_hashes(leaves) == _mth(list(leaves))


def test_root_of_large_tree_matches_compact_range():
    # A size just past a power of two exercises the longest right spine.
    leaves = _leaves((1 << 16) + 3)
    rng = CompactRange()
    rng.extend(leaves)
    assert root_from_leaf_hashes(leaves) == rng.root()


# --- CompactRange --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(len(COMPACT_TREES)))
def test_compact_range_matches_published_frontier(size):
    rng = CompactRange()
    rng.extend(VECTOR_LEAVES[:size])
    expected = [bytes.fromhex(NODE_HASHES[lvl][i]) for lvl, i in COMPACT_TREES[size]]
    assert rng.size == size
    assert rng.to_hashes() == expected
    assert rng.root() == _root(size)


def test_compact_range_round_trips_and_keeps_growing():
    leaves = _leaves(40)
    rng = CompactRange()
    rng.extend(leaves[:23])
    restored = CompactRange.from_hashes(rng.size, rng.to_hashes())
    assert restored == rng
    restored.extend(leaves[23:])
    assert restored.root() == root_from_leaf_hashes(leaves)


def test_compact_range_to_hashes_is_a_copy():
    rng = CompactRange()
    rng.append(VECTOR_LEAVES[0])
    rng.to_hashes().clear()
    assert rng.root() == _root(1)


@pytest.mark.parametrize(
    ("size", "count", "message"),
    [(-1, 0, "size must be >= 0"), (3, 1, "has 2 hashes"), (4, 2, "has 1 hashes")],
)
def test_compact_range_from_hashes_rejects_bad_shape(size, count, message):
    with pytest.raises(ValueError, match=message):
        CompactRange.from_hashes(size, [SOME_HASH] * count)


def test_compact_range_from_hashes_rejects_short_hash():
    with pytest.raises(ValueError, match=r"hashes\[1\]"):
        CompactRange.from_hashes(3, [SOME_HASH, b"short"])


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33, "a" * 32])
def test_compact_range_append_rejects_non_hash(bad):
    rng = CompactRange()
    with pytest.raises(ValueError, match="32 bytes"):
        rng.append(bad)
    assert rng.size == 0


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=300))
def test_compact_range_root_equals_full_root_for_every_prefix(n):
    leaves = _leaves(n)
    rng = CompactRange()
    assert rng.root() == EMPTY_ROOT
    for i, h in enumerate(leaves, start=1):
        rng.append(h)
        assert rng.size == i
        assert rng.root() == root_from_leaf_hashes(leaves[:i])
        assert CompactRange.from_hashes(i, rng.to_hashes()) == rng


# --- Inclusion proofs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_proof_matches_published_vector(index, size, proof):
    expected = _hexes(proof)
    assert inclusion_proof(index, size, VECTOR_LEAVES) == expected
    assert verify_inclusion(VECTOR_LEAVES[index], index, size, expected, _root(size))


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS[1:])
def test_inclusion_verifier_rejects_published_corruptions(index, size, proof):
    # Probes mirror corruptInclusionProof in transparency-dev/merkle proof/verify_test.go.
    good, root, leaf = _hexes(proof), _root(size), VECTOR_LEAVES[index]
    probes = {
        "index - 1": (leaf, index - 1, size, good, root),
        "index + 1": (leaf, index + 1, size, good, root),
        "index ^ 2": (leaf, index ^ 2, size, good, root),
        "size * 2": (leaf, index, size * 2, good, root),
        "size // 2": (leaf, index, size // 2, good, root),
        "wrong leaf": (leaf_hash(b"WrongLeaf"), index, size, good, root),
        "empty root": (leaf, index, size, good, EMPTY_ROOT),
        "random root": (leaf, index, size, good, SOME_HASH),
        "trailing root": (leaf, index, size, [*good, root], root),
        "trailing garbage": (leaf, index, size, [*good, b""], root),
        "preceding root": (leaf, index, size, [root, *good], root),
        "removed component": (leaf, index, size, good[:-1], root),
        "inserted component": (leaf, index, size, [good[0], SOME_HASH, *good[1:]], root),
    }
    for i in range(len(good)):
        probes[f"proof[{i}] bit 3"] = (
            leaf,
            index,
            size,
            [*good[:i], _flip(good[i], 0, 8), *good[i + 1 :]],
            root,
        )
    accepted = [name for name, args in probes.items() if not _rejected(verify_inclusion, *args)]
    assert accepted == []


@pytest.mark.parametrize("size", range(1, 65))
def test_inclusion_proof_matches_rfc_oracle_for_every_index(size):
    leaves = _leaves(size)
    root = _mth(leaves)
    for index in range(size):
        proof = inclusion_proof(index, size, leaves)
        assert proof == _path(index, leaves)
        assert verify_inclusion(leaves[index], index, size, proof, root)


def test_inclusion_proof_for_prefix_of_longer_log():
    leaves = _leaves(20)
    proof = inclusion_proof(4, 13, leaves)
    assert verify_inclusion(leaves[4], 4, 13, proof, _mth(leaves[:13]))
    assert not verify_inclusion(leaves[4], 4, 20, proof, _mth(leaves))


def test_single_leaf_tree_needs_empty_proof_and_equal_hashes():
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], SOME_HASH)
    assert not verify_inclusion(b"", 0, 1, [], b"")  # wrong hash size even though equal


@pytest.mark.parametrize(
    ("index", "size", "available", "message"),
    [
        (0, 0, 0, "index 0 out of range for tree size 0"),
        (-1, 3, 3, "index -1 out of range"),
        (3, 3, 3, "index 3 out of range"),
        (7, 3, 8, "index 7 out of range"),
        (0, 4, 3, "tree size 4 exceeds the 3 leaf hashes"),
        (0, -1, 3, "tree size must be >= 0"),
    ],
)
def test_inclusion_proof_rejects_out_of_range(index, size, available, message):
    with pytest.raises(ValueError, match=message):
        inclusion_proof(index, size, _leaves(available))


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (-1, 5), (5, 5)])
def test_verify_inclusion_rejects_out_of_range(index, size):
    with pytest.raises(ValueError, match="out of range"):
        verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


def test_inclusion_proof_rejects_malformed_leaf_hash():
    leaves = _leaves(4)
    leaves[2] = b"not a hash"
    with pytest.raises(ValueError, match=r"leaf_hashes\[2\]"):
        inclusion_proof(0, 4, leaves)


@settings(deadline=None)
@given(st.data())
def test_every_inclusion_proof_verifies_and_any_flipped_byte_fails(data):
    size = data.draw(st.integers(min_value=1, max_value=300), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    leaves = _leaves(size)
    root = root_from_leaf_hashes(leaves)
    proof = inclusion_proof(index, size, leaves)
    assert verify_inclusion(leaves[index], index, size, proof, root)

    pos = data.draw(st.integers(min_value=0, max_value=31), label="pos")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="mask")
    assert not verify_inclusion(_flip(leaves[index], pos, mask), index, size, proof, root)
    assert not verify_inclusion(leaves[index], index, size, proof, _flip(root, pos, mask))
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="node")
        bad = [*proof[:i], _flip(proof[i], pos, mask), *proof[i + 1 :]]
        assert not verify_inclusion(leaves[index], index, size, bad, root)


@settings(deadline=None)
@given(st.integers(min_value=2, max_value=300), st.data())
def test_inclusion_proof_does_not_verify_for_another_index(size, data):
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    other = data.draw(
        st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index), label="other"
    )
    leaves = _leaves(size)
    proof = inclusion_proof(index, size, leaves)
    root = root_from_leaf_hashes(leaves)
    assert not verify_inclusion(leaves[index], other, size, proof, root)
    assert not verify_inclusion(leaves[other], index, size, proof, root)


# --- Consistency proofs --------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_proof_matches_published_vector(old, new, proof):
    expected = _hexes(proof)
    assert consistency_proof(old, new, VECTOR_LEAVES) == expected
    assert verify_consistency(old, new, _root(old), _root(new), expected)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS[1:])
def test_consistency_verifier_rejects_published_corruptions(old, new, proof):
    # Probes mirror corruptConsistencyProof in transparency-dev/merkle proof/verify_test.go.
    good, r1, r2 = _hexes(proof), _root(old), _root(new)
    wrong = leaf_hash(b"WrongRoot")
    probes = {
        "old - 1": (old - 1, new, r1, r2, good),
        "old + 1": (old + 1, new, r1, r2, good),
        "old ^ 2": (old ^ 2, new, r1, r2, good),
        "new * 2": (old, new * 2, r1, r2, good),
        "new // 2": (old, new // 2, r1, r2, good),
        "wrong old root": (old, new, wrong, r2, good),
        "wrong new root": (old, new, r1, wrong, good),
        "swapped roots": (old, new, r2, r1, good),
        "empty proof": (old, new, r1, r2, []),
        "trailing garbage": (old, new, r1, r2, [*good, b""]),
        "trailing old root": (old, new, r1, r2, [*good, r1]),
        "trailing new root": (old, new, r1, r2, [*good, r2]),
        "preceding old root": (old, new, r1, r2, [r1, *good]),
        "preceding new root": (old, new, r1, r2, [r2, *good]),
        "preceding proof[0]": (old, new, r1, r2, [good[0], *good]),
        "truncated proof": (old, new, r1, r2, good[:-1]),
    }
    for i in range(len(good)):
        probes[f"proof[{i}] bit 4"] = (
            old,
            new,
            r1,
            r2,
            [*good[:i], _flip(good[i], 0, 16), *good[i + 1 :]],
        )
    accepted = [name for name, args in probes.items() if not _rejected(verify_consistency, *args)]
    assert accepted == []


@pytest.mark.parametrize("new", range(0, 49))
def test_consistency_proof_matches_rfc_oracle_for_every_old_size(new):
    leaves = _leaves(new)
    new_root = _mth(leaves)
    for old in range(new + 1):
        proof = consistency_proof(old, new, leaves)
        expected = [] if old in (0, new) else _subproof(old, leaves, True)
        assert proof == expected
        assert verify_consistency(old, new, _mth(leaves[:old]), new_root, proof)


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "ok"),
    [
        # Mirrors TestVerifyConsistency edge cases, with the empty tree's root made explicit.
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 0, SOME_HASH, SOME_HASH, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, SOME_HASH, [], True),
        (0, 1, SOME_HASH, SOME_HASH, [], False),
        (0, 1, EMPTY_ROOT, SOME_HASH, [EMPTY_ROOT], False),
        (1, 1, SOME_HASH, SOME_HASH, [], True),
        (1, 1, SOME_HASH, EMPTY_ROOT, [], False),
        (1, 1, SOME_HASH, SOME_HASH, [EMPTY_ROOT], False),
        (1, 2, SOME_HASH, EMPTY_ROOT, [], False),
        (1, 1, b"short", b"short", [], False),
    ],
)
def test_consistency_edge_cases(old, new, old_root, new_root, proof, ok):
    assert verify_consistency(old, new, old_root, new_root, proof) is ok


@pytest.mark.parametrize(("old", "new"), [(1, 0), (2, 1), (-1, 3), (5, 4)])
def test_verify_consistency_rejects_shrinking_sizes(old, new):
    with pytest.raises(ValueError, match="old size"):
        verify_consistency(old, new, SOME_HASH, SOME_HASH, [SOME_HASH])


@pytest.mark.parametrize(
    ("old", "new", "available", "message"),
    [(3, 2, 5, "old size"), (-1, 2, 5, "old size"), (2, 6, 5, "exceeds"), (0, -1, 5, ">= 0")],
)
def test_consistency_proof_rejects_out_of_range(old, new, available, message):
    with pytest.raises(ValueError, match=message):
        consistency_proof(old, new, _leaves(available))


@settings(deadline=None)
@given(st.data())
def test_consistency_proofs_verify_and_reject_tampering(data):
    new = data.draw(st.integers(min_value=0, max_value=300), label="new")
    old = data.draw(st.integers(min_value=0, max_value=new), label="old")
    leaves = _leaves(new)
    old_root = root_from_leaf_hashes(leaves[:old])
    new_root = root_from_leaf_hashes(leaves)
    proof = consistency_proof(old, new, leaves)
    assert verify_consistency(old, new, old_root, new_root, proof)

    pos = data.draw(st.integers(min_value=0, max_value=31), label="pos")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="mask")
    assert not verify_consistency(old, new, _flip(old_root, pos, mask), new_root, proof)
    if old > 0:
        # Any new root is consistent with the empty tree, so only test it for a real prefix.
        assert not verify_consistency(old, new, old_root, _flip(new_root, pos, mask), proof)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="node")
        bad = [*proof[:i], _flip(proof[i], pos, mask), *proof[i + 1 :]]
        assert not verify_consistency(old, new, old_root, new_root, bad)


@settings(deadline=None)
@given(st.data())
def test_consistency_fails_when_history_is_rewritten(data):
    new = data.draw(st.integers(min_value=2, max_value=300), label="new")
    old = data.draw(st.integers(min_value=1, max_value=new - 1), label="old")
    victim = data.draw(st.integers(min_value=0, max_value=old - 1), label="victim")
    leaves = _leaves(new)
    old_root = root_from_leaf_hashes(leaves[:old])
    # The log operator edits an old entry and serves an honest proof over the edited log.
    forged = list(leaves)
    forged[victim] = leaf_hash(b"edited entry")
    proof = consistency_proof(old, new, forged)
    assert not verify_consistency(old, new, old_root, root_from_leaf_hashes(forged), proof)
