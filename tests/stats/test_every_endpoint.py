"""One walk through every statistics endpoint: no published number is a small count (1..k-1)."""

import csv
import io

from registry.stats.dp_budget import MICRO
from registry.stats.output_models import StatsDpAnalyst
from registry.stats.scheduled import produce_due_release
from registry.stats.tdi import TDI_TABLES
from tests.conftest import bearer
from tests.stats.conftest import YEAR

K = 10
QUERIES = [
    {"year": YEAR, "dimensions": ["sex", "drug_group"]},
    {"year": YEAR, "dimensions": ["age_band", "region"], "filters": {"drug_group": ["opioids"]}},
    {"year": YEAR, "measure": "admissions", "dimensions": ["period", "centre_type"]},
    {"year": YEAR, "measure": "episodes", "dimensions": ["drug", "sex", "ever_treated"]},
]


def _cells(body) -> list[dict]:
    """Return every released cell anywhere in a JSON answer."""
    if isinstance(body, dict):
        if {"value", "status"} <= set(body):
            return [body]
        return [c for v in body.values() for c in _cells(v)]
    if isinstance(body, list):
        return [c for v in body for c in _cells(v)]
    return []


def _csv_values(text: str) -> list[dict]:
    return [
        {"value": int(r["value"]) if r["value"] else None, "status": r["status"]}
        for r in csv.DictReader(io.StringIO(text))
    ]


def _tdi(client, token, fmt=None, **headers):
    out = []
    for table in TDI_TABLES:
        url = f"/api/v1/stats/tdi/{table}?year={YEAR}" + (f"&format={fmt}" if fmt else "")
        answer = client.get(url, headers={**bearer(token), **headers})
        assert answer.status_code == 200, (table, answer.data[:200])
        out.append(answer)
    return out


def test_no_endpoint_publishes_a_small_count(app, client, session, make_user, population):
    population(250, seed=12)
    _, token = make_user("analyst")
    dp_user, dp_token = make_user("analyst")
    session.add(StatsDpAnalyst(user_id=dp_user.id, budget_micro=5 * MICRO))
    session.flush()
    app.config["STATS_PERTURB"] = False  # published values are then the exact counts
    try:
        published = _walk(client, token, dp_token)
    finally:
        app.config["STATS_PERTURB"] = True
    statuses = {c["status"] for c in published}
    assert statuses == {"published", "suppressed", "perturbed"}  # SDC and DP answers both seen
    shown = [c for c in published if c["status"] != "suppressed"]
    assert all(c["value"] is not None for c in shown)
    assert not [c for c in shown if 1 <= c["value"] < K]
    assert all(c["value"] is None for c in published if c["status"] == "suppressed")


def _walk(client, token, dp_token) -> list[dict]:
    """Call every statistics endpoint; return every released cell seen."""
    seen = []
    catalogue = client.get(f"/api/v1/stats/catalogue?year={YEAR}", headers=bearer(token))
    assert catalogue.status_code == 200 and not _cells(catalogue.json)  # codes only, no counts
    for body in QUERIES:
        answer = client.post("/api/v1/stats/query", headers=bearer(token), json=body)
        assert answer.status_code == 200, answer.json
        seen += _cells(answer.json)
    for phase in ("live", "scheduled"):
        if phase == "scheduled":
            assert produce_due_release(None).startswith("released")
        for answer in _tdi(client, token):
            assert ("through" in answer.json["definition"]) == (phase == "scheduled")
            seen += _cells(answer.json)
        for answer in _tdi(client, token, Accept="text/csv"):
            seen += _csv_values(answer.data.decode())
        assert all(a.data[:4] == b"\x89PNG" for a in _tdi(client, token, fmt="png"))
    for body in QUERIES[:2]:
        answer = client.post("/api/v1/stats/query", headers=bearer(dp_token), json=body)
        assert answer.status_code == 200, answer.json
        assert answer.json["protection"]["mechanism"] == "discrete_laplace"
        seen += _cells(answer.json)
    listed = client.get("/api/v1/stats/releases", headers=bearer(token))
    assert listed.status_code == 200
    assert {r["kind"] for r in listed.json} == {"query", "tdi", "scheduled", "dp"}
    assert not _cells(listed.json)  # the log holds records and hashes, never cell values
    return seen
