"""Import of a synthetic legacy register: records per second beside the target (issue 25).

Run: python bench/import.py [--records N] [--database URL] [--batch N] [--escrow]

Writes a legacy CSV of N records (one row per episode; a person has one to three rows, four in
five by IIN and one in five by name, birth date and sex) into a fresh instance, then times
`registry import` on it, a separate process as an operator would run it. Target: at least
5,000 records a second, 1,000,000 records in under 4 minutes, on SQLite and on PostgreSQL.
A second run of the same file is timed too: it must change nothing, quickly.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Instance
from iins import random_iin

TARGET_RATE = 5000
TARGET_MILLION_SECONDS = 240
CLINICS = 40
COLUMNS = [
    "iin",
    "family_name",
    "given_name",
    "patronymic",
    "birth_date",
    "sex",
    "clinic",
    "admitted_on",
    "discharged_on",
    "diagnosis",
    "primary_drug",
    "discharge_reason",
    "protocol",
]
FAMILY = ["Иванов", "Ахметов", "Смагулов", "Ким", "Петров", "Серикбаев", "Нурланов", "Жумабаев"]
GIVEN = ["Айдар", "Иван", "Ерлан", "Сергей", "Данияр", "Алексей", "Марат", "Тимур", "Руслан"]
FATHERS = ["Иванович", "Маратович", "Сергеевич", "Ерланович", ""]
DRUGS = [
    ("F11.2", "heroin"),
    ("F10.2", "alcohol"),
    ("F12.1", "cannabis"),
    ("F15.2", "synthetic_cathinones"),
]
REASONS = ["completed", "dropped_out", "transferred", "other"]


def write_legacy_csv(path: Path, records: int, clinic_ids: list[int], seed: int = 25) -> int:
    """Write `records` rows of a synthetic legacy register; return the number of persons."""
    rng = random.Random(seed)
    persons = written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        while written < records:
            persons += 1
            who = _identity(rng)
            clinic = rng.choice(clinic_ids)
            day = dt.date(2010, 1, 1) + dt.timedelta(days=rng.randint(0, 4000))
            count = min(records - written, rng.choice((1, 1, 1, 2, 2, 3)))
            for n in range(count):
                diagnosis, drug = rng.choice(DRUGS)
                stay = rng.randint(5, 200)
                last_open = n == count - 1 and rng.random() < 0.1
                end = "" if last_open else (day + dt.timedelta(days=stay)).isoformat()
                reason = "" if last_open else rng.choice(REASONS)
                writer.writerow([*who, clinic, day.isoformat(), end, diagnosis, drug, reason, ""])
                day += dt.timedelta(days=stay + rng.randint(10, 300))
                written += 1
    return persons


def _identity(rng: random.Random) -> list[str]:
    if rng.random() < 0.8:
        return [random_iin(rng), "", "", "", "", ""]
    born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randint(0, 14000))
    return [
        "",
        rng.choice(FAMILY),
        rng.choice(GIVEN),
        rng.choice(FATHERS),
        born.isoformat(),
        "M",
    ]


def make_clinics(instance: Instance) -> list[int]:
    """Create the clinics the synthetic register names; return their ids."""
    os.environ.update(instance.env)
    from registry import create_app
    from registry.access.models import Clinic
    from registry.extensions import db

    app = create_app()
    with app.app_context():
        clinics = [
            Clinic(name=f"Legacy clinic {n}", region_code="750000000", centre_type="outpatient")
            for n in range(CLINICS)
        ]
        db.session.add_all(clinics)
        db.session.commit()
        ids = [c.id for c in clinics]
        db.engine.dispose()
    return ids


def main() -> None:
    """Generate the file, import it twice and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--database", default="", help="PostgreSQL server URL (else SQLite)")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--escrow", action="store_true", help="seal identities to a custodian")
    args = parser.parse_args()
    instance = Instance(args.database)
    try:
        if args.escrow:
            private, public = instance.path / "custodian.key", instance.path / "custodian.pub"
            instance.cli(
                "keys", "custodian-init", "--out", str(private), "--public-out", str(public)
            )
            instance.env["REGISTRY_ESCROW_PUBLIC_KEY"] = public.read_text().strip()
        clinics = make_clinics(instance)
        path = instance.path / "legacy.csv"
        start = time.perf_counter()
        persons = write_legacy_csv(path, args.records, clinics)
        made = time.perf_counter() - start
        print(f"legacy file: {args.records} records, {persons} persons ({made:.1f} s to write)")
        engine = "PostgreSQL" if args.database else "SQLite"
        first = _timed(instance, path, args.batch, bool(args.database))
        rate = args.records / first
        million = 1_000_000 / rate
        print(
            f"{engine}: import {args.records} records in {first:.1f} s: {rate:,.0f} records/s "
            f"(target >= {TARGET_RATE:,}) {'OK' if rate >= TARGET_RATE else 'BELOW TARGET'}"
        )
        print(
            f"{engine}: 1,000,000 records at this rate: {million:.0f} s "
            f"(target < {TARGET_MILLION_SECONDS} s) "
            f"{'OK' if million < TARGET_MILLION_SECONDS else 'BELOW TARGET'}"
        )
        again = _timed(instance, path, args.batch, bool(args.database))
        print(f"{engine}: the same file again (changes nothing): {again:.1f} s")
    finally:
        instance.cleanup()


def _timed(instance: Instance, path: Path, batch: int, postgres: bool) -> float:
    """Run the import command; print its summary and CPU time; return its wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = _postgres_cpu() if postgres else None
    start = time.perf_counter()
    output = instance.cli("import", str(path), "--batch", str(batch))
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print("  " + output.splitlines()[0])
    # On a shared machine the wall time waits for cores others hold; the CPU times do not.
    line = f"  wall {seconds:.1f} s, import process CPU {cpu:.1f} s"
    if server is not None:
        line += f", local PostgreSQL server CPU {_postgres_cpu() - server:.1f} s (all its work)"
    print(line)
    return seconds


def _postgres_cpu() -> float | None:
    """Return the CPU seconds of this machine's postgres processes and their ended children."""
    tick, total, found = os.sysconf("SC_CLK_TCK"), 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" not in text:
            continue
        found = True
        fields = text.rsplit(")", 1)[1].split()
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / tick if found else None


if __name__ == "__main__":
    main()
