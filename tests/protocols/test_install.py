"""Shipped protocols are installed as active version 1 by `registry init` and `registry demo`."""

import json

from sqlalchemy import select

from registry.audit.models import AuditEntry
from registry.protocols.lifecycle import install_shipped_protocols
from registry.protocols.models import ProtocolVersion
from registry.protocols.shipped import NAMES
from tests.conftest import bearer
from tests.test_cli import cli_env, registry  # noqa: F401  (cli_env is a fixture)


def test_install_is_idempotent_and_audited_as_the_system(app, session):
    installed = install_shipped_protocols()
    assert sorted(v.key for v in installed) == sorted(NAMES)
    assert {(v.n, v.status, v.author_id) for v in installed} == {(1, "active", None)}
    assert install_shipped_protocols() == []
    actors = session.execute(
        select(AuditEntry.actor_role, AuditEntry.object_id).where(
            AuditEntry.action == "protocol.install"
        )
    ).all()
    assert sorted(actors) == sorted(("system", f"{name}/1") for name in NAMES)


def test_install_skips_keys_that_exist(app, session):
    install_shipped_protocols()
    session.execute(select(ProtocolVersion)).scalars().first().status = "retired"
    session.flush()
    assert install_shipped_protocols() == []


def test_the_four_shipped_protocols_are_active_after_demo(cli_env, fresh_app):  # noqa: F811
    registry("init", env=cli_env)
    seeded = json.loads(registry("demo", "--json", env=cli_env).stdout)
    token = next(u["token"] for u in seeded["users"] if "clinician" in u["roles"])
    listed = fresh_app.test_client().get("/api/v1/protocols", headers=bearer(token)).json
    assert sorted(p["key"] for p in listed) == sorted(NAMES)
    assert all([v["status"] for v in p["versions"]] == ["active"] for p in listed)
    assert all(p["versions"][0]["n"] == 1 for p in listed)
    assert registry("demo", "--if-empty", "--json", env=cli_env).stdout == ""


def test_demo_alone_installs_them_on_a_migrated_database(cli_env, fresh_app):  # noqa: F811
    done = registry("demo", "--json", env=cli_env)
    assert "methadone_oat" in done.stderr
    json.loads(done.stdout)
