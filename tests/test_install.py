"""`make install` on a fresh machine: the venv's bundled pip is brought to the locked pip first."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LOCK_INSTALL = "--require-hashes -r requirements.lock"


def locked_pip_version() -> str:
    """Return the pip version pinned in requirements.lock."""
    found = re.search(r"^pip==(\S+) ", (ROOT / "requirements.lock").read_text(), re.M)
    assert found, "requirements.lock pins no pip"
    return found.group(1)


def install_commands(venv: Path) -> list[str]:
    """Return the shell commands `make install` would run for a venv that does not exist yet."""
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "install", f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    # Under `make test` the parent make's flags reach this one: its own lines start with "make".
    lines = dry.stdout.splitlines()
    return [line for line in lines if line and not line.startswith(("#", "make"))]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_lock_is_installed_only_after_the_venv_has_the_locked_pip(tmp_path):
    venv = tmp_path / "venv"
    commands = install_commands(venv)
    lock_step = next(i for i, line in enumerate(commands) if LOCK_INSTALL in line)
    before = commands[:lock_step]
    # A bundled pip as old as 23.2 refuses the lock (extras in hash mode), so something before
    # the lock must install the locked pip, by hash.
    assert any("pip install" in line and "--require-hashes" in line for line in before)

    # Run those steps for real on a venv made with this Python's bundled pip.
    subprocess.run(
        [sys.executable, "-m", "venv", str(venv)],
        check=True,
        capture_output=True,
    )
    for line in before:
        if line.startswith("test -x"):
            continue  # the venv exists: made above with this interpreter
        subprocess.run(["bash", "-c", line], cwd=ROOT, check=True, capture_output=True)
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version.split()[1] == locked_pip_version()
