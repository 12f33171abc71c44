"""The keyring: generation, 0600 files, versions, refusal of unsafe or broken files."""

import os

import pytest

from registry.crypto.keyring import PURPOSES, Keyring, KeyringError, load_keyring


def test_generated_keyring_has_every_purpose_once():
    ring = Keyring.generate()
    for purpose in PURPOSES:
        assert ring.primary(purpose).version == 1
        assert len(ring.primary(purpose).material) == 32


def test_saved_keyring_is_private_and_round_trips(tmp_path):
    ring = Keyring.generate()
    path = tmp_path / "keyring.json"
    ring.save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = load_keyring(str(path), str(tmp_path))
    assert loaded.primary("linkage").material == ring.primary("linkage").material


def test_world_readable_keyring_is_refused(tmp_path):
    path = tmp_path / "keyring.json"
    Keyring.generate().save(path)
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        load_keyring(str(path), str(tmp_path))


def test_missing_keyring_says_how_to_make_one(tmp_path):
    with pytest.raises(KeyringError, match="registry init"):
        load_keyring("", str(tmp_path))


@pytest.mark.parametrize(
    "text",
    ["not json", "{}", '{"format": 1, "keys": {"linkage": [{}]}}', '{"format": 2, "keys": {}}'],
)
def test_malformed_keyring_is_refused_without_echoing_it(text):
    with pytest.raises(KeyringError) as refused:
        Keyring.loads(text)
    assert text not in str(refused.value)


def test_rotation_adds_a_primary_and_keeps_old_versions():
    ring = Keyring.generate()
    old = ring.primary("linkage")
    new = ring.rotate("linkage")
    assert new.version == 2 and ring.primary("linkage") == new
    assert ring.version("linkage", 1) == old
    assert [k.version for k in ring.history("linkage")] == [1, 2]
    assert new.key_id == "linkage:v2"


def test_key_material_never_appears_in_repr():
    key = Keyring.generate().primary("linkage")
    assert key.material.hex() not in repr(key)
    assert str(key.material) not in repr(key)


def test_ensure_purposes_fills_in_new_purposes_only():
    ring = Keyring.loads(Keyring.generate().dumps())
    assert ring.ensure_purposes() == []
