"""ALTCHA v1 proof of work: sign, solve, verify, expire (pure functions)."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from registry.access import pow

KEY = b"k" * 32
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _challenge(max_number=100, ttl=60):
    return pow.create_challenge(KEY, max_number, NOW + timedelta(seconds=ttl))


def _edit(payload: str, **changes) -> str:
    data = json.loads(base64.b64decode(payload)) | changes
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_a_solution_verifies_and_names_its_challenge():
    challenge = _challenge()
    solved = pow.verify(KEY, pow.solve(challenge), NOW)
    assert solved.challenge == challenge["challenge"]
    assert solved.expires_at == NOW + timedelta(seconds=60)


def test_challenge_has_the_altcha_v1_shape():
    challenge = _challenge()
    assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert challenge["algorithm"] == "SHA-256"
    assert "?expires=" in challenge["salt"]


def test_expired_solution_is_refused():
    payload = pow.solve(_challenge(ttl=60))
    with pytest.raises(pow.PowError) as caught:
        pow.verify(KEY, payload, NOW + timedelta(seconds=61))
    assert caught.value.reason == "expired"


@pytest.mark.parametrize(
    "change",
    [
        {"number": -1},
        {"signature": "0" * 64},
        {"algorithm": "SHA-1"},
    ],
)
def test_tampered_solution_is_invalid(change):
    payload = pow.solve(_challenge())
    with pytest.raises(pow.PowError) as caught:
        pow.verify(KEY, _edit(payload, **change), NOW)
    assert caught.value.reason == "invalid"


def test_wrong_number_is_invalid():
    challenge = _challenge()
    payload = pow.solve(challenge)
    number = json.loads(base64.b64decode(payload))["number"]
    with pytest.raises(pow.PowError):
        pow.verify(KEY, _edit(payload, number=number + 1), NOW)


def test_a_longer_expiry_cannot_be_forged():
    challenge = _challenge()
    payload = pow.solve(challenge)
    later = challenge["salt"].split("?")[0] + "?expires=9999999999"
    with pytest.raises(pow.PowError):
        pow.verify(KEY, _edit(payload, salt=later), NOW)


def test_another_key_does_not_verify():
    with pytest.raises(pow.PowError):
        pow.verify(b"x" * 32, pow.solve(_challenge()), NOW)


@pytest.mark.parametrize(
    "payload", ["", "not base64!", base64.b64encode(b"[1]").decode(), "A" * 5000, 7]
)
def test_malformed_payloads_are_refused(payload):
    with pytest.raises(pow.PowError) as caught:
        pow.verify(KEY, payload, NOW)
    assert caught.value.reason == "malformed"
