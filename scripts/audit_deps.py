"""Audit the locked pins with pip-audit; fail on any known vulnerability.

pip-audit asks PyPI for each pinned release's advisories. Where PyPI's per-release endpoint is
not reachable (some mirrors serve only the per-project one), a pin that is its project's latest
release is audited from the project endpoint, whose advisories are those of the latest release.
A pin that can be audited neither way (an older release held back by Python 3.11) is listed by
name, never skipped in silence; with --strict it fails the run too.
"""

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

PROJECT_URL = "https://pypi.org/pypi/{name}/json"


def pip_audit(lock: Path) -> list[dict]:
    """Run pip-audit over the lock file and return its per-dependency results."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--require-hashes",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "-r",
            str(lock),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if not run.stdout.strip():
        sys.exit(f"pip-audit gave no report:\n{run.stderr}")
    return json.loads(run.stdout)["dependencies"]


def locked_versions(lock: Path) -> dict[str, str]:
    """Return the pinned version of every requirement in the lock file, by normalised name."""
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            pins[normalise(name)] = rest.split()[0].rstrip("\\")
    return pins


def normalise(name: str) -> str:
    """Return a project name as PyPI compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def latest_release_advisories(name: str, version: str) -> list[str] | None:
    """Return the advisory ids of a pin that is its project's latest release, else None."""
    with urllib.request.urlopen(PROJECT_URL.format(name=name), timeout=30) as answer:
        project = json.load(answer)
    if project["info"]["version"] != version:
        return None
    return [advisory["id"] for advisory in project.get("vulnerabilities") or []]


def main(lock: Path, strict: bool) -> int:
    """Print the findings and return the exit status (1 on a vulnerability)."""
    found, unaudited, audited = [], [], 0
    pins = locked_versions(lock)
    for dependency in pip_audit(lock):
        name = dependency["name"]
        version = dependency.get("version") or pins[normalise(name)]
        if "skip_reason" not in dependency:
            audited += 1
            found += [
                f"{name}=={version}: {v['id']} (fix: {v['fix_versions']})"
                for v in dependency["vulns"]
            ]
            continue
        advisories = latest_release_advisories(name, version)
        if advisories is None:
            unaudited.append(f"{name}=={version}")
            continue
        audited += 1
        found += [f"{name}=={version}: {advisory}" for advisory in advisories]
    print(f"{audited} pins audited, {len(found)} known vulnerabilities")
    for line in found:
        print("  vulnerable:", line)
    for pin in unaudited:
        print("  WARNING not auditable here (not its project's latest release):", pin)
    return 1 if found or (strict and unaudited) else 0


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--strict"]
    sys.exit(main(Path(arguments[0] if arguments else "requirements.lock"), "--strict" in sys.argv))
