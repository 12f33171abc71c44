"""TDI standard tables: parts, protection, one release per table, CSV, bad input."""

import csv
import io
from collections import Counter

import pytest

from registry.stats.tdi import TDI_TABLES
from tests.conftest import bearer
from tests.stats.conftest import YEAR

K = 10


def _get(client, token, table, year=YEAR, **headers):
    return client.get(
        f"/api/v1/stats/tdi/{table}?year={year}", headers={**bearer(token), **headers}
    )


def _first_rows(rows):
    first = {}
    for row in sorted(rows, key=lambda r: (r["person"], r["admitted_on"])):
        first.setdefault(row["person"], row)
    return list(first.values())


def test_injecting_table_is_split_by_treatment_status_and_safe(client, analyst, population):
    rows = _first_rows(population(400, seed=5))
    exact = Counter()
    for row in rows:
        injecting = "last_30d" if row["primary_drug"] == "heroin" else "never"
        part = {"no": "never_treated", "yes": "previously_treated"}[row["ever_treated"]]
        for p in ("all", part):
            exact[(p, injecting)] += 1
            exact[(p, "Total")] += 1
    answer = _get(client, analyst, "injecting")
    assert answer.status_code == 200, answer.json
    parts = answer.json["parts"]
    assert set(parts) == {"all", "never_treated", "previously_treated", "not_known"}
    for part, cells in parts.items():
        for cell in cells:
            n = exact[(part, cell["key"]["injecting"])]
            if cell["status"] == "suppressed":
                assert cell["value"] is None
            else:
                assert not 1 <= n < K
                assert abs(cell["value"] - n) <= 3 and cell["value"] not in (1, 2)
    again = _get(client, analyst, "injecting")
    assert again.json["parts"] == parts


@pytest.mark.parametrize("table", sorted(TDI_TABLES))
def test_every_standard_table_passes_the_pipeline(client, analyst, population, session, table):
    from registry.stats.models import StatsRelease

    population(250, seed=9)
    answer = _get(client, analyst, table)
    assert answer.status_code == 200, answer.json
    assert answer.json["protection"]["audit_passed"]
    cells = [c for part in answer.json["parts"].values() for c in part]
    assert cells
    for cell in cells:
        assert cell["status"] in ("published", "perturbed", "suppressed")
        assert (cell["value"] is None) == (cell["status"] == "suppressed")
        assert cell["value"] is None or cell["value"] == 0 or cell["value"] >= 3
    release = session.query(StatsRelease).filter_by(ref=answer.json["release"]).one()
    assert release.kind == "tdi" and release.definition["table"] == table
    assert release.cells == len(cells)  # one release holds every part of the table


def test_csv_on_request(client, analyst, population):
    population(150)
    answer = _get(client, analyst, "drug_by_sex", Accept="text/csv")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["part", "drug", "sex", "value", "status"]
    assert {r[0] for r in rows[1:]} == {"all", "never_treated", "previously_treated", "not_known"}
    assert answer.headers["X-Release"]


def test_unknown_table_is_404_and_bad_year_is_422(client, analyst):
    assert _get(client, analyst, "shoe_sizes").status_code == 404
    answer = _get(client, analyst, "route", year=YEAR + 3)
    assert answer.status_code == 422 and "year" in answer.json["errors"]
    answer = client.get("/api/v1/stats/tdi/route", headers=bearer(analyst))
    assert answer.status_code == 422 and "year" in answer.json["errors"]


@pytest.mark.parametrize("role", ["clinician", "admin", "clinic_admin"])
def test_standard_tables_are_for_analysts(client, make_user, role):
    assert _get(client, make_user(role)[1], "route").status_code == 403


def test_no_token_is_401(client):
    assert client.get(f"/api/v1/stats/tdi/route?year={YEAR}").status_code == 401
