"""The statistics endpoints: roles, bad queries, protection on a populated database, releases."""

from collections import Counter

import pytest

from registry.stats.catalogue import age_band
from tests.conftest import bearer
from tests.stats.conftest import YEAR

K = 10
QUERY = {"year": YEAR, "measure": "persons", "dimensions": ["sex", "drug_group"]}


def _post(client, token, body):
    return client.post("/api/v1/stats/query", headers=bearer(token), json=body)


def test_catalogue_lists_dimensions_and_measures(client, analyst):
    answer = client.get(f"/api/v1/stats/catalogue?year={YEAR}", headers=bearer(analyst))
    assert answer.status_code == 200
    dims = {d["name"]: d for d in answer.json["dimensions"]}
    assert {"period", "region", "sex", "age_band", "drug", "injecting"} <= set(dims)
    assert dims["drug"]["hierarchy"]["group:opioids"][0] == "heroin"
    assert dims["period"]["hierarchy"][f"{YEAR}-Q2"] == [f"{YEAR}-04", f"{YEAR}-05", f"{YEAR}-06"]
    measures = {m["name"]: m["kind"] for m in answer.json["measures"]}
    assert measures == {
        "persons": "count",
        "episodes": "count",
        "admissions": "count",
        "discharges": "count",
        "retention": "rate",
        "completion": "rate",
        "adherence": "rate",
    }
    assert {"frequency", "age_first_use", "hiv_tested", "hcv_tested", "ost_status"} <= set(dims)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/stats/catalogue", None),
        ("post", "/api/v1/stats/query", QUERY),
        ("get", "/api/v1/stats/releases", None),
    ],
)
@pytest.mark.parametrize("role", ["clinician", "clinic_admin", "protocol_admin", "key_custodian"])
def test_other_roles_are_refused(client, make_user, method, path, body, role):
    token = make_user(role)[1]
    answer = getattr(client, method)(path, headers=bearer(token), json=body)
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/stats/catalogue"),
        ("post", "/api/v1/stats/query"),
        ("get", "/api/v1/stats/releases"),
    ],
)
def test_no_token_is_401(client, method, path):
    assert getattr(client, method)(path, json=QUERY).status_code == 401


def test_admin_reads_the_release_log_but_cannot_query(client, make_user):
    token = make_user("admin")[1]
    assert client.get("/api/v1/stats/releases", headers=bearer(token)).status_code == 200
    assert _post(client, token, QUERY).status_code == 403


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"dimensions": ["sex", "shoe_size"]}, "dimensions.1"),
        ({"dimensions": ["sex", "region", "age_band", "route", "injecting"]}, "dimensions"),
        ({"dimensions": ["drug", "drug_group"]}, "dimensions.1"),
        ({"dimensions": ["sex", "sex"]}, "dimensions.1"),
        ({"filters": {"sex": ["male", "robot"]}}, "filters.sex.1"),
        ({"filters": {"eye_colour": ["blue"]}}, "filters.eye_colour"),
        ({"measure": "heartbeats"}, "measure"),
        ({"year": 1850}, "year"),
        ({"year": YEAR + 1}, "year"),
    ],
)
def test_bad_queries_are_422_with_paths(client, analyst, change, path):
    answer = _post(client, analyst, {**QUERY, **change})
    assert answer.status_code == 422, answer.json
    assert path in answer.json["errors"]
    assert "robot" not in str(answer.json) and "shoe_size" not in answer.json.get("detail", "")


def test_a_small_population_is_answered_fully_suppressed(client, analyst, population):
    population(12)
    answer = _post(client, analyst, QUERY)
    assert answer.status_code == 200
    assert answer.json["cells"]
    assert all(c["status"] == "suppressed" and c["value"] is None for c in answer.json["cells"])


def _exact_person_counts(rows, dims):
    """Count persons by their first admission of the year, with all margins."""
    first = {}
    for row in sorted(rows, key=lambda r: (r["person"], r["admitted_on"])):
        first.setdefault(row["person"], row)
    counts = Counter()
    for row in first.values():
        codes = {
            "sex": row["sex"],
            "drug_group": row["drug_group"],
            "age_band": age_band(row["age"]),
        }
        for mask in range(2 ** len(dims)):
            key = tuple(codes[d] if mask >> i & 1 else "Total" for i, d in enumerate(dims))
            counts[key] += 1
    return counts


def test_published_cells_are_safe_and_repeatable(client, analyst, population):
    rows = population(400)
    first = _post(client, analyst, QUERY)
    second = _post(client, analyst, QUERY)
    assert first.status_code == 200, first.json
    assert first.json["cells"] == second.json["cells"]
    assert first.json["release"] != second.json["release"]
    exact = _exact_person_counts(rows, ("sex", "drug_group"))
    statuses = Counter()
    for cell in first.json["cells"]:
        n = exact[(cell["key"]["sex"], cell["key"]["drug_group"])]
        statuses[cell["status"]] += 1
        if cell["status"] == "suppressed":
            assert cell["value"] is None
            continue
        assert not 1 <= n < K, cell  # no small cell is published
        assert cell["value"] not in (1, 2)
        assert abs(cell["value"] - n) <= 3
    assert statuses["suppressed"] and statuses["perturbed"]
    total = next(c for c in first.json["cells"] if set(c["key"].values()) == {"Total"})
    assert total["status"] == "perturbed"


def test_filters_and_hierarchies_go_through_the_same_pipeline(client, analyst, population):
    population(300)
    body = {
        "year": YEAR,
        "measure": "admissions",
        "dimensions": ["period", "drug"],
        "filters": {"sex": ["male"], "drug": ["group:opioids"]},
    }
    answer = _post(client, analyst, body)
    assert answer.status_code == 200, answer.json
    codes = {c["key"]["period"] for c in answer.json["cells"]}
    assert {"Total", f"{YEAR}-Q1", f"{YEAR}-01"} <= codes
    assert all(c["value"] is None or c["value"] not in (1, 2) for c in answer.json["cells"])


def test_every_answer_is_recorded_as_a_release(client, analyst, population, session):
    from registry.audit.models import AuditEntry

    population(100)
    answer = _post(client, analyst, QUERY)
    log = client.get("/api/v1/stats/releases", headers=bearer(analyst))
    assert log.status_code == 200
    latest = log.json[0]
    assert latest["ref"] == answer.json["release"]
    assert latest["definition"]["dimensions"] == ["sex", "drug_group"]
    assert latest["parameters"]["threshold"] == K
    assert len(latest["output_hash"]) == 64
    assert latest["cells"] == len(answer.json["cells"])
    audited = session.query(AuditEntry).filter_by(action="stats.release").all()
    assert latest["ref"] in {e.object_id for e in audited}


def test_age_bands():
    assert age_band(14) == "<15" and age_band(15) == "15-19" and age_band(64) == "60-64"
    assert age_band(65) == "65+" and age_band(None) == "99"


def test_the_same_cell_gets_the_same_value_in_overlapping_queries(client, analyst, population):
    population(300, seed=3)
    wide = _post(client, analyst, QUERY).json["cells"]
    narrow = _post(client, analyst, {**QUERY, "dimensions": ["sex"]}).json["cells"]
    by_sex = {c["key"]["sex"]: c for c in narrow}
    compared = 0
    for cell in wide:
        if cell["key"]["drug_group"] == "Total" and cell["status"] != "suppressed":
            other = by_sex[cell["key"]["sex"]]
            if other["status"] != "suppressed":
                assert other["value"] == cell["value"]
                compared += 1
    assert compared


def test_a_table_too_large_is_refused(client, analyst, app):
    app.config["STATS_MAX_CELLS"] = 100
    try:
        answer = _post(client, analyst, {**QUERY, "dimensions": ["region", "drug"]})
    finally:
        app.config["STATS_MAX_CELLS"] = 200_000
    assert answer.status_code == 422 and "dimensions" in answer.json["errors"]


def test_merged_persons_are_counted_once_as_their_survivor(app, session, population):
    from registry.patients.models import Person
    from registry.stats.population import count_groups
    from registry.stats.sdc.model import KEY_MODULUS

    rows = population(40, seed=11)
    ids = sorted({r["person"] for r in rows})
    a, b, c = (session.get(Person, i) for i in ids[:3])
    b.merged_into_id = a.id
    c.merged_into_id = b.id  # a chain: c → b → a
    session.flush()
    keys = {p.id: int(p.record_key * KEY_MODULUS) for p in session.query(Person)}
    (persons,) = count_groups("persons", YEAR, [("sex",)])
    assert persons.total == len(ids) - 2
    survivors = set(ids) - {b.id, c.id}
    assert int(persons.keys.sum()) % KEY_MODULUS == sum(keys[i] for i in survivors) % KEY_MODULUS
    (episodes,) = count_groups("admissions", YEAR, [("sex",)])
    assert episodes.total == len(rows)
