"""Statistics: the catalogue, protected tables and the release log (DESIGN §7)."""

import csv
import io

from flask import Response, g, request

from registry import clock
from registry.api.blueprint import ApiBlueprint
from registry.api.stats import outputs
from registry.api.stats.schemas import (
    CatalogueQuerySchema,
    ReleaseSchema,
    TableAnswerSchema,
    TableQuerySchema,
    TdiAnswerSchema,
    TdiQuerySchema,
)
from registry.auth.models import Role
from registry.database import read_only
from registry.extensions import db
from registry.stats import catalogue, dp_budget, releases, scheduled
from registry.stats.query import run_query
from registry.stats.tdi import run_tdi, to_csv_rows

blp = ApiBlueprint(
    "stats", __name__, url_prefix="/api/v1/stats", description="Protected statistics"
)


@blp.route("/catalogue", methods=["GET"])
@read_only
@blp.auth(Role.ANALYST)
@blp.arguments(CatalogueQuerySchema, location="query")
@blp.response(200, description="Declared dimensions with their code trees, and measures")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def read_catalogue(query):
    """Return the catalogue of dimensions and measures analysts may tabulate."""
    return catalogue.describe(query["year"] or clock.now().year)


@blp.route("/query", methods=["POST"])
@blp.auth(Role.ANALYST)
@blp.arguments(TableQuerySchema)
@blp.response(200, TableAnswerSchema)
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def query_table(data):
    """Return a protected (or, in DP mode, noisy) table of up to 4 catalogue dimensions."""
    private = dp_budget.applies_to(g.user.id)
    if private:
        from registry.stats import dp  # OpenDP loads a large native library: only when needed

        query, answer = dp.run_dp_query(data, g.user.id)
    else:
        query, answer = run_query(data)
    release = releases.record_release("dp" if private else "query", query.definition(), answer)
    if private:
        dp.audit_dp_release(release.ref)
    db.session.commit()
    return {"release": release.ref, "definition": query.definition(), **answer}


@blp.route("/releases", methods=["GET"])
@blp.auth(Role.ANALYST, Role.ADMIN)
@blp.response(200, ReleaseSchema(many=True))
def list_releases():
    """Return the latest release records, newest first."""
    return releases.list_releases()


@blp.route("/tdi/<table>", methods=["GET"])
@blp.auth(Role.ANALYST)
@blp.arguments(TdiQuerySchema, location="query")
@blp.response(200, TdiAnswerSchema)
@blp.doc(responses={200: {"content": outputs.TDI_ALTERNATIVES}})
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def tdi_table(query, table: str):
    """Return a protected TDI standard table: JSON, CSV (Accept: text/csv) or a PNG/SVG chart.

    An analyst in differential-privacy mode gets a noisy answer charged to their budget instead.
    """
    if dp_budget.applies_to(g.user.id):
        from registry.stats import dp  # OpenDP loads a large native library: only when needed

        definition, answer = dp.run_dp_tdi(table, query["year"], g.user.id)
        ref = releases.record_release("dp", definition, answer).ref
        dp.audit_dp_release(ref)
        served = (ref, definition, answer)
    else:
        served = scheduled.serve_tdi(table, query["year"])
    if served is None:
        definition, answer = run_tdi(table, query["year"])
        ref = releases.record_release("tdi", definition, answer).ref
    else:
        ref, definition, answer = served
    db.session.commit()
    if query.get("format") in outputs.CHART_TYPES:
        return outputs.chart(definition, answer["parts"], ref, query["format"])
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        return _csv(definition, answer["parts"], ref)
    return {
        "release": ref,
        "definition": definition,
        "protection": answer["protection"],
        "parts": answer["parts"],
    }


def _csv(definition: dict, parts: dict, release_ref: str) -> Response:
    """Return a standard table as CSV; the release id travels in a header."""
    out = io.StringIO()
    csv.writer(out).writerows(to_csv_rows(definition, parts))
    headers = {"X-Release": release_ref}
    return Response(out.getvalue(), mimetype="text/csv", headers=headers)
