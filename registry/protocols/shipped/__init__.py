"""The protocols shipped with the registry, as YAML documents beside this module."""

import copy
from functools import cache
from importlib import resources

from registry.protocols.document import DocumentError, parse_document

NAMES = ("methadone_oat", "buprenorphine_oat", "alcohol_withdrawal", "psychosocial_outpatient")


def shipped_text(name: str) -> str:
    """Return the YAML text of a shipped protocol."""
    return resources.files(__package__).joinpath(f"{name}.yaml").read_text("utf-8")


@cache
def _load(name: str) -> dict:
    doc, problems = parse_document(shipped_text(name), "yaml")
    if doc is None or problems:
        raise DocumentError(problems)
    return doc


def shipped_documents() -> dict[str, dict]:
    """Return fresh copies of the shipped protocol documents by key, validated on first load."""
    return {name: copy.deepcopy(_load(name)) for name in NAMES}
