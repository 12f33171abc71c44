"""The page script's own SHA-256 (used where WebCrypto is missing) matches hashlib."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "registry/site/static/book.js"
SAMPLES = ["", "abc", "x" * 55, "y" * 56, "z" * 64, "salt?expires=1700000000" + "42", "Жақын" * 20]

_RUNNER = """
const src = require("fs").readFileSync(process.argv[1], "utf8");
const table = src.match(/var K = \\[[\\s\\S]*?\\];/)[0];
const body = table + src.match(/function sha256Hex[\\s\\S]*?\\n  }\\n/)[0];
const sha256Hex = new Function(body + "; return sha256Hex;")();
console.log(JSON.stringify(JSON.parse(process.argv[2]).map(sha256Hex)));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_fallback_sha256_matches_hashlib():
    run = subprocess.run(
        ["node", "-e", _RUNNER, str(SCRIPT), json.dumps(SAMPLES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    expected = [hashlib.sha256(s.encode()).hexdigest() for s in SAMPLES]
    assert json.loads(run.stdout) == expected
