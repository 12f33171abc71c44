"""The public web pages: search, book, look up and cancel, in Russian, Kazakh and English."""

from pathlib import Path

from flask import Flask
from flask_babel import Babel

from registry.site.i18n import select_locale

babel = Babel()
TRANSLATIONS = Path(__file__).parent / "translations"


def register_site(app: Flask) -> None:
    """Bind Flask-Babel and register the pages."""
    from registry.site.routes import site

    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["SITE_LANGUAGES"].split(",")[0])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(site)
