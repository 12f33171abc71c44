"""Draw a synthetic treatment population (no real data): persons and their episodes.

Calibration (issue #7): about 83% of persons are treated for alcohol and 17% for drugs; among
drugs opioids are about a third, cannabis and synthetic stimulants most of the rest; drug
patients are 85-90% men; opioid patients are mostly 35-54 and stimulant users 18-29; regions are
weighted by population; some persons have several episodes in several clinics.
Everything comes from one numpy generator per batch, so a seed gives the same population.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

# Population in thousands by KATO region, approximate 2024 figures of the Bureau of National
# Statistics; a region missing here (another country's file) gets the median weight.
REGION_POPULATION = {
    "100000000": 605, "110000000": 785, "150000000": 930, "190000000": 1530,
    "230000000": 700, "270000000": 690, "310000000": 1220, "330000000": 700,
    "350000000": 1130, "390000000": 830, "430000000": 830, "470000000": 780,
    "550000000": 750, "590000000": 530, "610000000": 2140, "620000000": 220,
    "630000000": 730, "710000000": 1450, "750000000": 2290, "790000000": 1250,
}  # fmt: skip
DRUG_SHARE = 0.17
# Primary drug among drug patients: opioids ~1/3, cannabis and stimulants most of the rest.
DRUGS = {
    "heroin": 0.14, "methadone_misused": 0.04, "buprenorphine_misused": 0.01, "fentanyls": 0.01,
    "other_opioids": 0.05, "tramadol": 0.08,
    "cannabis": 0.22, "synthetic_cannabinoids": 0.07,
    "synthetic_cathinones": 0.14, "methamphetamine": 0.07, "amphetamines": 0.03, "mdma": 0.02,
    "pregabalin": 0.04, "benzodiazepines": 0.02, "cocaine_powder": 0.01, "ketamine": 0.01,
    "volatile_inhalants": 0.01, "other": 0.03,
}  # fmt: skip
OPIOIDS = {"heroin", "methadone_misused", "buprenorphine_misused", "fentanyls", "other_opioids"}
OPIOIDS |= {"tramadol"}
STIMULANTS = {"synthetic_cathinones", "methamphetamine", "amphetamines", "mdma"}
ICD = {  # primary drug → ICD-10 category of the diagnosis
    "cannabis": "F12", "synthetic_cannabinoids": "F12", "pregabalin": "F13",
    "benzodiazepines": "F13", "cocaine_powder": "F14", "ketamine": "F16",
    "volatile_inhalants": "F18", "other": "F19", "alcohol": "F10",
}  # fmt: skip
# (mean, sd) of age at admission by kind of drug.
AGES = {"opioids": (43, 7), "stimulants": (23, 4), "alcohol": (44, 11), "other": (28, 8)}
MALE = {"alcohol": 0.78, "drugs": 0.87}
EPISODES_PER_PERSON = ((1, 0.38), (2, 0.30), (3, 0.20), (4, 0.12))
ANOTHER_CLINIC = 0.4
DISCHARGE_REASONS = {
    "completed": 0.45, "dropped_out": 0.30, "terminated": 0.06, "transferred": 0.08,
    "incarcerated": 0.03, "died": 0.01, "other": 0.07,
}  # fmt: skip
FREQUENCY = {
    "daily": 0.45, "4_6_week": 0.2, "2_3_week": 0.15, "weekly_or_less": 0.1, "not_used": 0.07,
    "99": 0.03,
}  # fmt: skip


@dataclass(frozen=True)
class Clinics:
    """The synthetic clinics: ids, regions and centre types, index-aligned."""

    ids: np.ndarray
    regions: np.ndarray
    centre_types: np.ndarray


def _pick(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    p = np.array(list(table.values()), dtype=float)
    return np.array(list(table), dtype=object)[rng.choice(len(p), size=n, p=p / p.sum())]


def region_weights(codes: list[str]) -> np.ndarray:
    """Return population weights of regions, normalised (unknown regions: the median)."""
    known = [REGION_POPULATION[c] for c in codes if c in REGION_POPULATION]
    fallback = float(np.median(known)) if known else 1.0
    w = np.array([REGION_POPULATION.get(c, fallback) for c in codes], dtype=float)
    return w / w.sum()


def kind_of(drug: str) -> str:
    """Return the age/protocol kind of a primary drug."""
    if drug == "alcohol":
        return "alcohol"
    if drug in OPIOIDS:
        return "opioids"
    return "stimulants" if drug in STIMULANTS else "other"


def persons(rng: np.random.Generator, n: int, regions: list[str]) -> dict[str, np.ndarray]:
    """Return n persons: home region, primary drug, sex, age, record key, episode count."""
    drugs = np.where(rng.random(n) < DRUG_SHARE, _pick(rng, DRUGS, n), "alcohol").astype(object)
    kinds = np.array([kind_of(d) for d in drugs], dtype=object)
    male_p = np.where(kinds == "alcohol", MALE["alcohol"], MALE["drugs"])
    age = np.empty(n)
    for kind, (mean, sd) in AGES.items():
        sel = kinds == kind
        age[sel] = rng.normal(mean, sd, size=sel.sum())
    counts, shares = zip(*EPISODES_PER_PERSON, strict=True)
    return {
        "region": np.array(regions)[rng.choice(len(regions), n, p=region_weights(regions))],
        "drug": drugs,
        "kind": kinds,
        "sex": np.where(rng.random(n) < male_p, "male", "female").astype(object),
        "age": np.clip(np.rint(age), 18, 80).astype(int),
        "record_key": rng.random(n),
        "episodes": rng.choice(counts, size=n, p=shares),
        "birth_month": rng.integers(1, 13, size=n),
    }


def _in_groups(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Return the running sum of values within groups starting where `first` is set, exclusive."""
    total = np.cumsum(values) - values
    start = np.maximum.accumulate(np.where(first, np.arange(len(values)), 0))
    return total - total[start]


def _clinics(rng, clinics: Clinics, region: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Return a clinic index per episode: in the home region, sometimes another one than before."""
    regions = sorted(set(clinics.regions.tolist()))
    table = [np.flatnonzero(clinics.regions == r) for r in regions]
    width = max(len(t) for t in table)
    padded = np.array([np.resize(t, width) for t in table])
    sizes = np.array([len(t) for t in table])
    row = np.searchsorted(regions, region)
    candidate = padded[row, (rng.random(len(region)) * sizes[row]).astype(int)]
    switch = first | (rng.random(len(region)) < ANOTHER_CLINIC)
    return candidate[np.maximum.accumulate(np.where(switch, np.arange(len(region)), 0))]


def _protocols(rng, kind: np.ndarray, drug: np.ndarray, centre: np.ndarray):
    """Return protocol keys and diagnoses per episode by kind of drug and clinic type."""
    u = rng.random(len(kind))
    protocol = np.full(len(kind), "psychosocial_outpatient", dtype=object)
    diagnosis = np.array([ICD.get(d, "F15" if k == "stimulants" else "F11") for d, k in
                          zip(drug, kind, strict=True)], dtype=object) + ".2"  # fmt: skip
    alcohol, opioids = kind == "alcohol", kind == "opioids"
    inpatient = alcohol & (centre == "inpatient")
    protocol[inpatient] = "alcohol_withdrawal"
    diagnosis[inpatient & (u < 0.3)] = "F10.3"
    diagnosis[alcohol & ~inpatient & (u < 0.2)] = "F10.1"
    protocol[opioids & (u < 0.40)] = "methadone_oat"
    protocol[opioids & (u >= 0.40) & (u < 0.55)] = "buprenorphine_oat"
    return protocol, diagnosis


def episodes(
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    clinics: Clinics,
    year: int,
    today: date,
) -> dict[str, np.ndarray]:
    """Return every person's episodes in order (columns): clinic, dates, protocol, admission.

    A person's episodes follow each other in time, with a gap; only the last may stay open.
    """
    count = people["episodes"]
    person = np.repeat(np.arange(len(count)), count)
    first = np.zeros(len(person), dtype=bool)
    first[np.cumsum(count) - count] = True
    last = np.zeros(len(person), dtype=bool)
    last[np.cumsum(count) - 1] = True
    kind, drug = people["kind"][person], people["drug"][person]
    clinic = _clinics(rng, clinics, people["region"][person], first)
    protocol, diagnosis = _protocols(rng, kind, drug, clinics.centre_types[clinic])
    mean = np.select(
        [
            protocol == "alcohol_withdrawal",
            protocol == "methadone_oat",
            protocol == "buprenorphine_oat",
        ],
        [12, 260, 200],
        90,
    )
    stay = (rng.exponential(mean) + 1).astype(int)
    gap = rng.integers(7, 120, size=len(person))
    span = max(1, min((today - date(year, 1, 1)).days, 365))
    start0 = rng.integers(0, span, size=len(count))[person]
    offset = start0 + _in_groups(stay + gap, first)
    base = date(year, 1, 1).toordinal()
    admitted = base + offset
    end = admitted + stay - 1
    closed = (end < today.toordinal()) & (~last | (rng.random(len(person)) < 0.6))
    open_before = _in_groups((~closed).astype(int), first)
    keep = (admitted <= today.toordinal()) & (open_before == 0)
    out = {
        "person": person,
        "clinic": clinic,
        "protocol": protocol,
        "diagnosis": diagnosis,
        "admitted_on": admitted,
        "discharged_on": np.where(closed, end, 0),
        "reason": np.where(closed, _pick(rng, DISCHARGE_REASONS, len(person)), None),
    }
    out.update(admissions(rng, people, person, kind, drug))
    out["birth_year"] = year - 1 - out.pop("age")  # so that nobody is under their drawn age
    out["ever_treated"] = np.where(first, out["ever_treated"], "yes").astype(object)
    return {name: values[keep] for name, values in out.items()}


TESTED_INJECTING = {"last_12m": 0.5, "ever_not_12m": 0.25, "never": 0.2, "99": 0.05}
TESTED_OTHERS = {"last_12m": 0.2, "ever_not_12m": 0.2, "never": 0.55, "99": 0.05}
REFERRAL = {
    "self_family_friends": 0.45, "court_police": 0.15, "gp": 0.15, "other_health_social": 0.12,
    "other_treatment_centre": 0.08, "education": 0.02, "other": 0.03,
}  # fmt: skip
SOCIAL = {
    "living_with": {"family": 0.5, "partner": 0.25, "alone": 0.2, "other": 0.05},
    "living_with_children": {"no": 0.6, "own_children": 0.35, "other_children": 0.05},
    "living_where": {"stable": 0.85, "unstable": 0.12, "institution": 0.03},
    "education": {"upper_secondary": 0.6, "higher": 0.2, "lower_secondary": 0.15, "primary": 0.05},
    "labour_status": {"employed": 0.4, "unemployed": 0.4, "inactive": 0.12, "student": 0.08},
}
ROUTES = {
    "opioids": {"inject": 0.6, "smoke_inhale": 0.25, "sniff": 0.1, "eat_drink": 0.05},
    "stimulants": {"smoke_inhale": 0.5, "sniff": 0.3, "inject": 0.1, "eat_drink": 0.1},
}
SWALLOWED = ("pregabalin", "benzodiazepines", "tramadol", "alcohol")


def admissions(rng, people: dict, person: np.ndarray, kind: np.ndarray, drug: np.ndarray) -> dict:
    """Return TDI 3.0 admission items per episode, consistent with drug, route and age."""
    n = len(person)
    route = np.where(np.isin(drug, ("cannabis", "synthetic_cannabinoids")), "smoke_inhale", "other")
    route = route.astype(object)
    for k, table in ROUTES.items():
        route[kind == k] = _pick(rng, table, n)[kind == k]
    route[np.isin(drug, SWALLOWED)] = "eat_drink"
    injects = (route == "inject") | ((kind == "opioids") & (rng.random(n) < 0.2))
    recency = _pick(rng, {"last_30d": 0.7, "12m_not_30d": 0.2, "ever_not_12m": 0.1}, n)
    out = {name: _pick(rng, table, n) for name, table in SOCIAL.items()}
    for test in ("hiv", "hcv"):
        tested = np.where(injects, _pick(rng, TESTED_INJECTING, n), _pick(rng, TESTED_OTHERS, n))
        positive = (test == "hcv") & injects & (rng.random(n) < 0.4)
        result = np.where(positive, "positive", "negative").astype(object)
        out[f"{test}_tested"] = tested
        out[f"{test}_result"] = np.where(np.isin(tested, ("never", "99")), None, result)
    ost = _pick(rng, {"never": 0.7, "ever_not_current": 0.15, "current": 0.15}, n)
    age = people["age"][person]
    out.update(
        ever_treated=np.where(rng.random(n) < 0.35, "yes", "no").astype(object),
        referral_source=_pick(rng, REFERRAL, n),
        sex=people["sex"][person],
        age=age,
        birth_month=people["birth_month"][person],
        primary_drug=drug,
        route=route,
        frequency=_pick(rng, FREQUENCY, n),
        age_first_use=np.maximum(10, age - rng.integers(2, 20, size=n)),
        injecting=np.where(injects, recency, "never").astype(object),
        needle_sharing=np.where(injects & (rng.random(n) < 0.3), "ever_not_12m", "never"),
        ost_status=np.where(kind == "opioids", ost, "never").astype(object),
    )
    return out
