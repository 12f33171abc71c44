"""The booking code people keep: 80 random bits, two check characters, typos forgiven, old codes
still open their bookings, and the code page offers copy, print and a QR code without a URL."""

import base64
import hmac
import io
import itertools
import re

import pytest
import segno

from registry import keyring
from registry.access.bookings import (
    BOOKING_CODE,
    LEGACY_BOOKING_CODE,
    PURPOSE,
    MistypedCode,
    canonical_code,
    code_hash,
)
from registry.access.models import Booking, BookingStatus
from registry.crypto.codes import ALPHABET, check_symbols, new_code
from registry.extensions import db
from tests.access.conftest import as_public, book, solved

SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}-[0-9A-HJKMNP-TV-Z]{2}$")


def _other(ch: str) -> str:
    return ALPHABET[(ALPHABET.index(ch) + 1) % 32]


def test_code_carries_80_random_bits_in_18_grouped_symbols():
    assert BOOKING_CODE.bits >= 80
    codes = {new_code(BOOKING_CODE) for _ in range(3000)}
    assert len(codes) == 3000
    assert all(SHAPE.match(code) for code in codes)
    assert all(len(code.replace("-", "")) == 18 for code in codes)
    # Every data position takes every symbol: no position is fixed or skewed to a few values.
    for position in (0, 7, 15):
        assert len({code.replace("-", "")[position] for code in codes}) == 32


def test_round_trip_and_usual_typos():
    for _ in range(200):
        code = new_code(BOOKING_CODE)
        compact = code.replace("-", "")
        typed = [
            code,
            compact,
            compact.lower(),
            " ".join(code.split("-")),
            "  " + code.replace("-", " - ") + " ",
            code.replace("-", "--"),
            compact[:5] + "-" + compact[5:11] + " " + compact[11:],
            compact.replace("0", "O").replace("1", "I"),
            compact.replace("1", "l").replace("0", "o"),
            compact.replace("1", "L"),
            compact.replace("V", "U").replace("v", "u"),
            code.replace("-", "\u2013"),
        ]
        for text in typed:
            assert canonical_code(text) == code, text


def test_a_wrong_check_character_is_told_apart_from_a_wrong_length():
    code = new_code(BOOKING_CODE)
    compact = code.replace("-", "")
    for position in range(len(compact)):
        wrong = compact[:position] + _other(compact[position]) + compact[position + 1 :]
        with pytest.raises(MistypedCode) as err:
            canonical_code(wrong)
        assert err.value.rule == "check"
    for i, j in itertools.combinations(range(len(compact)), 2):
        if compact[i] != compact[j]:
            swapped = list(compact)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            with pytest.raises(MistypedCode):
                canonical_code("".join(swapped))
    for text, rule in [(compact[:-1], "length"), (compact + "7", "length"), ("", "empty")]:
        with pytest.raises(MistypedCode) as err:
            canonical_code(text)
        assert err.value.rule == rule
    with pytest.raises(MistypedCode) as err:
        canonical_code(compact[:-1] + "!")
    assert err.value.rule == "alphabet"


def test_old_long_codes_still_parse_and_never_pass_as_new_ones():
    old = new_code(LEGACY_BOOKING_CODE)
    assert old.startswith("B-")
    assert canonical_code(old.lower().replace("-", "")) == old
    assert canonical_code(old[2:]) == old
    # A new code whose first symbol is B is read and hashed as a new one, not as an old one.
    data = [ALPHABET.index("B")] + [7] * 15
    body = "".join(ALPHABET[v] for v in (*data, *check_symbols(data, BOOKING_CODE.tag)))
    new = canonical_code(body)
    assert new.startswith("B") and SHAPE.match(new)
    material = b"k" * 32
    assert code_hash(material, new) == hmac.new(material, body.encode(), "sha256").digest()
    assert code_hash(material, new) != code_hash(material, old)


def test_a_booking_stored_under_an_old_code_opens_and_cancels(client, make_slot):
    slot = make_slot(capacity=2, booked=1)
    old = new_code(LEGACY_BOOKING_CODE)
    key = keyring().primary(PURPOSE)
    db.session.add(
        Booking(
            slot_id=slot.id,
            code_hash=code_hash(key.material, old),
            key_version=key.version,
            status=BookingStatus.ACTIVE,
        )
    )
    db.session.commit()
    as_public()
    looked = client.post("/api/v1/public/bookings/lookup", json={"code": old.lower()})
    assert looked.status_code == 200 and looked.json["status"] == "active"
    as_public()
    cancelled = client.post("/api/v1/public/bookings/cancel", json={"code": old})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"


def test_api_reads_typed_codes_and_names_a_wrong_check(client, make_slot):
    code = book(client, make_slot(capacity=2).id).json["code"]
    assert SHAPE.match(code)
    sloppy = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    as_public()
    assert client.post("/api/v1/public/bookings/lookup", json={"code": sloppy}).status_code == 200
    wrong = code[:-1] + _other(code[-1])
    as_public()
    answer = client.post("/api/v1/public/bookings/lookup", json={"code": wrong})
    assert answer.status_code == 422
    assert answer.json["errors"]["code"] == [
        "the check characters do not match: a character is mistyped"
    ]
    as_public()
    short = client.post("/api/v1/public/bookings/cancel", json={"code": code[:-3]})
    assert short.status_code == 422 and "18" in short.json["errors"]["code"][0]


@pytest.mark.parametrize(
    ("lang", "says"),
    [("en", "Check the code"), ("ru", "Проверьте код"), ("kk", "Кодты тексеріңіз")],
)
def test_site_says_check_the_code_in_each_language(client, make_slot, lang, says):
    code = book(client, make_slot(capacity=2).id).json["code"]
    as_public()
    wrong = client.post("/booking", data={"code": code[:-1] + _other(code[-1]), "lang": lang})
    assert wrong.status_code == 422 and says in wrong.get_data(as_text=True)
    as_public()
    short = client.post("/booking/cancel", data={"code": code[:8], "lang": lang})
    assert short.status_code == 422 and "18" in short.get_data(as_text=True)


def _decoded_qr(data_uri: str) -> bytes:
    return base64.b64decode(data_uri.split(",", 1)[1])


def test_code_page_offers_copy_print_and_a_qr_code_without_a_url(client, make_slot):
    slot = make_slot(capacity=2)
    as_public()
    answer = client.post("/book", data={"slot_id": slot.id, "altcha": solved(client), "lang": "en"})
    html = answer.get_data(as_text=True)
    code = re.search(r'id="booking-code"[^>]*>([^<]+)<', html).group(1)
    # The buttons are the page's own script's: hidden until it runs, no inline code.
    assert re.search(r'<button type="button" data-copy="booking-code"[^>]*hidden>', html)
    assert re.search(r"<button type=\"button\" data-print hidden>", html)
    assert '<script src="/static/site/keep.js" defer></script>' in html
    assert "<script>" not in html and "onclick" not in html
    svg = re.search(r'<img src="(data:image/svg\+xml;base64,[^"]+)"', html).group(1)
    png = re.search(r'<a href="(data:image/png;base64,[^"]+)" download="booking-code.png"', html)
    assert _decoded_qr(svg).startswith(b"<svg") and _decoded_qr(png.group(1))[:4] == b"\x89PNG"
    # The QR code holds exactly the code's text: segno draws the same picture from it.
    drawn = io.BytesIO()
    segno.make_qr(code, error="m").save(drawn, kind="svg", border=4, scale=6, xmldecl=False)
    assert _decoded_qr(svg) == drawn.getvalue()
    # The code is in no link or form action: only in the text, the QR pictures and the
    # hidden field of the language switch, which posts it.
    for url in re.findall(r'(?:href|action|src)="([^"]+)"', html):
        assert code not in url and code.replace("-", "") not in url
    assert "@media print" in client.get("/static/site/site.css").get_data(as_text=True)


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_code_page_with_its_qr_code_and_assets_weighs_at_most_60_kb(client, make_slot, lang):
    slot = make_slot(capacity=2)
    as_public()
    answer = client.post("/book", data={"slot_id": slot.id, "altcha": solved(client), "lang": lang})
    html = answer.get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert "/static/site/keep.js" in assets and "/static/site/site.css" in assets
    weight = len(html.encode()) + sum(len(client.get(a).data) for a in assets)
    assert weight <= 60_000, weight


def test_a_mistyped_code_is_asked_again_with_what_was_typed_kept(client, make_slot):
    code = book(client, make_slot(capacity=2).id).json["code"]
    typed = code[:-1] + _other(code[-1])
    as_public()
    answer = client.post("/booking", data={"code": typed, "lang": "ru"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "Проверьте код" in html
    assert f'value="{typed}" aria-invalid="true" aria-describedby="code-error code-hint"' in html
    as_public()
    unknown = client.post("/booking", data={"code": new_code(BOOKING_CODE), "lang": "en"})
    assert unknown.status_code == 404 and 'id="code-error"' in unknown.get_data(as_text=True)
    as_public()
    hostile = client.post("/booking", data={"code": '"><script>x</script>', "lang": "en"})
    page = hostile.get_data(as_text=True)
    assert hostile.status_code == 422 and "<script>x" not in page and "&lt;script&gt;" in page
