"""The keyring: versioned keys kept outside the database (a 0600 file or an environment value)."""

import base64
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = 1

# Purpose → kind. Secret keys are 32 random bytes; signing keys are Ed25519 seeds.
PURPOSES = {
    "linkage": "secret",  # HMAC of normalised identifiers
    "care_card": "secret",  # keyed hashes of care-card codes
    "data": "secret",  # AES-256-GCM data-encryption keys
    "rate_limit": "secret",  # HMAC of client IPs, derived per day
    "booking_code": "secret",  # keyed hashes of booking codes
    "altcha": "secret",  # signs proof-of-work challenges
    "audit_signing": "ed25519",  # signs audit checkpoints
    "totp": "secret",  # AES-256-GCM key sealing staff TOTP secrets
    "console": "secret",  # signs the console's CSRF tokens
}


class KeyringError(Exception):
    """The keyring is missing, unreadable or lacks a key."""


@dataclass(frozen=True)
class Key:
    """One version of one key."""

    purpose: str
    version: int
    created: str
    material: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        """Return the public name of this key version, e.g. 'linkage:v2'."""
        return f"{self.purpose}:v{self.version}"


class Keyring:
    """All key versions by purpose; the newest version of a purpose is its primary."""

    def __init__(self, keys: dict[str, list[Key]]):
        self._keys = {
            purpose: sorted(versions, key=lambda k: k.version) for purpose, versions in keys.items()
        }

    @classmethod
    def generate(cls) -> "Keyring":
        """Create a keyring with a first version of every purpose."""
        keyring = cls({})
        keyring.ensure_purposes()
        return keyring

    @classmethod
    def loads(cls, text: str) -> "Keyring":
        """Parse a keyring from its JSON text."""
        try:
            raw = json.loads(text)
            if raw.get("format") != FORMAT:
                raise KeyringError("unsupported keyring format")
            keys = {
                purpose: [
                    Key(
                        purpose,
                        int(k["version"]),
                        k["created"],
                        base64.b64decode(k["material"], validate=True),
                    )
                    for k in versions
                ]
                for purpose, versions in raw["keys"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyringError(f"keyring is malformed ({type(exc).__name__})") from None
        return cls(keys)

    def dumps(self) -> str:
        """Serialise the keyring to JSON."""
        return json.dumps(
            {
                "format": FORMAT,
                "keys": {
                    purpose: [
                        {
                            "version": k.version,
                            "created": k.created,
                            "material": base64.b64encode(k.material).decode(),
                        }
                        for k in versions
                    ]
                    for purpose, versions in self._keys.items()
                },
            },
            indent=2,
        )

    def save(self, path: Path) -> None:
        """Write the keyring atomically with mode 0600."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keyring-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.dumps())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def ensure_purposes(self) -> list[str]:
        """Add a first version for every purpose that has none; return the purposes added."""
        added = [p for p in PURPOSES if not self._keys.get(p)]
        for purpose in added:
            self._keys[purpose] = [_new_key(purpose, 1)]
        return added

    def rotate(self, purpose: str) -> Key:
        """Add a new primary version of a purpose's key and return it."""
        key = _new_key(purpose, self.primary(purpose).version + 1)
        self._keys[purpose].append(key)
        return key

    def primary(self, purpose: str) -> Key:
        """Return the newest version of a purpose's key."""
        versions = self._keys.get(purpose)
        if not versions:
            raise KeyringError(f"keyring has no '{purpose}' key")
        return versions[-1]

    def version(self, purpose: str, version: int) -> Key:
        """Return one version of a purpose's key."""
        for key in self._keys.get(purpose, []):
            if key.version == version:
                return key
        raise KeyringError(f"keyring has no '{purpose}' key version {version}")

    def history(self, purpose: str) -> list[Key]:
        """Return every version of a purpose's key, oldest first."""
        return list(self._keys.get(purpose, []))

    def signing_key(self) -> tuple[Key, Ed25519PrivateKey]:
        """Return the primary audit signing key and its private key object."""
        key = self.primary("audit_signing")
        return key, Ed25519PrivateKey.from_private_bytes(key.material)

    def verify_key(self, version: int) -> bytes:
        """Return the raw Ed25519 public key of one audit signing key version."""
        seed = self.version("audit_signing", version).material
        public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
        return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _new_key(purpose: str, version: int) -> Key:
    """Generate fresh material for a purpose."""
    if purpose not in PURPOSES:
        raise KeyringError(f"unknown key purpose '{purpose}'")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return Key(purpose, version, created, secrets.token_bytes(32))


def keyring_source(setting: str, instance_path: str) -> tuple[str, Path | None]:
    """Return the keyring JSON text and the file it came from (None when given inline)."""
    if setting.lstrip().startswith("{"):
        return setting, None
    path = Path(setting) if setting else Path(instance_path) / "keyring.json"
    try:
        return path.read_text(), path
    except FileNotFoundError:
        raise KeyringError(f"no keyring at {path}; run 'registry init' to create one") from None
    except OSError as exc:
        raise KeyringError(f"cannot read keyring at {path}: {exc.strerror}") from None


def load_keyring(setting: str, instance_path: str) -> Keyring:
    """Load the keyring named by the KEYRING setting, refusing a world-readable file."""
    text, path = keyring_source(setting, instance_path)
    if path is not None and path.stat().st_mode & 0o077:
        raise KeyringError(f"keyring {path} is readable by others; chmod 600 it")
    return Keyring.loads(text)
