"""The command line, run as a real `registry` process against a real database."""

import json
import os
import stat
import subprocess
import sys
from collections import Counter
from urllib.parse import urlsplit

import pytest

from tests.conftest import bearer

ROLES = {"clinician", "clinic_admin", "analyst", "protocol_admin", "key_custodian", "admin"}


def registry(*args, env, check=True):
    """Run the console script and return the finished process."""
    done = subprocess.run(
        [sys.executable, "-c", "from registry.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture()
def cli_env(fresh_app, tmp_path):
    """Environment of a CLI process on the fresh app's database, with its own keyring file."""
    return {
        **os.environ,
        "REGISTRY_DATABASE_URL": fresh_app.config["SQLALCHEMY_DATABASE_URI"],
        "REGISTRY_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        # Cheap argon2id hashes, as in the suite's apps (the demo hashes 14 passwords).
        "REGISTRY_PASSWORD_HASH_TIME_COST": "1",
        "REGISTRY_PASSWORD_HASH_MEMORY_KIB": "64",
        "REGISTRY_PASSWORD_HASH_PARALLELISM": "1",
    }


def test_init_creates_a_private_keyring_and_is_idempotent(cli_env, tmp_path):
    first = registry("init", env=cli_env)
    keyring = tmp_path / "cli-instance" / "keyring.json"
    assert "created keyring" in first.stdout
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    before = keyring.read_text()
    second = registry("init", env=cli_env)
    assert "created keyring" not in second.stdout
    assert keyring.read_text() == before
    assert "20 regions" in second.stdout


def test_demo_seeds_every_role_twice_and_two_clinics(cli_env, fresh_app):
    registry("init", env=cli_env)
    seeded = json.loads(registry("demo", "--json", env=cli_env).stdout)
    users = seeded["users"]
    per_role = Counter(role for user in users for role in user["roles"])
    assert set(per_role) == ROLES and min(per_role.values()) >= 2
    clinic_ids = {c["id"] for c in seeded["clinics"]}
    assert len({c["region"] for c in seeded["clinics"]}) >= 3
    staff_clinics = {
        u["clinic_id"] for u in users if {"clinician", "clinic_admin"} & set(u["roles"])
    }
    assert len(staff_clinics) >= 2 and staff_clinics <= clinic_ids
    assert all(u["token"].startswith("rgt_") for u in users)
    again = registry("demo", "--if-empty", "--json", env=cli_env)
    assert again.stdout == ""
    # Every demo user can sign in to the console; custodians, operators and protocol
    # administrators with the TOTP secret printed beside their password.
    from tests.console.conftest import Staff, sign_in

    clinician = next(u for u in users if u["roles"] == ["clinician"])
    assert "totp_secret" not in clinician
    needing = [u for u in users if {"key_custodian", "admin", "protocol_admin"} & set(u["roles"])]
    assert all(u["totp_uri"].startswith("otpauth://totp/") for u in needing)
    who = Staff(clinician["id"], clinician["name"], clinician["clinic_id"], None)
    answer = sign_in(fresh_app.test_client(), who, password=clinician["console_password"])
    assert answer.status_code == 302 and answer.location.startswith("/console/")


def test_user_create_token_revoke_round_trip(cli_env, fresh_app):
    registry("init", env=cli_env)
    created = json.loads(
        registry(
            "user",
            "create",
            "analyst.cli",
            "--role",
            "analyst",
            "--console-link",
            "--json",
            env=cli_env,
        ).stdout
    )
    assert set(created) >= {"id", "name", "roles", "clinic_id", "token"}
    client = fresh_app.test_client()
    assert client.get("/api/v1/me", headers=bearer(created["token"])).status_code == 200
    registry("token", "revoke", str(created["token_id"]), env=cli_env)
    assert client.get("/api/v1/me", headers=bearer(created["token"])).status_code == 401
    # The enrolment link carries no secret: its one-time code is printed apart, to be typed.
    link, code = urlsplit(created["console_link"]), created["console_code"]
    assert link.path == "/console/activate" and not link.query and code not in link.geturl()
    assert client.get(link.path).status_code == 200


@pytest.mark.parametrize(
    "args, message",
    [
        (["user", "create", "x", "--role", "clinician"], "clinic"),
        (["user", "create", "x", "--role", "wizard"], "roles"),
        (["user", "create", "x", "--role", "analyst", "--clinic", "1"], "clinic"),
        (["token", "revoke", "999999"], "no such token"),
    ],
)
def test_cli_refuses_bad_requests_with_a_message(cli_env, args, message):
    registry("init", env=cli_env)
    done = registry(*args, env=cli_env, check=False)
    assert done.returncode != 0
    assert message in done.stderr


def test_audit_verify_and_checkpoint_from_the_cli(cli_env):
    registry("init", env=cli_env)
    registry("demo", "--json", env=cli_env)
    assert "size" in registry("audit", "checkpoint", env=cli_env).stdout
    verified = registry("audit", "verify", env=cli_env)
    assert "ok" in verified.stdout and "1 signed checkpoints" in verified.stdout
