"""Command line: `registry …` (or `flask --app registry …`)."""

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from registry.extensions import db


def main() -> None:
    """Run the `registry` console script."""
    from registry import create_app

    group = FlaskGroup(
        create_app=lambda: create_app({"ALLOW_MISSING_KEYRING": True}), add_default_commands=False
    )
    group.main(prog_name="registry")


def register_commands(app: Flask) -> None:
    """Attach every command group to the app's CLI."""
    from registry.imports.cli import import_command
    from registry.oversight.cli import oversight_group
    from registry.patients.cli import keys_group, reidentify_command
    from registry.stats.cli import stats_group
    from registry.synth.cli import synth_command

    for command in (
        keys_group,
        reidentify_command,
        init_command,
        demo_command,
        user_group,
        token_group,
        audit_group,
        oversight_group,
        scheduler_command,
        stats_group,
        synth_command,
        import_command,
    ):
        app.cli.add_command(command)


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create the keyring if missing, apply migrations and load the region list."""
    from flask_migrate import upgrade

    from registry.access.regions import load_regions
    from registry.crypto.keyring import Keyring, keyring_source
    from registry.protocols.lifecycle import install_shipped_protocols

    setting, instance = current_app.config["KEYRING"], current_app.instance_path
    if not setting.lstrip().startswith("{"):
        path = Path(setting) if setting else Path(instance) / "keyring.json"
        if path.exists():
            ring = Keyring.loads(keyring_source(setting, instance)[0])
            if ring.ensure_purposes():
                ring.save(path)
        else:
            ring = Keyring.generate()
            ring.save(path)
            click.echo(f"created keyring {path} (mode 0600); back it up offline")
        current_app.extensions["keyring"] = ring
    upgrade(directory=current_app.extensions["migrate"].directory)
    count = load_regions(current_app.config["REGIONS_FILE"])
    installed = install_shipped_protocols()
    db.session.commit()
    click.echo(f"database ready; {count} regions loaded")
    _report_installed(installed)


def _report_installed(installed: list) -> None:
    """Say which shipped protocols were installed as active version 1 (on stderr)."""
    if installed:
        keys = ", ".join(version.key for version in installed)
        click.echo(f"installed shipped protocols as active version 1: {keys}", err=True)


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print clinics and users as JSON.")
@click.option("--if-empty", is_flag=True, help="Do nothing when clinics exist already.")
@click.option(
    "--save-tokens",
    type=click.Path(dir_okay=False),
    help="Also write the JSON to this file (mode 0600).",
)
@with_appcontext
def demo_command(as_json: bool, if_empty: bool, save_tokens: str | None) -> None:
    """Seed demo clinics, staff of every role and the shipped protocols; print tokens once."""
    from registry.demo import has_data, seed_demo
    from registry.protocols.lifecycle import install_shipped_protocols

    # Protocols first and even with --if-empty: installing them is idempotent.
    installed = install_shipped_protocols()
    db.session.commit()
    _report_installed(installed)
    if if_empty and has_data():
        click.echo("demo: data present, nothing seeded", err=True)
        return
    clinics, users = seed_demo(current_app.config["TOKEN_TTL_DAYS"])
    db.session.commit()
    payload = {
        "clinics": [{"id": c.id, "name": c.name, "region": c.region_code} for c in clinics],
        "users": [
            {
                "id": u.id,
                "name": u.name,
                "roles": u.roles,
                "clinic_id": u.clinic_id,
                "token": u.token,
                "console_password": u.password,
                **({"totp_secret": u.totp_secret, "totp_uri": u.totp_uri} if u.totp_secret else {}),
            }
            for u in users
        ],
    }
    if save_tokens:
        _write_private(Path(save_tokens), json.dumps(payload, indent=2, ensure_ascii=False))
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    for user in payload["users"]:
        where = f" clinic {user['clinic_id']}" if user["clinic_id"] else ""
        click.echo(f"{user['name']:<22} {','.join(user['roles']):<16}{where:<10} {user['token']}")
        second = f"  TOTP secret {user['totp_secret']}" if "totp_secret" in user else ""
        click.echo(f"{'':<22} console password {user['console_password']}{second}")
    click.echo("These tokens, passwords and secrets are shown once; keep them safe.")


def _write_private(path: Path, text: str) -> None:
    """Write a secret file readable by its owner only."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


@click.group("user")
def user_group() -> None:
    """Manage users."""


@user_group.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role (repeat for several).")
@click.option("--clinic", "clinic_id", type=int, help="Clinic id, for clinic roles.")
@click.option("--ttl-days", type=click.IntRange(1, 3650), help="Token lifetime in days.")
@click.option("--json", "as_json", is_flag=True, help="Print the user as JSON.")
@click.option(
    "--console-link",
    is_flag=True,
    help="Also print a one-time enrolment link to set a console password.",
)
@with_appcontext
def user_create(
    name: str,
    roles: tuple[str, ...],
    clinic_id: int | None,
    ttl_days: int | None,
    as_json: bool,
    console_link: bool,
) -> None:
    """Create a user and print its first token (and console enrolment link) once."""
    from registry.audit.log import record
    from registry.auth.tokens import issue_token
    from registry.auth.users import create_user
    from registry.errors import RegistryError

    try:
        user = create_user(name, list(roles), clinic_id)
    except RegistryError as exc:
        db.session.rollback()
        raise click.ClickException(_describe(exc)) from None
    token_row, secret = issue_token(user, ttl_days or current_app.config["TOKEN_TTL_DAYS"])
    record("user.create", "user", user.id, actor=(None, "cli"))
    record("token.issue", "token", token_row.id, actor=(None, "cli"))
    enrolment = _console_link(user) if console_link else None
    db.session.commit()
    view = {
        "id": user.id,
        "name": user.name,
        "roles": sorted(user.roles),
        "clinic_id": user.clinic_id,
        "token": secret,
        "token_id": token_row.id,
    }
    if enrolment:
        view["console_link"], view["console_code"] = enrolment
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False))
        return
    click.echo(f"user {user.id} created; token {token_row.id} (shown once): {secret}")
    if enrolment:
        link, code = enrolment
        click.echo(f"console enrolment: open {link} and type the one-time code {code}")


def _console_link(user) -> tuple[str, str]:
    """Issue a one-time enrolment code for a user; return the page to type it on, and the code."""
    from registry.auth.credentials import issue_activation

    hours = current_app.config["CONSOLE_ACTIVATION_HOURS"]
    code = issue_activation(user, hours)
    # The code is typed on the page, never put in the link: a URL ends up in browser history,
    # proxies' logs and Referer headers, where a secret must not be.
    base = current_app.config["CONSOLE_BASE_URL"].rstrip("/")
    return f"{base}/console/activate", code


@user_group.command("console-link")
@click.argument("user_id", type=int)
@click.option(
    "--reset-second-factor",
    is_flag=True,
    help="Also forget the user's TOTP second factor (a lost phone); the next sign-in enrols anew.",
)
@with_appcontext
def user_console_link(user_id: int, reset_second_factor: bool) -> None:
    """Print a new one-time enrolment link: a first or a forgotten console password."""
    from registry.auth.models import User
    from registry.errors import RegistryError

    user = db.session.get(User, user_id)
    if user is None:
        raise click.ClickException("no such user")
    try:
        link, code = _console_link(user)
        if reset_second_factor:
            from registry.auth.credentials import reset_second_factor as forget_second_factor

            forget_second_factor(user.id)
    except RegistryError as exc:
        db.session.rollback()
        raise click.ClickException(_describe(exc)) from None
    db.session.commit()
    hours = current_app.config["CONSOLE_ACTIVATION_HOURS"]
    click.echo(
        f"console enrolment for user {user.id} (one use, {hours} h): "
        f"open {link} and type the one-time code {code}"
    )


def _describe(exc) -> str:
    """Render a domain error for the terminal."""
    if exc.errors:
        return "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.errors.items())
    return exc.detail


@click.group("token")
def token_group() -> None:
    """Manage API tokens."""


@token_group.command("create")
@click.argument("user_id", type=int)
@click.option("--ttl-days", type=click.IntRange(1, 3650), help="Token lifetime in days.")
@with_appcontext
def token_create(user_id: int, ttl_days: int | None) -> None:
    """Issue another token for a user and print it once."""
    from registry.audit.log import record
    from registry.auth.models import User
    from registry.auth.tokens import issue_token

    user = db.session.get(User, user_id)
    if user is None:
        raise click.ClickException("no such user")
    row, secret = issue_token(user, ttl_days or current_app.config["TOKEN_TTL_DAYS"])
    record("token.issue", "token", row.id, actor=(None, "cli"))
    db.session.commit()
    click.echo(f"token {row.id} (shown once): {secret}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(token_id: int) -> None:
    """Revoke a token by id; the next request with it gets 401."""
    from registry.audit.log import record
    from registry.auth.tokens import revoke_token

    if revoke_token(token_id) is None:
        raise click.ClickException("no such token")
    record("token.revoke", "token", token_id, actor=(None, "cli"))
    db.session.commit()
    click.echo(f"token {token_id} revoked")


@click.group("audit")
def audit_group() -> None:
    """Check and sign the audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Recompute the Merkle tree and check every signed checkpoint; exit 1 on any fault."""
    from registry import keyring
    from registry.audit.verify import verify_log

    verdict = verify_log(keyring())
    if not verdict.ok:
        click.echo(f"audit verify: FAILED at index {verdict.bad_index}: {verdict.reason}")
        sys.exit(1)
    click.echo(
        f"audit verify: ok ({verdict.entries} entries, {verdict.checkpoints} signed checkpoints)"
    )


@audit_group.command("checkpoint")
@click.option("--force", is_flag=True, help="Sign even if the log has not grown.")
@with_appcontext
def audit_checkpoint(force: bool) -> None:
    """Sign a checkpoint of the log now."""
    from registry import keyring
    from registry.audit.checkpoints import sign_checkpoint

    checkpoint = sign_checkpoint(keyring(), force=force)
    db.session.commit()
    if checkpoint is None:
        click.echo("audit checkpoint: log unchanged since the last checkpoint")
    else:
        click.echo(
            f"audit checkpoint: size {checkpoint.tree_size}, root {checkpoint.root_hash.hex()}"
        )


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run every due job once and exit.")
@with_appcontext
def scheduler_command(once: bool) -> None:
    """Run the job scheduler as its own process (never inside gunicorn workers)."""
    from registry.jobs import run_scheduler

    run_scheduler(current_app._get_current_object(), once=once)
