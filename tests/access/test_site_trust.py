"""The public pages for a person afraid of being seen: crisis help, anonymity, plain refusals."""

import re

import pytest

from registry.access import pow
from tests.access.conftest import as_public

LANGS = ["ru", "kk", "en"]
NALOXONE = {"ru": "налоксон", "kk": "налоксон", "en": "naloxone"}
ANONYMITY_TITLE = {
    "ru": "Как защищена ваша анонимность",
    "kk": "Сіздің анонимдігіңіз қалай қорғалады",
    "en": "How your anonymity is protected",
}


def _text(answer) -> str:
    return answer.get_data(as_text=True)


def _every_page(client, slot, lang) -> dict[str, str]:
    pages = {}
    for path in (
        "/",
        f"/services/{slot.service_id}",
        "/booking",
        "/services/999999",
        "/anonymity",
    ):
        as_public()
        pages[path] = _text(client.get(f"{path}?lang={lang}"))
    return pages


def _book(client, slot_id: int, lang: str = "en"):
    as_public()
    payload = pow.solve(client.get("/api/v1/public/challenge").json)
    as_public()
    return client.post("/book", data={"slot_id": slot_id, "altcha": payload, "lang": lang})


def _code(html: str) -> str:
    return re.search(r'id="booking-code"[^>]*>([^<]+)<', html).group(1)


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_shows_emergency_numbers_and_naloxone(client, make_slot, lang):
    slot = make_slot()
    for path, html in _every_page(client, slot, lang).items():
        assert 'href="tel:103"' in html and 'href="tel:112"' in html, path
        assert NALOXONE[lang] in html.lower(), path


def test_emergency_numbers_are_set_per_deployment(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "CRISIS_AMBULANCE_PHONE", "911")
    monkeypatch.setitem(app.config, "CRISIS_EMERGENCY_PHONE", "999")
    html = _text(client.get("/?lang=en"))
    assert 'href="tel:911"' in html and 'href="tel:999"' in html
    assert 'href="tel:103"' not in html


@pytest.mark.parametrize("lang", LANGS)
def test_anonymity_page_is_linked_from_every_page(client, make_slot, lang):
    slot = make_slot()
    for path, html in _every_page(client, slot, lang).items():
        assert f'href="/anonymity?lang={lang}"' in html, path
    page = client.get(f"/anonymity?lang={lang}")
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    assert ANONYMITY_TITLE[lang] in _text(page)


def test_anonymity_page_says_what_is_stored_asked_and_who_runs_it(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "SITE_OPERATOR", "Example Health Office, Almaty")
    monkeypatch.setitem(app.config, "SITE_COMPLAINTS", "complaints@example.kz, +7 727 000 00 00")
    html = _text(client.get("/anonymity?lang=en"))
    for fact in (
        "What we store",
        "What we do not store",
        "no name, no phone number and no ID document",
        "What the clinic may ask at the visit",
        "no cookies and no trackers",
        "Who runs this service",
        "Example Health Office, Almaty",
        "complaints@example.kz, +7 727 000 00 00",
    ):
        assert fact in html, fact


@pytest.mark.parametrize(
    "lang, words",
    [
        ("en", ("network address", "share", "Cancel one of your bookings", "phone the clinic")),
        ("ru", ("по сетевому адресу", "отмените одну из записей", "позвоните в клинику")),
    ],
)
def test_booking_cap_page_says_what_happened_and_what_to_do(
    client, app, make_slot, monkeypatch, lang, words
):
    monkeypatch.setitem(app.config, "BOOKINGS_PER_CLIENT", 3)
    slot = make_slot(capacity=10)
    for _ in range(3):
        assert _book(client, slot.id).status_code == 200
    fourth = _book(client, slot.id, lang)
    assert fourth.status_code == 429
    html = _text(fourth)
    assert "wait a little" not in html and "немного подождите" not in html.lower()
    for word in words:
        assert word in html, word


@pytest.mark.parametrize("lang", LANGS)
def test_language_switch_on_the_code_page_keeps_the_code(client, make_slot, lang):
    booked = _book(client, make_slot().id)
    html = _text(booked)
    code = _code(html)
    # The code never travels in a URL: the switch is a POST form carrying it.
    assert code not in " ".join(re.findall(r'href="([^"]*)"', html))
    assert re.search(r'<form method="post" action="/booking/code"', html)
    as_public()
    switched = client.post("/booking/code", data={"code": code, "lang": lang})
    assert switched.status_code == 200
    assert f'<html lang="{lang}">' in _text(switched)
    assert _code(_text(switched)) == code


def test_booking_without_javascript_is_possible_once_per_network(client, make_service, session):
    from tests.access.conftest import new_slot

    service = make_service(phone="+7 727 123 45 67", opening_hours={"mon": ["09:00-13:00"]})
    slot = new_slot(session, service, capacity=5)
    page = _text(client.get(f"/services/{service.id}?lang=en"))
    # Without the script the form posts, with no proof of work, to the stricter route.
    assert 'action="/book/no-script"' in page and 'data-action="/book"' in page
    as_public()
    first = client.post("/book/no-script", data={"slot_id": slot.id, "lang": "en"})
    assert first.status_code == 200 and len(_code(_text(first))) == 22
    as_public()
    second = client.post("/book/no-script", data={"slot_id": slot.id, "lang": "ru"})
    assert second.status_code == 429
    html = _text(second)
    assert "позвоните в клинику" in html
    assert 'href="tel:+77271234567"' in html and "09:00-13:00" in html


def test_booking_without_javascript_has_a_stricter_rate_limit(limited_app):
    from tests.access.conftest import seed_slots

    limited_app.config["NO_SCRIPT_BOOKINGS_PER_CLIENT"] = 100
    limited_app.config["BOOKING_NO_SCRIPT_LIMIT"] = "2 per hour"
    [slot_id] = seed_slots(limited_app, 1, capacity=50)
    client = limited_app.test_client()
    statuses = [
        client.post("/book/no-script", data={"slot_id": slot_id, "lang": "en"}).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    refused = client.post("/book/no-script", data={"slot_id": slot_id, "lang": "en"})
    assert "Booking without JavaScript is limited" in _text(refused)
    assert "phone the clinic" in _text(refused) and "Abay Ave 1" in _text(refused)


def test_every_public_page_weighs_at_most_60_kb_with_its_assets(client, make_slot):
    slot = make_slot()
    for lang in LANGS:
        for path, html in _every_page(client, slot, lang).items():
            assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
            weight = len(html.encode()) + sum(len(client.get(a).data) for a in assets)
            assert weight <= 60_000, (path, lang, weight)


TRANSLATED = {
    "name": "Methadone programme",
    "address": "Tole Bi 10, Almaty",
    "description": "Daily methadone with a doctor and a social worker.",
    "translations": {
        "ru": {
            "name": "Программа метадона",
            "address": "ул. Толе би, 10, Алматы",
            "description": "Метадон каждый день, с врачом и соцработником.",
        },
        "kk": {
            "name": "Метадон бағдарламасы",
            "address": "Төле би к-сі, 10, Алматы",
            "description": "Күн сайын метадон, дәрігер мен әлеуметтік қызметкермен.",
        },
    },
}


def test_clinic_admin_publishes_a_service_in_three_languages(client, make_user):
    from tests.access.test_directory import SERVICE
    from tests.conftest import bearer

    user, token = make_user("clinic_admin")
    answer = client.post(
        f"/api/v1/clinics/{user.clinic_id}/services",
        headers=bearer(token),
        json=SERVICE | TRANSLATED,
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["translations"]["kk"]["name"] == "Метадон бағдарламасы"
    public = client.get(f"/api/v1/public/services/{answer.json['id']}").json
    assert public["translations"]["ru"]["address"] == "ул. Толе би, 10, Алматы"
    assert public["description"] == TRANSLATED["description"]
    bad = client.patch(
        f"/api/v1/clinics/{user.clinic_id}/services/{answer.json['id']}",
        headers=bearer(token),
        json={"translations": {"de": {"name": "Methadon"}}},
    )
    assert bad.status_code == 422 and "translations.de.key" in bad.json["errors"]


@pytest.mark.parametrize("lang", LANGS)
def test_pages_show_a_service_in_the_page_language(client, make_service, session, lang):
    from tests.access.conftest import new_slot

    service = make_service(**TRANSLATED)
    slot = new_slot(session, service)
    source = TRANSLATED["translations"].get(lang, TRANSLATED)
    for path in ("/?", f"/services/{service.id}?"):
        html = _text(client.get(f"{path}lang={lang}"))
        assert source["name"] in html and source["address"] in html, path
    assert source["description"] in _text(client.get(f"/services/{service.id}?lang={lang}"))
    booked = _text(_book(client, slot.id, lang))
    assert source["name"] in booked and source["address"] in booked


def test_every_service_says_whether_it_treats_anonymously_and_explains_its_care(
    client, make_service
):
    make_service(name="Named clinic", anonymous=False, care_type="detox", medications=[])
    make_service(name="Anonymous clinic", anonymous=True)
    html = _text(client.get("/?lang=en"))
    assert "Anonymous care" in html
    assert "Not anonymous: the clinic may ask for an ID document" in html
    detox = _text(client.get("/?lang=en&care_type=detox"))
    # A short explanation of each care type, in plain words.
    assert "Help to stop using safely, with medicine for withdrawal" in detox


def test_every_demo_service_has_a_phone_hours_and_three_languages(session, make_clinic):
    from sqlalchemy import select

    from registry.access.demo import seed_access_demo
    from registry.access.models import Service

    clinics = [
        make_clinic(centre_type=kind) for kind in ("outpatient", "inpatient", "low_threshold")
    ]
    seed_access_demo(clinics)
    services = session.execute(select(Service)).scalars().all()
    assert len(services) == 5
    for service in services:
        assert service.phone and service.opening_hours and service.description, service.name
        for lang in ("ru", "kk"):
            text = service.translations[lang]
            assert text["name"] != service.name and text["address"] and text["description"]
