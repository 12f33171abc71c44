"""scripts/audit_deps.py: findings fail the run; pins it cannot audit are named, never hidden."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "scripts" / "audit_deps.py"
LOCK = """\
#    pip-compile --generate-hashes
flask==3.1.3 \\
    --hash=sha256:aa
    # via registry (pyproject.toml)
Jinja2==3.1.6 \\
    --hash=sha256:bb
typing_extensions==4.16.0 \\
    --hash=sha256:cc
"""


@pytest.fixture()
def audit(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("audit_deps", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK)
    return module, lock


def test_pins_are_read_from_the_lock_by_normalised_name(audit):
    module, lock = audit
    assert module.locked_versions(lock) == {
        "flask": "3.1.3",
        "jinja2": "3.1.6",
        "typing-extensions": "4.16.0",
    }


def test_a_known_vulnerability_fails_the_run(audit, monkeypatch, capsys):
    module, lock = audit
    report = [
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {"name": "jinja2", "version": "3.1.6", "vulns": [{"id": "GHSA-x", "fix_versions": ["9"]}]},
    ]
    monkeypatch.setattr(module, "pip_audit", lambda _lock: report)
    assert module.main(lock, strict=False) == 1
    assert "jinja2==3.1.6: GHSA-x" in capsys.readouterr().out


def test_a_skipped_pin_is_audited_from_its_project_when_it_is_the_latest(audit, monkeypatch):
    module, lock = audit
    skipped = [{"name": "Jinja2", "skip_reason": "Dependency not found on PyPI"}]
    monkeypatch.setattr(module, "pip_audit", lambda _lock: skipped)
    asked = []
    monkeypatch.setattr(
        module, "latest_release_advisories", lambda n, v: asked.append((n, v)) or ["PYSEC-1"]
    )
    assert module.main(lock, strict=False) == 1
    assert asked == [("Jinja2", "3.1.6")]


def test_a_pin_that_cannot_be_audited_is_named_and_fails_only_when_strict(
    audit, monkeypatch, capsys
):
    module, lock = audit
    skipped = [{"name": "typing_extensions", "skip_reason": "Dependency not found on PyPI"}]
    monkeypatch.setattr(module, "pip_audit", lambda _lock: skipped)
    monkeypatch.setattr(module, "latest_release_advisories", lambda n, v: None)
    assert module.main(lock, strict=False) == 0
    assert "typing_extensions==4.16.0" in capsys.readouterr().out
    assert module.main(lock, strict=True) == 1
