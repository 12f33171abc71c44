"""`registry keys custodian-init` and the escrow public key setting."""

import base64
import stat

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
