"""QR pictures of a booking code, drawn on the server and embedded in the page that shows it."""

import base64
import io

import segno


def _data_uri(text: str, kind: str, mime: str, **options) -> str:
    out = io.BytesIO()
    # Error level M: a creased or smudged printout still reads.
    segno.make_qr(text, error="m").save(out, kind=kind, border=4, **options)
    return f"data:{mime};base64," + base64.b64encode(out.getvalue()).decode("ascii")


def qr_pictures(code: str) -> dict[str, str]:
    """Return the code's QR as an SVG to show and a PNG to save, both as data URIs.

    They are embedded, not linked: a picture fetched from a URL would put the code in it.
    """
    return {
        "svg": _data_uri(code, "svg", "image/svg+xml", scale=6, xmldecl=False),
        "png": _data_uri(code, "png", "image/png", scale=10),
    }
