"""Count units (persons or episodes) per combination of raw values, in the database.

The population of a measure is one SQL query; each requested grouping is a GROUP BY over it,
all groupings in one UNION ALL round trip. Python only sees the groups (a few thousand rows,
whatever the number of persons), each with its count and the sum of its units' record keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from registry import clock
from registry.access.models import Clinic
from registry.database import StatementTimeout, time_limited
from registry.episodes.codes import NOT_KNOWN, NOT_KNOWN_NUMBER, drug_group
from registry.episodes.models import ComplianceFlag, Episode
from registry.extensions import db
from registry.patients.models import Person
from registry.stats.catalogue import (
    NOT_DISCHARGED,
    OUTCOME,
    QUARTERS,
    RATE_DAYS,
    age_band,
    first_use_band,
)
from registry.stats.sdc import deadline
from registry.stats.sdc.model import KEY_MODULUS

# Spreads episode ids over the key space so that each episode gets its own fixed record key.
EPISODE_KEY_STEP = 2654435761
# (admission day since 1990) * ID_SPAN + episode id orders episodes by day, then id.
FIRST_DAY_YEAR = 1990
ID_SPAN = 2**32
# Raw column of the population each dimension is read from.
RAW_COLUMN = {
    "period": "month",
    "quarter": "month",
    "age_band": "age",
    "drug": "primary_drug",
    "drug_group": "primary_drug",
    "region": "region_code",
    "protocol": "protocol_key",
}
PLAIN_COLUMNS = (
    "centre_type",
    "sex",
    "referral_source",
    "route",
    "injecting",
    "ever_treated",
    "frequency",
    "age_first_use",
    "hiv_tested",
    "hcv_tested",
    "ost_status",
    "discharge_reason",
)


@dataclass(frozen=True)
class Groups:
    """Counted groups of one grouping: raw values per dimension, counts and key sums."""

    values: dict[str, np.ndarray]
    counts: np.ndarray
    keys: np.ndarray

    @property
    def total(self) -> int:
        """Return the number of units in all groups."""
        return int(self.counts.sum())


def raw_column(name: str) -> str:
    """Return the population column a dimension (or the outcome) is read from."""
    return RAW_COLUMN.get(name, name)


def leaf_codes(name: str, year: int, values: np.ndarray) -> np.ndarray:
    """Return each group's leaf code in a dimension from its raw value."""
    mapping: dict[str, Callable] = {
        "period": lambda m: f"{year}-{int(m):02d}",
        "quarter": lambda m: QUARTERS[(int(m) - 1) // 3],
        "age_band": lambda a: age_band(None if a is None else int(a)),
        "age_first_use": lambda a: first_use_band(None if a is None else int(a)),
        "drug_group": lambda d: drug_group(d) or NOT_KNOWN,
        "discharge_reason": lambda r: r or NOT_DISCHARGED,
    }
    convert = mapping.get(name, lambda v: v)
    return np.array([convert(v) for v in values], dtype=object)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _days(later, earlier):
    """Return the whole days between two dates, in SQL."""
    if _dialect() == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), BigInteger)
    return cast(later - earlier, BigInteger)


def _key_integer(record_key):
    """Return a person's record key in [0, 2**32) as Python's int(k * 2**32) does."""
    scaled = record_key * float(KEY_MODULUS)
    # SQLite's CAST truncates like int(); PostgreSQL's rounds, so floor first.
    return cast(scaled if _dialect() == "sqlite" else func.floor(scaled), BigInteger)


def _survivors():
    """Return (id, record_key of the surviving person) for every merged person, chains followed."""
    chain = (
        select(Person.id.label("id"), Person.merged_into_id.label("root"))
        .where(Person.merged_into_id.is_not(None))
        .cte("merge_chain", recursive=True)
    )
    step = aliased(Person)
    # UNION (not ALL) stops on a cycle, which the services never create.
    chain = chain.union(
        select(chain.c.id, step.merged_into_id)
        .join(step, step.id == chain.c.root)
        .where(step.merged_into_id.is_not(None))
    )
    root = aliased(Person)
    return (
        select(chain.c.id, chain.c.root, root.record_key)
        .join(root, root.id == chain.c.root)
        .where(root.merged_into_id.is_(None))
        .subquery("survivor")
    )


def _age():
    """Return the age at entry: stored, else from birth year and month (99: not known)."""
    year = extract("year", Episode.admitted_on)
    month = extract("month", Episode.admitted_on)
    before_birthday = case(
        (and_(Episode.birth_month != NOT_KNOWN_NUMBER, month < Episode.birth_month), 1), else_=0
    )
    return case(
        (Episode.age_at_admission.is_not(None), Episode.age_at_admission),
        (Episode.birth_year == NOT_KNOWN_NUMBER, null()),
        else_=year - Episode.birth_year - before_birthday,
    )


def _month(measure: str, start: date):
    if measure in ("discharges", "completion"):
        return extract("month", Episode.discharged_on)
    if measure in ("episodes", "adherence"):
        return case((Episode.admitted_on < start, 1), else_=extract("month", Episode.admitted_on))
    return extract("month", Episode.admitted_on)


def _scope(measure: str, start: date, end: date, today: date):
    """Return the condition selecting a measure's episodes of the year."""
    if measure in ("discharges", "completion"):
        return Episode.discharged_on.between(start, end)
    if measure in ("episodes", "adherence"):
        return and_(
            Episode.admitted_on <= end,
            or_(Episode.discharged_on.is_(None), Episode.discharged_on >= start),
        )
    admitted = Episode.admitted_on.between(start, end)
    if measure == "retention":  # an open episode younger than 90 days has no outcome yet
        judged = or_(
            Episode.discharged_on.is_not(None), _days(today, Episode.admitted_on) >= RATE_DAYS
        )
        return and_(admitted, judged)
    return admitted


def _outcome(measure: str, start: date, end: date, today: date):
    """Return 'yes' or 'no' per episode for a rate measure, else None."""
    if measure == "retention":
        stay = _days(func.coalesce(Episode.discharged_on, today), Episode.admitted_on)
        met = stay >= RATE_DAYS
    elif measure == "completion":
        met = Episode.discharge_reason == "completed"
    elif measure == "adherence":
        overdue = exists().where(
            ComplianceFlag.episode_id == Episode.id,
            ComplianceFlag.status == "overdue",
            ComplianceFlag.computed_on.between(start, end),
        )
        met = and_(Episode.override_count == 0, ~overdue)
    else:
        return None
    return case((met, "yes"), else_="no")


def _first_admissions(start: date, end: date, survivor):
    """Return the id of each (surviving) person's first episode admitted in the year.

    The first is the smallest (admission day, id), packed into one integer so that a hash
    aggregate finds it without sorting a million rows; the wide admission record is joined
    afterwards for the chosen episodes only.
    """
    person = func.coalesce(survivor.c.root, Episode.person_id)
    packed = _days(Episode.admitted_on, date(FIRST_DAY_YEAR, 1, 1)) * ID_SPAN + Episode.id
    first = (
        select(func.min(packed).label("packed"))
        .outerjoin(survivor, survivor.c.id == Episode.person_id)
        .where(Episode.admitted_on.between(start, end))
        .group_by(person)
        .subquery("first_packed")
    )
    return select((first.c.packed % ID_SPAN).label("id")).subquery("first_admission")


def population(measure: str, year: int, needed: set[str] | None = None):
    """Return the measure's units of a year as a CTE: key and the raw columns needed."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    today = clock.now().date()
    survivor = _survivors()
    person_key = _key_integer(func.coalesce(survivor.c.record_key, Person.record_key))
    available = {
        "month": cast(_month(measure, start), Integer),
        "age": cast(_age(), Integer),
        "primary_drug": Episode.primary_drug,
        "region_code": Clinic.region_code,
        "protocol_key": Episode.protocol_key,
        **{name: getattr(Episode, name) for name in PLAIN_COLUMNS},
    }
    outcome = _outcome(measure, start, end, today)
    if outcome is not None:
        available[OUTCOME] = outcome
    columns = [
        col.label(name) for name, col in available.items() if needed is None or name in needed
    ]
    if measure == "persons":
        columns.append(person_key.label("unit_key"))
    else:
        unit_key = (person_key + Episode.id * literal(EPISODE_KEY_STEP, BigInteger)) % KEY_MODULUS
        columns.append(unit_key.label("unit_key"))
    # The FROM starts at episodes, whichever column comes first: left to infer it, SQLAlchemy
    # starts at the first column's table (clinics for a region-only table) and the joins break.
    stmt = (
        select(*columns)
        .select_from(Episode)
        .join(Person, Person.id == Episode.person_id)
        .outerjoin(survivor, survivor.c.id == Episode.person_id)
        .where(_scope(measure, start, end, today))
    )
    if needed is None or "region_code" in needed:
        stmt = stmt.join(Clinic, Clinic.id == Episode.clinic_id)
    if measure == "persons":
        first = _first_admissions(start, end, survivor)
        stmt = stmt.join(first, first.c.id == Episode.id)
    if _dialect() == "postgresql":
        return stmt.subquery("units")  # read once, by GROUPING SETS
    return stmt.cte("units").prefix_with("MATERIALIZED")


def _tune_postgres(session: Session) -> None:
    """Give this transaction's counting enough sort memory, and skip JIT compilation.

    The counts are a handful of sequential scans, sorts and hash aggregates: JIT costs
    seconds for nothing, and the default work_mem sends the ranking sort to disk.
    """
    if _dialect() == "postgresql":
        session.execute(text("SET LOCAL work_mem = '256MB'"))
        session.execute(text("SET LOCAL jit = off"))


@contextmanager
def counting_session() -> Iterator[Session]:
    """Yield the session statistics count in: the replica's when one is set, else the app's.

    On the replica (STATS_DATABASE_URL, the "stats" bind) the counting runs in a session of
    its own, which reads only and ends with the block; what a release writes (its record,
    the audit entry) goes through db.session to the primary as ever.
    """
    engine = db.engines.get("stats")
    if engine is None:
        yield db.session
        return
    with Session(engine) as session:
        yield session


def count_groups(measure: str, year: int, groupings: Sequence[Sequence[str]]) -> list[Groups]:
    """Count units per combination of raw values, for each grouping of dimension names."""
    columns = [[raw_column(name) for name in grouping] for grouping in groupings]
    every = sorted({c for cols in columns for c in cols})
    deadline.check()
    units = population(measure, year, set(every))
    with counting_session() as session:
        _tune_postgres(session)
        try:
            with time_limited(session, deadline.remaining()):
                if _dialect() == "postgresql":
                    rows = _grouping_sets(session, units, columns, every)
                else:
                    rows = _union(session, units, columns, every)
        except StatementTimeout:
            raise deadline.DeadlinePassed() from None
    return [_groups(rows, i, grouping, every) for i, grouping in enumerate(groupings)]


def _grouping_sets(
    session: Session, units, columns: list[list[str]], every: list[str]
) -> list[tuple]:
    """Count every grouping in one pass over the units (PostgreSQL GROUPING SETS).

    GROUPING() gives, per row, a bit per column left out of its set (first column highest),
    which tells the groupings apart; groupings with the same columns share their rows.
    """
    width = len(every)

    def mask(cols: list[str]) -> int:
        return sum(1 << (width - 1 - i) for i, c in enumerate(every) if c not in cols)

    wanted: dict[int, list[int]] = {}
    for i, cols in enumerate(columns):
        wanted.setdefault(mask(cols), []).append(i)
    sets = {mask(cols): tuple_(*(units.c[c] for c in cols)) for cols in columns}
    stmt = select(
        func.grouping(*(units.c[c] for c in every)).label("grouping"),
        *(units.c[c] for c in every),
        func.count().label("n"),
        func.sum(units.c.unit_key).label("key_sum"),
    ).group_by(func.grouping_sets(*sets.values()))
    rows = []
    for row in session.execute(stmt):
        for index in wanted.get(row.grouping, ()):
            rows.append((index, *row[1:]))
    return rows


def _union(session: Session, units, columns: list[list[str]], every: list[str]) -> list[tuple]:
    """Count every grouping over one materialised population, in one UNION ALL round trip."""
    parts = []
    for i, cols in enumerate(columns):
        # Typed NULLs: a database resolves UNION column types branch by branch.
        picked = [units.c[c] if c in cols else cast(null(), units.c[c].type) for c in every]
        parts.append(
            select(
                literal(i).label("grouping"),
                *(col.label(name) for col, name in zip(picked, every, strict=True)),
                func.count().label("n"),
                func.sum(units.c.unit_key).label("key_sum"),
            )
            .select_from(units)
            .group_by(*(units.c[c] for c in cols))
        )
    return [tuple(row) for row in session.execute(union_all(*parts))]


def _groups(rows: list[tuple], index: int, grouping: Sequence[str], every: list[str]) -> Groups:
    mine = [r for r in rows if r[0] == index]
    position = {name: 1 + every.index(raw_column(name)) for name in grouping}
    values = {name: np.array([r[position[name]] for r in mine], dtype=object) for name in grouping}
    counts = np.array([r[-2] for r in mine], dtype=np.int64)
    keys = np.array([int(r[-1]) % KEY_MODULUS for r in mine], dtype=np.uint64)
    return Groups(values, counts, keys)
