"""The audit log: consecutive entries, signed checkpoints, proofs, and tamper detection."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text

from registry.audit import merkle
from registry.audit.checkpoints import sign_checkpoint
from registry.audit.log import entry_bytes, record
from registry.audit.models import AuditEntry
from registry.audit.verify import verify_log
from tests.conftest import bearer


@pytest.fixture()
def filled_log(app, session, keyring):
    """Write ten entries with a checkpoint after the sixth; return the first index."""
    first = record("test.start", "thing", 0).idx
    for i in range(1, 6):
        record("test.step", "thing", i)
    sign_checkpoint(keyring)
    for i in range(6, 10):
        record("test.step", "thing", i)
    return first


def test_entries_get_consecutive_indices(session, filled_log):
    indices = [
        row[0]
        for row in session.execute(
            text("SELECT idx FROM audit_entries WHERE idx >= :f ORDER BY idx"), {"f": filled_log}
        )
    ]
    assert indices == list(range(filled_log, filled_log + 10))


def test_untouched_log_verifies(session, keyring, filled_log):
    sign_checkpoint(keyring)
    verdict = verify_log(keyring)
    assert verdict.ok, verdict.reason
    assert verdict.entries >= 10


def test_sql_update_of_one_entry_is_found(session, keyring, filled_log):
    session.execute(
        text("UPDATE audit_entries SET action = 'forged' WHERE idx = :i"), {"i": filled_log + 3}
    )
    verdict = verify_log(keyring)
    assert not verdict.ok
    assert verdict.bad_index == filled_log + 3


def test_update_with_recomputed_leaf_hash_is_found_by_the_checkpoint(session, keyring, filled_log):
    target = session.get(AuditEntry, filled_log + 2)
    target.object_id = "999"
    target.leaf_hash = merkle.leaf_hash(entry_bytes(target))
    session.flush()
    verdict = verify_log(keyring)
    assert not verdict.ok
    assert "checkpoint" in verdict.reason
    assert verdict.bad_index <= filled_log + 2


def test_sql_delete_of_one_entry_is_found(session, keyring, filled_log):
    session.execute(text("DELETE FROM audit_entries WHERE idx = :i"), {"i": filled_log + 4})
    verdict = verify_log(keyring)
    assert not verdict.ok
    assert verdict.bad_index == filled_log + 4


@pytest.mark.parametrize("dropped", [1, 3, 6])
def test_truncation_of_the_tail_is_found(session, keyring, filled_log, dropped):
    last = session.execute(text("SELECT max(idx) FROM audit_entries")).scalar()
    session.execute(text("DELETE FROM audit_entries WHERE idx > :i"), {"i": last - dropped})
    verdict = verify_log(keyring)
    assert not verdict.ok
    assert verdict.bad_index == last - dropped + 1


def test_truncation_with_a_forged_head_is_found_by_the_checkpoint(session, keyring, filled_log):
    last = session.execute(text("SELECT max(idx) FROM audit_entries")).scalar()
    session.execute(text("DELETE FROM audit_entries WHERE idx > :i"), {"i": filled_log + 2})
    session.execute(text("UPDATE audit_head SET size = :s"), {"s": filled_log + 3})
    verdict = verify_log(keyring)
    assert not verdict.ok
    assert last > filled_log + 2
    assert "truncated" in verdict.reason


def test_forged_checkpoint_signature_is_found(session, keyring, filled_log):
    session.execute(text("UPDATE audit_checkpoints SET tree_size = tree_size - 1"))
    assert not verify_log(keyring).ok


def test_cli_verify_exits_1_naming_the_index(app, session, keyring, filled_log):
    runner = app.test_cli_runner()
    good = runner.invoke(args=["audit", "verify"])
    assert good.exit_code == 0, good.output
    session.execute(
        text("UPDATE audit_entries SET outcome = 'x' WHERE idx = :i"), {"i": filled_log + 1}
    )
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert f"index {filled_log + 1}" in bad.output


def test_checkpoint_endpoint_serves_a_verifiable_signature(client, make_user, keyring, filled_log):
    _, token = make_user("admin")
    sign_checkpoint(keyring)
    body = client.get("/api/v1/audit/checkpoint", headers=bearer(token)).json
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))
    public.verify(base64.b64decode(body["signature"]), body["signed_message"].encode())
    assert str(body["tree_size"]) in body["signed_message"]


def test_inclusion_proof_verifies_against_the_checkpoint_root(
    client, make_user, keyring, filled_log
):
    _, token = make_user("admin")
    sign_checkpoint(keyring)
    for index in (filled_log, filled_log + 5, filled_log + 9):
        body = client.get(f"/api/v1/audit/proof?index={index}", headers=bearer(token)).json
        leaf = base64.b64decode(body["leaf_hash"])
        path = [base64.b64decode(h) for h in body["audit_path"]]
        root = base64.b64decode(body["checkpoint"]["root_hash"])
        assert merkle.verify_inclusion(leaf, index, body["tree_size"], path, root)
        assert not merkle.verify_inclusion(leaf, index ^ 1, body["tree_size"], path, root)


def test_consistency_proof_between_two_checkpoints_verifies(client, make_user, keyring, filled_log):
    _, token = make_user("admin")
    old = sign_checkpoint(keyring, force=True)
    record("test.more", "thing", 11)
    new = sign_checkpoint(keyring)
    body = client.get(
        f"/api/v1/audit/consistency?from={old.tree_size}&to={new.tree_size}", headers=bearer(token)
    ).json
    proof = [base64.b64decode(h) for h in body["proof"]]
    assert merkle.verify_consistency(
        old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof
    )


def test_proof_for_an_index_beyond_the_checkpoint_is_422(client, make_user, keyring, filled_log):
    _, token = make_user("admin")
    checkpoint = sign_checkpoint(keyring, force=True)
    answer = client.get(f"/api/v1/audit/proof?index={checkpoint.tree_size}", headers=bearer(token))
    assert answer.status_code == 422
    assert "index" in answer.json["errors"]


def test_refused_actions_are_audited_after_rollback(app, session):
    from registry.audit.log import record_refusal
    from registry.errors import AuditNote

    with app.test_request_context("/"):
        record_refusal(AuditNote("reid.reveal", "reidentification", "7"), status=403)
    last = session.execute(
        text("SELECT action, outcome FROM audit_entries ORDER BY idx DESC LIMIT 1")
    ).one()
    assert tuple(last) == ("reid.reveal", "refused:403")


def test_audit_entries_are_listed_in_pages(client, make_user, filled_log):
    _, token = make_user("admin")
    page = client.get(
        f"/api/v1/audit/entries?after={filled_log - 1}&limit=4", headers=bearer(token)
    ).json
    assert [e["idx"] for e in page["entries"]] == list(range(filled_log, filled_log + 4))
    assert page["next_after"] == filled_log + 3


def test_an_audit_write_in_a_read_only_request_fails_loudly(app, session):
    from flask import g

    with app.test_request_context("/"):
        g.read_only = True
        with pytest.raises(RuntimeError, match="read-only"):
            record("test.sneaky", "thing", 1)


def test_a_refusal_is_audited_even_in_a_read_only_request(app, session):
    from flask import g

    from registry.audit.log import record_refusal
    from registry.errors import AuditNote

    with app.test_request_context("/"):
        g.read_only = True
        record_refusal(AuditNote("audit.read", "audit", None), status=404)
        assert g.read_only is False
    last = session.execute(
        text("SELECT action, outcome FROM audit_entries ORDER BY idx DESC LIMIT 1")
    ).one()
    assert tuple(last) == ("audit.read", "refused:404")


def test_the_first_index_since_a_moment_leaves_out_only_older_entries(session):
    """A period's entries are found from an index, not by reading the whole log."""
    from datetime import UTC, datetime, timedelta

    from registry import clock
    from registry.audit.log import first_index_since

    start = datetime(2026, 3, 1, tzinfo=UTC)
    # A day per entry, except one stamped 10 minutes before its predecessor (it waited for the
    # head lock), as concurrent writers may leave it.
    stamps = [start + timedelta(days=day) for day in range(10)]
    stamps.insert(7, stamps[6] - timedelta(minutes=10))
    try:
        indexes = []
        for stamp in stamps:
            clock.freeze(stamp)
            indexes.append(record("test.stamp", "thing", 1).idx)
    finally:
        clock.freeze(None)
    for day in range(10):
        since = start + timedelta(days=day)
        first = first_index_since(since)
        assert all(i >= first for i, at in zip(indexes, stamps, strict=True) if at >= since)
        # Only a day's slack is read before the moment.
        assert all(
            i < first
            for i, at in zip(indexes, stamps, strict=True)
            if at < since - timedelta(days=1, minutes=10)
        )
    assert first_index_since(start + timedelta(days=30)) == indexes[-1] + 1
