"""`registry keys custodian-init` and the escrow public key setting."""

import base64
import stat
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from registry.crypto.escrow import open_, public_key_from_private, seal
from registry.patients.escrow import EscrowConfigError, decode_public_key


def test_custodian_init_writes_a_private_0600_file(app, tmp_path):
    out, public_out = tmp_path / "custodian.key", tmp_path / "custodian.pub"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["keys", "custodian-init", "--out", str(out), "--public-out", str(public_out)]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    private = base64.b64decode(out.read_text())
    public = decode_public_key(str(public_out))
    assert public == public_key_from_private(private)
    assert open_(private, seal(public, b"x", b"aad"), b"aad") == b"x"
    assert out.read_text().strip() not in result.output
    again = runner.invoke(args=["keys", "custodian-init", "--out", str(out)])
    assert again.exit_code != 0  # never overwrites a private key


@pytest.mark.parametrize("setting", ["not-base64!", "QUJD", "/nonexistent/key.pub"])
def test_bad_escrow_setting_is_refused(setting):
    with pytest.raises(EscrowConfigError):
        decode_public_key(setting)


@contextmanager
def worker_and_cli(tmp_path) -> Iterator[tuple]:
    """Yield two apps on one new database and one keyring file: a running worker and the CLI."""
    from registry.crypto.keyring import Keyring
    from registry.extensions import db
    from tests.conftest import _new_database, make_test_app, migrate_database

    ring_path = tmp_path / "keyring.json"
    Keyring.generate().save(ring_path)
    for url in _new_database(tmp_path):
        worker = make_test_app(url, None, str(tmp_path / "instance"), KEYRING=str(ring_path))
        migrate_database(worker)
        cli = make_test_app(url, None, str(tmp_path / "instance"), KEYRING=str(ring_path))
        try:
            yield worker, cli
        finally:
            for app in (worker, cli):
                with app.app_context():
                    db.engine.dispose()


def test_keys_rotate_cli_and_a_running_worker_sees_the_new_key(tmp_path):
    from registry.crypto.keyring import Keyring
    from tests.patients.conftest import new_iin, seed_clinicians

    with worker_and_cli(tmp_path) as (worker, cli):
        (headers,) = seed_clinicians(worker, 1)
        body = {"mode": "linked", "identity": {"iin": new_iin()}}
        first = worker.test_client().post("/api/v1/patients", headers=headers, json=body).json
        runner = cli.test_cli_runner()
        result = runner.invoke(args=["keys", "rotate", "linkage", "--grace-seconds", "0"])
        assert result.exit_code == 0, result.output
        assert "linkage:v2 is now primary" in result.output
        assert runner.invoke(args=["keys", "status", "linkage"]).output.strip() == "linkage:v2\t1"
        again = worker.test_client().post("/api/v1/patients", headers=headers, json=body).json
        assert again["pseudonym"] == first["pseudonym"] and again["existing"] is True
        assert worker.extensions["keyring"].primary("linkage").version == 2
        ring = Keyring.loads((tmp_path / "keyring.json").read_text())
        assert ring.primary("linkage").version == 2


def test_a_new_person_key_is_wrapped_under_a_data_key_rotated_by_another_process(tmp_path):
    from registry import clock
    from registry.patients.keys import wrap_new_person_key
    from registry.patients.models import NewPerson

    with worker_and_cli(tmp_path) as (worker, cli):
        result = cli.test_cli_runner().invoke(args=["keys", "rotate", "data"])
        assert result.exit_code == 0, result.output
        with worker.app_context():
            person = NewPerson(person_key="0" * 32, record_key=0.5, created_at=clock.now())
            wrap_new_person_key(person)  # nothing else reloaded this worker's keyring first
            assert person.wrapped_key_version == 2
