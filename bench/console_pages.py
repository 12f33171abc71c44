"""Server time of the clinicians' episode pages at N persons (target: at most 200 ms each).

Fills a PostgreSQL registry with N persons and one open episode each (copies of one episode
opened through the service, made in SQL: the page reads, not the fill, are measured), a share
of them at the clinician's clinic, then times each page in process (view, queries, template;
no network) and prints the median beside the target.
"""

import argparse
import os
import re
import statistics
import time
from datetime import date, timedelta

from common import Instance
from sqlalchemy import text

from registry import create_app
from registry.episodes.examples import ADMISSION_EXAMPLE
from registry.episodes.models import Episode
from registry.patients.models import Person

TARGET_MS = 200
PASSWORD = "a long bench password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _copy(table, skip: set[str], values: dict[str, str]) -> tuple[str, str]:
    """Return the column list and the SELECT list copying one row with some columns replaced."""
    names = [c.name for c in table.columns if c.name not in skip]
    return ", ".join(names), ", ".join(values.get(name, name) for name in names)


def fill(app, persons: int, clinic_share: int) -> tuple[int, str, str]:
    """Open one episode through the service, copy it (and its person) N times in SQL."""
    from registry.access.models import Clinic
    from registry.auth import credentials
    from registry.auth.users import create_user
    from registry.episodes.services import open_episode
    from registry.extensions import db
    from registry.patients.services import register_anonymous
    from registry.protocols.lifecycle import install_shipped_protocols

    with app.app_context():
        install_shipped_protocols()
        clinics = [
            Clinic(name=f"Clinic {i}", region_code="750000000", centre_type="outpatient")
            for i in range(2)
        ]
        db.session.add_all(clinics)
        db.session.flush()
        user = create_user("bench.clinician", ["clinician"], clinics[0].id)
        credentials.set_password(user, PASSWORD)
        pseudonym = register_anonymous(clinics[0].id).pseudonym
        body = {
            "pseudonym": pseudonym,
            "protocol": "methadone_oat",
            "diagnosis": "F11.2",
            "admitted_on": date.today() - timedelta(days=1),
            "admission": ADMISSION_EXAMPLE,
        }
        template = open_episode(clinics[0].id, user.id, body)
        db.session.commit()
        person_columns, person_select = _copy(Person.__table__, {"id"}, {})
        first = db.session.execute(text("SELECT max(id) FROM persons")).scalar_one()
        db.session.execute(
            text(
                f"INSERT INTO persons ({person_columns}) SELECT {person_select} "
                f"FROM persons, generate_series(1, :n) WHERE id = :template"
            ),
            {"n": persons, "template": template.person_id},
        )
        episode_columns, episode_select = _copy(
            Episode.__table__,
            {"id"},
            {
                "ref": "md5(g::text)",
                "person_id": ":first + g",
                "clinic_id": f"CASE WHEN g <= :share THEN {clinics[0].id} ELSE {clinics[1].id} END",
                "overdue_after": "CAST(admitted_on + (g % 90 - 45) AS DATE)",
            },
        )
        db.session.execute(
            text(
                f"INSERT INTO episodes ({episode_columns}) SELECT {episode_select} "
                f"FROM episodes, generate_series(1, :n) AS g WHERE id = :template"
            ),
            {"n": persons, "template": template.id, "first": first, "share": clinic_share},
        )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return clinics[0].id, pseudonym, template.ref


def signed_in(app):
    """Return a test client signed in as the bench clinician."""
    client = app.test_client()
    page = client.get("/console/sign-in?lang=en")
    token = _CSRF.search(page.get_data(as_text=True)).group(1)
    data = {"csrf_token": token, "name": "bench.clinician", "password": PASSWORD}
    assert client.post("/console/sign-in", data=data).status_code == 302
    return client


def timed(client, url: str, runs: int) -> float:
    """Return the median milliseconds of GET url (after one warm-up)."""
    assert client.get(url).status_code == 200, url
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, url
    return statistics.median(times)


def main() -> None:
    """Fill, then print each page's median server time beside the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--clinic-share", type=int, default=20_000, help="open episodes here")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    options = parser.parse_args()
    instance = Instance(options.database_url)
    try:
        os.environ.update(
            REGISTRY_INSTANCE_PATH=instance.env["REGISTRY_INSTANCE_PATH"],
            REGISTRY_DATABASE_URL=instance.env["REGISTRY_DATABASE_URL"],
        )
        app = create_app({"RATELIMIT_ENABLED": False, "CONSOLE_COOKIE_SECURE": False})
        started = time.perf_counter()
        _clinic, pseudonym, ref = fill(app, options.persons, options.clinic_share)
        print(f"filled {options.persons:,} persons in {time.perf_counter() - started:.0f} s")
        client = signed_in(app)
        pages = {
            "compliance list, page 1": "/console/compliance?lang=en",
            "compliance list, page 40": "/console/compliance?lang=en&page=40",
            "episode page": f"/console/episodes/{ref}?lang=en",
            "admission form": f"/console/patients/{pseudonym}/episodes/new?lang=en",
            "discharge form": f"/console/episodes/{ref}/discharge?lang=en",
        }
        for name, url in pages.items():
            median = timed(client, url, options.runs)
            print(f"{name}: {median:.1f} ms median server time (target <= {TARGET_MS} ms)")
    finally:
        instance.cleanup()


if __name__ == "__main__":
    main()
