"""Load protocol documents (JSON or YAML) safely and validate them against our schema."""

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

DEFAULT_MAX_BYTES = 256 * 1024
DEFAULT_MAX_DEPTH = 16
DEFAULT_MAX_NODES = 50_000


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a document: a JSON Pointer and a message in English."""

    path: str
    message: str


class DocumentError(ValueError):
    """A document that cannot be used, with every problem found."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{p.path or '/'}: {p.message}" for p in problems))
        self.problems = problems


def pointer(parts: Any) -> str:
    """Return an RFC 6901 JSON Pointer for a sequence of keys and indices."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def schema() -> dict:
    """Return the published JSON Schema of protocol documents."""
    text = resources.files(__package__).joinpath("schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (aliases are bounded by a node count)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def _parse(text: str, fmt: str) -> Any:
    if fmt == "json":
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def shape_problem(value: Any, max_depth: int, max_nodes: int) -> Problem | None:
    """Return a problem if value nests deeper than max_depth or expands to over max_nodes."""
    # The node count bounds YAML alias expansion ("billion laughs"): aliases share nodes in
    # memory but multiply the work of every later walk.
    stack: list[tuple[Any, list[Any]]] = [(value, [])]
    nodes = 0
    while stack:
        node, path = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            return Problem("", f"document has more than {max_nodes} values")
        if len(path) > max_depth:
            return Problem(pointer(path), f"document is nested deeper than {max_depth} levels")
        if isinstance(node, dict):
            stack.extend((v, [*path, k]) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in enumerate(node))
    return None


def load_document(
    data: str | bytes,
    fmt: str = "yaml",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> dict:
    """Parse a JSON or YAML document within size and depth limits; raise DocumentError."""
    if fmt not in ("json", "yaml"):
        raise DocumentError([Problem("", f"unknown format {fmt!r}; use json or yaml")])
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise DocumentError([Problem("", f"document is {len(raw)} bytes; limit {max_bytes}")])
    try:
        doc = _parse(raw.decode("utf-8"), fmt)
    except RecursionError:
        raise DocumentError([Problem("", f"document is nested deeper than {max_depth} levels")])
    except (ValueError, yaml.YAMLError) as exc:
        raise DocumentError([Problem("", f"not valid {fmt.upper()}: {exc}")])
    problem = shape_problem(doc, max_depth, max_nodes)
    if problem is not None:
        raise DocumentError([problem])
    if not isinstance(doc, dict):
        raise DocumentError([Problem("", "document must be an object")])
    return doc


def _schema_problems(error: jsonschema.ValidationError) -> list[Problem]:
    """Turn one schema error into problems whose path points at the offending member."""
    path = list(error.absolute_path)
    instance, details = error.instance, error.schema
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = details.get("properties", {})
        extra = [k for k in instance if k not in allowed]
        return [Problem(pointer([*path, k]), "unknown key") for k in extra]
    if error.validator == "required" and isinstance(instance, dict):
        missing = [k for k in error.validator_value if k not in instance]
        return [Problem(pointer([*path, k]), "required key is missing") for k in missing]
    return [Problem(pointer(path), error.message)]


def schema_problems(doc: Any) -> list[Problem]:
    """Return every schema violation of doc, sorted by path."""
    problems: list[Problem] = []
    try:
        for error in _validator().iter_errors(doc):
            problems.extend(_schema_problems(error))
    except RecursionError:
        problems.append(Problem("", "document is too deeply nested"))
    return sorted(set(problems), key=lambda p: (p.path, p.message))


def validate_document(doc: Any) -> list[Problem]:
    """Return every schema and semantic problem of a parsed document; empty means valid."""
    from registry.protocols.semantics import semantic_problems

    problems = schema_problems(doc)
    if isinstance(doc, dict):
        problems += [p for p in semantic_problems(doc) if p not in problems]
    return problems


def parse_document(
    data: str | bytes,
    fmt: str = "yaml",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> tuple[dict | None, list[Problem]]:
    """Load and validate a document; return (document or None, problems); never raise."""
    try:
        doc = load_document(
            data, fmt, max_bytes=max_bytes, max_depth=max_depth, max_nodes=max_nodes
        )
    except DocumentError as exc:
        return None, exc.problems
    return doc, validate_document(doc)
