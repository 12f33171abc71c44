"""Command line for keys and offline re-identification: `registry keys …`, `registry reidentify`."""

import base64
import json
import os
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from registry.extensions import db


@click.group("keys")
def keys_group() -> None:
    """Rotate keys and create the custodians' escrow key pair."""


@keys_group.command("custodian-init")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="Private key file."
)
@click.option(
    "--public-out", type=click.Path(dir_okay=False), help="Also write the public key here."
)
def custodian_init(out: str, public_out: str | None) -> None:
    """Create the escrow key pair: the private key goes to a 0600 file to take offline."""
    from registry.crypto.escrow import generate_custodian_keypair, key_id

    path = Path(out)
    if path.exists():
        raise click.ClickException(f"{path} exists; refusing to overwrite a private key")
    private, public = generate_custodian_keypair()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(private).decode() + "\n")
    public_text = base64.b64encode(public).decode()
    if public_out:
        Path(public_out).write_text(public_text + "\n")
    click.echo(
        f"private key written to {path} (mode 0600): move it offline, split among custodians"
    )
    click.echo(f"key id {key_id(public)}; configure escrow with:")
    click.echo(f"REGISTRY_ESCROW_PUBLIC_KEY={public_out or public_text}")


@keys_group.command("rotate")
@click.argument("purpose", type=click.Choice(["linkage", "care_card", "data"]))
@click.option("--batch", type=click.IntRange(1, 100_000), help="Rows per transaction.")
@click.option(
    "--grace-seconds",
    type=click.FloatRange(0, 600),
    default=2.0,
    show_default=True,
    help="Wait after saving the new key so that in-flight requests finish under the old one.",
)
@with_appcontext
def keys_rotate(purpose: str, batch: int | None, grace_seconds: float) -> None:
    """Add a new key version, then re-key every stored row to it (resume with `keys rekey`)."""
    from registry.patients.rotation import rotate_keyring

    key = rotate_keyring(purpose)
    click.echo(f"{key.key_id} is now primary")
    time.sleep(grace_seconds)
    _rekey_all(purpose, batch)


@keys_group.command("rekey")
@click.argument("purpose", type=click.Choice(["linkage", "care_card", "data"]))
@click.option("--batch", type=click.IntRange(1, 100_000), help="Rows per transaction.")
@click.option("--no-prune", is_flag=True, help="Keep superseded old-version rows for now.")
@with_appcontext
def keys_rekey(purpose: str, batch: int | None, no_prune: bool) -> None:
    """Re-key rows still under older versions (idempotent: finishes an interrupted rotation)."""
    _rekey_all(purpose, batch, prune=not no_prune)


@keys_group.command("status")
@click.argument("purpose", type=click.Choice(["linkage", "care_card", "data"]))
@with_appcontext
def keys_status(purpose: str) -> None:
    """Show how many stored rows each key version still covers."""
    from registry.patients.rotation import remaining

    counts = remaining(purpose)
    for version, count in sorted(counts.items()):
        click.echo(f"{purpose}:v{version}\t{count}")


def _rekey_all(purpose: str, batch: int | None, prune: bool = True) -> None:
    from registry.audit.log import record
    from registry.patients.rotation import prune_all, rekey_all, remaining

    size = batch or current_app.config["REKEY_BATCH_SIZE"]
    total = rekey_all(purpose, size)
    if prune:
        prune_all(purpose, size)
    record("keys.rekey", "key", purpose, actor=(None, "cli"))
    db.session.commit()
    left = remaining(purpose)
    click.echo(f"re-keyed {total} rows; rows per version now: {dict(sorted(left.items()))}")
    if purpose == "data" and len(left) <= 1:
        click.echo("older 'data' versions encrypt nothing now and may be retired")


@click.command("reidentify")
@click.argument("request_id", type=int)
@click.option("--custodian", "custodian_id", type=int, required=True, help="Your user id.")
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="The custodians' private key file (from `keys custodian-init`).",
)
@with_appcontext
def reidentify_command(request_id: int, custodian_id: int, key_file: str) -> None:
    """Reveal an approved request offline, once; print the identity and store nothing."""
    from registry.auth.models import Role, User
    from registry.errors import RegistryError
    from registry.patients.reidentification import reveal

    user = db.session.get(User, custodian_id)
    if user is None or Role.KEY_CUSTODIAN not in user.roles or user.disabled_at is not None:
        raise click.ClickException("--custodian must be an active key custodian")
    try:
        private = base64.b64decode(Path(key_file).read_text().strip(), validate=True)
        identity = reveal(request_id, custodian_id, private, actor=(user.id, "key_custodian"))
    except RegistryError as exc:
        db.session.rollback()
        if exc.audit is not None:
            from registry.audit.log import record

            record(
                exc.audit.action,
                exc.audit.object_type,
                exc.audit.object_id,
                outcome=f"{exc.audit.outcome}:{exc.status}",
                actor=(user.id, "key_custodian"),
            )
            db.session.commit()
        raise click.ClickException(exc.detail) from None
    except ValueError:
        raise click.ClickException("the key file does not hold a base64 private key") from None
    db.session.commit()
    click.echo(json.dumps(identity, ensure_ascii=False))
