"""The legacy register's CSV format (docs/import.md): read rows, validate them, name bad ones.

A refused row is named by its line number and a rule ("admitted_on: not a date"), never by a
value: the file holds identities, and the report, the logs and the database must not.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from registry import clock
from registry.episodes import codes
from registry.errors import ValidationFailed
from registry.patients.identity import Identity, parse_identity
from registry.protocols.compiled import REASON_LABELS
from registry.protocols.icd10 import normalise

IDENTITY_COLUMNS = ("iin", "family_name", "given_name", "patronymic", "birth_date", "sex")
EPISODE_COLUMNS = (
    "admitted_on",
    "discharged_on",
    "diagnosis",
    "primary_drug",
    "discharge_reason",
    "protocol",
)
COLUMNS = (*IDENTITY_COLUMNS, "clinic", *EPISODE_COLUMNS)
NAME_IDENTITY = ("family_name", "given_name", "birth_date", "sex")
# Longest cell: a longer one is no name, code or date, and would only cost memory.
MAX_CELL = 200
# Admissions before this are no history the registry's statistics can use.
EARLIEST_ADMISSION = date(1950, 1, 1)
TDI_SEX = {"M": "male", "F": "female"}


class RowRejected(Exception):
    """A row breaks a rule; carries the rule's name only."""

    def __init__(self, rule: str):
        super().__init__(rule)
        self.rule = rule


@dataclass(slots=True)
class EpisodeRow:
    """A historic episode as the file gives it, validated."""

    admitted_on: date
    discharged_on: date | None
    diagnosis: str
    primary_drug: str
    reason: str | None
    protocol: str


@dataclass(slots=True)
class LegacyRow:
    """One validated row: who (as token material), where, and the episode if any."""

    line: int
    identity: Identity = field(repr=False)  # with the birth date
    sex: str = field(repr=False)  # TDI code, male or female
    clinic_id: int
    episode: EpisodeRow | None
    # Set by services.prepare_rows before the batch is written (keyed tokens, a new person).
    candidates: dict | None = field(default=None, repr=False)
    fresh: tuple | None = field(default=None, repr=False)


def check_header(header: list[str] | None) -> list[str]:
    """Return the header's column names, or raise 422 naming the file-level rule."""
    if not header:
        raise ValidationFailed(errors={"file": ["empty: a header line is required"]})
    names = [name.strip().lower() for name in header]
    unknown = sorted(set(names) - set(COLUMNS))
    problems: dict[str, list[str]] = {f"columns.{n[:40]}": ["unknown column"] for n in unknown}
    if len(set(names)) != len(names):
        problems["columns"] = ["a column appears twice"]
    if "clinic" not in names:
        problems["columns.clinic"] = ["required"]
    if "iin" not in names and not set(NAME_IDENTITY) <= set(names):
        problems["columns.iin"] = ["required, or family_name, given_name, birth_date and sex"]
    if problems:
        raise ValidationFailed(errors=problems)
    return names


def read_rows(stream: io.BufferedIOBase) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """Return the header and an iterator of (line number, {column: cell}) of a UTF-8 CSV."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    try:
        names = check_header(next(reader, None))
    except (UnicodeDecodeError, csv.Error):
        raise ValidationFailed(errors={"file": ["not a UTF-8 CSV file"]}) from None

    def rows() -> Iterator[tuple[int, dict]]:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise ValidationFailed(errors={"file": ["not UTF-8"]}) from None
            except csv.Error:
                yield reader.line_num, {"": "columns: not valid CSV"}
                continue
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if len(cells) != len(names):
                yield reader.line_num, {"": "columns: not as many cells as the header"}
                continue
            yield reader.line_num, dict(zip(names, cells, strict=True))

    return names, rows()


class RowParser:
    """Validate rows of one file: the protocols it may name, and identities parsed once each.

    A person's rows repeat the same identity cells; the cache keeps the last few thousand
    parsed identities in this process only, for this file only, and goes with the parser.
    """

    def __init__(self, protocols: set[str], default_protocol: str, cached: int = 4096):
        self.protocols = protocols
        self.default_protocol = default_protocol
        self._identity = lru_cache(maxsize=cached)(_identity)

    def parse(self, line: int, cells: dict) -> LegacyRow:
        """Validate one row's cells; raise RowRejected naming the first rule it breaks."""
        if "" in cells:
            raise RowRejected(cells[""])
        cells = {name: value.strip() for name, value in cells.items()}
        for name, value in cells.items():
            if len(value) > MAX_CELL:
                raise RowRejected(f"{name}: too long")
        identity = self._identity(tuple(cells.get(name, "") for name in IDENTITY_COLUMNS))
        clinic_id = _clinic_id(cells.get("clinic", ""))
        episode = _episode(cells, identity.birth_date, self.protocols, self.default_protocol)
        return LegacyRow(line, identity, TDI_SEX[identity.sex], clinic_id, episode)


def _identity(values: tuple[str, ...]) -> Identity:
    """Return the identity's token material, birth date and sex, as registration takes them."""
    cells = dict(zip(IDENTITY_COLUMNS, values, strict=True))
    fields: dict = {}
    if cells["iin"]:
        if any(cells[name] for name in ("family_name", "given_name", "patronymic")):
            raise RowRejected("identity: names not allowed with iin")
        fields["iin"] = cells["iin"]
    else:
        fields.update({n: cells[n] or None for n in ("family_name", "given_name", "patronymic")})
    if cells["birth_date"]:
        fields["birth_date"] = _date(cells["birth_date"], "birth_date")
    if cells["sex"]:
        if cells["sex"] not in TDI_SEX:
            raise RowRejected("sex: M or F")
        fields["sex"] = cells["sex"]
    try:
        return parse_identity(fields)
    except ValidationFailed as exc:
        name, rules = next(iter(exc.errors.items()))
        raise RowRejected(f"{name}: {rules[0]}") from None


def _clinic_id(text: str) -> int:
    if not text:
        raise RowRejected("clinic: required")
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise RowRejected("clinic: not a clinic id")
    return int(text)


def _date(text: str, name: str) -> date:
    if len(text) != 10:
        raise RowRejected(f"{name}: not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowRejected(f"{name}: not a date (YYYY-MM-DD)") from None


def _episode(cells: dict, born: date, protocols: set[str], default: str) -> EpisodeRow | None:
    """Return the row's episode, or None for a row that only registers the person."""
    if not cells.get("admitted_on"):
        given = [n for n in EPISODE_COLUMNS if cells.get(n)]
        if given:
            raise RowRejected(f"{given[0]}: not allowed without admitted_on")
        return None
    today = clock.now().date()
    admitted = _date(cells["admitted_on"], "admitted_on")
    if admitted > today:
        raise RowRejected("admitted_on: in the future")
    if admitted < max(born, EARLIEST_ADMISSION):
        raise RowRejected("admitted_on: before birth or 1950")
    discharged, reason = None, cells.get("discharge_reason") or None
    if cells.get("discharged_on"):
        discharged = _date(cells["discharged_on"], "discharged_on")
        if discharged < admitted:
            raise RowRejected("discharged_on: before admitted_on")
        if discharged > today:
            raise RowRejected("discharged_on: in the future")
        if reason is None:
            raise RowRejected("discharge_reason: required with discharged_on")
        if reason not in REASON_LABELS:
            raise RowRejected("discharge_reason: not a discharge reason code")
    elif reason is not None:
        raise RowRejected("discharge_reason: not allowed without discharged_on")
    diagnosis = cells.get("diagnosis", "")
    if not diagnosis:
        raise RowRejected("diagnosis: required with admitted_on")
    if not codes.valid_diagnosis(diagnosis):
        raise RowRejected("diagnosis: not an ICD-10 F10-F19 code")
    drug = cells.get("primary_drug") or codes.NOT_KNOWN
    if drug not in codes.item_codes()["primary_drug"]:
        raise RowRejected("primary_drug: not a drug code")
    protocol = cells.get("protocol") or default
    if protocol not in protocols:
        raise RowRejected("protocol: no active protocol with this key")
    return EpisodeRow(admitted, discharged, normalise(diagnosis), drug, reason, protocol)
