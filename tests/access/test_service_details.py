"""What a person chooses a service by: cost, wheelchair access, languages spoken, local time
named by its city, and anonymous or not, set by clinic admins and shown on every service."""

import pytest

from tests.access.test_directory import SERVICE
from tests.conftest import bearer

LANGS = ("ru", "kk", "en")


def test_clinic_admin_sets_cost_and_wheelchair_access(client, make_user):
    user, token = make_user("clinic_admin")
    url = f"/api/v1/clinics/{user.clinic_id}/services"
    made = client.post(
        url, headers=bearer(token), json=SERVICE | {"cost": "free", "wheelchair": True}
    )
    assert made.status_code == 201, made.json
    assert made.json["cost"] == "free" and made.json["wheelchair"] is True
    public = client.get(f"/api/v1/public/services/{made.json['id']}").json
    assert public["cost"] == "free" and public["wheelchair"] is True
    changed = client.patch(
        f"{url}/{made.json['id']}", headers=bearer(token), json={"cost": None, "wheelchair": False}
    )
    assert changed.status_code == 200, changed.json
    public = client.get(f"/api/v1/public/services/{made.json['id']}").json
    assert public["cost"] is None and public["wheelchair"] is False


def test_a_service_without_details_says_nothing_rather_than_guess(client, make_user):
    user, token = make_user("clinic_admin")
    made = client.post(
        f"/api/v1/clinics/{user.clinic_id}/services", headers=bearer(token), json=SERVICE
    )
    assert made.json["cost"] is None and made.json["wheelchair"] is None


@pytest.mark.parametrize(
    "change, field",
    [({"cost": "cheap"}, "cost"), ({"wheelchair": "maybe"}, "wheelchair"), ({"cost": 0}, "cost")],
)
def test_bad_details_are_422_naming_the_field(client, make_user, change, field):
    user, token = make_user("clinic_admin")
    answer = client.post(
        f"/api/v1/clinics/{user.clinic_id}/services", headers=bearer(token), json=SERVICE | change
    )
    assert answer.status_code == 422 and field in answer.json["errors"]


def test_search_filters_on_cost_and_wheelchair_access(client, make_service):
    make_service(name="Free ramp", cost="free", wheelchair=True)
    make_service(name="Paid steps", cost="paid", wheelchair=False)
    make_service(name="Unstated", cost=None, wheelchair=None)

    def names(query: str) -> set[str]:
        return {s["name"] for s in client.get(f"/api/v1/public/services?{query}").json["items"]}

    assert names("cost=free") == {"Free ramp"}
    assert names("cost=paid") == {"Paid steps"}
    assert names("wheelchair=true") == {"Free ramp"}
    assert names("per_page=50") == {"Free ramp", "Paid steps", "Unstated"}
    assert client.get("/api/v1/public/services?cost=cheap").status_code == 422
    page = client.get("/?lang=en&cost=free&wheelchair=true").get_data(as_text=True)
    assert "Free ramp" in page and "Paid steps" not in page


SHOWN = {
    "ru": ("Бесплатно", "Да: вход без ступенек", "Местное время: Алматы, UTC+5", "Не указано"),
    "kk": (
        "Тегін",
        "Иә: баспалдақсыз кіреберіс",
        "Жергілікті уақыт: Алматы, UTC+5",
        "Көрсетілмеген",
    ),
    "en": ("Free", "Yes: step-free entrance", "Local time: Almaty, UTC+5", "Not stated"),
}


@pytest.mark.parametrize("lang", LANGS)
def test_service_page_shows_cost_access_languages_and_the_city_of_its_time(
    client, make_service, session, lang
):
    from tests.access.conftest import new_slot

    stated = make_service(cost="free", wheelchair=True, languages=["kk", "ru", "en"])
    new_slot(session, stated)
    unstated = make_service(cost=None, wheelchair=None)
    html = client.get(f"/services/{stated.id}?lang={lang}").get_data(as_text=True)
    free, ramp, local, _ = SHOWN[lang]
    assert free in html and ramp in html and local in html
    assert "Asia/Almaty" not in html
    assert '<span lang="kk">Қазақша</span>, <span lang="ru">Русский</span>' in html
    other = client.get(f"/services/{unstated.id}?lang={lang}").get_data(as_text=True)
    assert other.count(SHOWN[lang][3]) == 2  # cost and access, both not stated


def test_anonymous_or_not_is_shown_both_ways_on_the_service_page(client, make_service):
    yes = make_service(anonymous=True)
    no = make_service(anonymous=False)
    assert "Yes: you can be treated without an ID document" in client.get(
        f"/services/{yes.id}?lang=en"
    ).get_data(as_text=True)
    assert "No: the clinic may ask for an ID document" in client.get(
        f"/services/{no.id}?lang=en"
    ).get_data(as_text=True)


def test_every_demo_service_states_its_cost_and_access(session, make_clinic):
    from sqlalchemy import select

    from registry.access.demo import seed_access_demo
    from registry.access.models import Service

    kinds = ("outpatient", "inpatient", "low_threshold")
    seed_access_demo([make_clinic(centre_type=kind) for kind in kinds])
    services = session.execute(select(Service)).scalars().all()
    assert services
    for service in services:
        assert service.cost in ("free", "paid") and service.wheelchair in (True, False)
    assert {s.cost for s in services} == {"free", "paid"}
