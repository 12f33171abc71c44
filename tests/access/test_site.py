"""The public pages: languages without cookies, strict CSP, escaping, and the booking flow."""

import re

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from registry.access import pow
from registry.site import TRANSLATIONS
from tests.access.conftest import as_public, seed_slots

HEADINGS = {
    "ru": "Найдите помощь рядом",
    "kk": "Жақын жерден көмек табыңыз",
    "en": "Find help near you",
}


def _text(answer) -> str:
    return answer.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_page_in_each_language_by_switch(client, lang):
    answer = client.get(f"/?lang={lang}")
    assert answer.status_code == 200
    html = _text(answer)
    assert f'<html lang="{lang}">' in html
    assert HEADINGS[lang] in html
    assert "Set-Cookie" not in answer.headers
    # Every internal link carries the language, since no cookie remembers it.
    assert f"/booking?lang={lang}" in html


@pytest.mark.parametrize(
    "header, lang", [("kk-KZ,kk;q=0.9,ru;q=0.8", "kk"), ("en-GB,en;q=0.9", "en"), ("de", "ru")]
)
def test_language_follows_accept_language(client, header, lang):
    html = _text(client.get("/", headers={"Accept-Language": header}))
    assert f'<html lang="{lang}">' in html


def test_pages_have_a_strict_csp_and_nothing_inline_or_third_party(client, make_slot):
    slot = make_slot()
    for path in ("/", f"/services/{slot.service_id}", "/booking"):
        answer = client.get(path)
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert answer.headers["Cache-Control"] == "no-store"
        html = _text(answer)
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), path
        assert not re.search(r"\son\w+=", html), path  # no inline event handlers
        assert "http://" not in html and "https://" not in html, path


def test_page_structure_is_accessible(client, make_slot):
    slot = make_slot()
    html = _text(client.get(f"/services/{slot.service_id}?lang=en"))
    assert 'class="skip" href="#main"' in html and 'id="main"' in html
    assert 'role="status" aria-live="polite"' in html
    index = _text(client.get("/?lang=en"))
    for field in ("region", "care_type", "medication", "language", "free_within_days", "anonymous"):
        assert f'<label for="{field}">' in index and f'id="{field}"' in index


def test_everything_shown_is_escaped(client, make_service, session):
    from tests.access.conftest import new_slot

    nasty = '<script>alert("x")</script>'
    service = make_service(name=nasty, address=nasty)
    new_slot(session, service)
    for path in ("/?lang=en", f"/services/{service.id}?lang=en"):
        html = _text(client.get(path))
        assert nasty not in html
        assert "&lt;script&gt;" in html
    reflected = _text(client.get('/?region="><script>x</script>'))
    assert "<script>x</script>" not in reflected


def test_search_filters_on_the_page(client, make_service):
    make_service(name="Talk group", care_type="psychosocial", medications=[])
    make_service(name="Methadone site", care_type="oat")
    html = _text(client.get("/?lang=en&care_type=psychosocial&per_page=50"))
    assert "Talk group" in html and "Methadone site" not in html
    bad = _text(client.get("/?lang=en&care_type=spa"))
    assert "were not understood" in bad


def test_book_look_up_and_cancel_with_forms(client, make_slot):
    slot = make_slot(capacity=2)
    payload = pow.solve(client.get("/api/v1/public/challenge").json)
    as_public()
    booked = client.post("/book", data={"slot_id": slot.id, "altcha": payload, "lang": "en"})
    assert booked.status_code == 200
    code = re.search(r'id="booking-code"[^>]*>([^<]+)<', _text(booked)).group(1)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}-[0-9A-Z]{2}", code)
    assert "Write this code down" in _text(booked)
    as_public()
    looked = client.post("/booking", data={"code": code, "lang": "ru"})
    assert "Записаны" in _text(looked) and 'action="/booking/cancel"' in _text(looked)
    as_public()
    cancelled = client.post("/booking/cancel", data={"code": code, "lang": "kk"})
    assert cancelled.status_code == 200 and "Өзіңіз бас тарттыңыз" in _text(cancelled)


def test_page_errors_are_pages_with_the_right_status(client, make_slot):
    slot = make_slot(capacity=1, booked=1)
    wrong = client.post("/booking", data={"code": "0" * 18, "lang": "en"})
    assert wrong.status_code in (404, 422) and wrong.mimetype == "text/html"
    from registry.access.bookings import BOOKING_CODE
    from registry.crypto.codes import new_code

    unknown = client.post("/booking", data={"code": new_code(BOOKING_CODE), "lang": "en"})
    assert unknown.status_code == 404 and "No booking has this code" in _text(unknown)
    bad_pow = client.post("/book", data={"slot_id": slot.id, "altcha": "x", "lang": "en"})
    assert bad_pow.status_code == 422 and "automatic check" in _text(bad_pow)
    payload = pow.solve(client.get("/api/v1/public/challenge").json)
    full = client.post("/book", data={"slot_id": slot.id, "altcha": payload, "lang": "en"})
    assert full.status_code == 409
    assert client.get("/services/999999").status_code == 404
    big = client.post("/booking", data={"code": "x" * 70_000})
    assert big.status_code == 413


def test_site_pages_are_rate_limited_with_a_page(limited_app):
    [slot_id] = seed_slots(limited_app, 1, capacity=50)
    client = limited_app.test_client()
    statuses = [
        client.post("/book", data={"slot_id": slot_id, "altcha": "x", "lang": "en"}).status_code
        for _ in range(5)
    ]
    assert statuses == [422] * 4 + [429]
    answer = client.post("/book", data={"slot_id": slot_id, "altcha": "x", "lang": "en"})
    assert answer.status_code == 429 and answer.mimetype == "text/html"
    assert int(answer.headers["Retry-After"]) > 0


def test_every_page_view_declares_public_access(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("site.") and rule.endpoint != "site.static":
            assert app.view_functions[rule.endpoint].policy == "public", rule.rule


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_compiled_translations_match_their_sources(lang):
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as po, open(folder / "messages.mo", "rb") as mo:
        source, compiled = read_po(po), read_mo(mo)
    expected = {_key(m.id): _key(m.string) for m in source if m.id and m.string}
    got = {_key(m.id): _key(m.string) for m in compiled if m.id}
    assert got == expected, "run `make translations` to recompile"
    assert all(m.string for m in source if m.id), "untranslated messages"
