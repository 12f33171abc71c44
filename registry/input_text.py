"""Text no database can store: a NUL character, or a lone surrogate (half a UTF-16 pair).

PostgreSQL refuses a NUL in text, and no driver can encode a lone surrogate as UTF-8. Every
request's strings (path segments, query string, form and JSON body) are checked here once,
before any view runs, so that such input is a 422 naming the field rather than a 500.
"""

import json
import re
from collections.abc import Iterator, Mapping

UNSTORABLE = "must not contain a NUL character or a lone surrogate"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The only ways a JSON text can carry either: a \u0000 escape or a \uD800-\uDFFF escape
# (a raw NUL or raw surrogate bytes are already unreadable JSON). Pairs match too; the
# parsed strings decide. Ordinary bodies have neither and are not parsed here at all.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def is_storable(text: str) -> bool:
    """Tell whether a string can be stored as it is."""
    return _UNSTORABLE.search(text) is None


def unstorable_paths(value, path: str = "") -> Iterator[str]:
    """Yield the dotted path of every string (or key) that cannot be stored, in a JSON value.

    A bad key is reported at the object that holds it: naming the key would echo it.
    """
    if isinstance(value, str):
        if not is_storable(value):
            yield path or "_body"
    elif isinstance(value, Mapping):
        if not all(is_storable(str(key)) for key in value):
            yield path or "_body"
        for key, item in value.items():
            if is_storable(str(key)):
                yield from unstorable_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from unstorable_paths(item, f"{path}.{i}" if path else str(i))


def unstorable_json_paths(body: bytes) -> Iterator[str]:
    """Yield the paths of unstorable strings in a JSON body (unreadable JSON: its parser's job)."""
    if not _SUSPECT_ESCAPE.search(body):
        return
    try:
        # The standard library's parser, as the argument parser's: it reads lone surrogates.
        value = json.loads(body)
    except (ValueError, RecursionError):
        return
    yield from unstorable_paths(value)


def unstorable_fields(pairs: Iterator[tuple[str, str]], location: str) -> Iterator[str]:
    """Yield the names of form, query or path fields whose value cannot be stored."""
    for name, value in pairs:
        if not is_storable(name):
            yield location
        elif not is_storable(value):
            yield name
