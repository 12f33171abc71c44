"""Semantic diff of two protocol versions, rule by rule (by stable rule id), not by text."""

from collections.abc import Mapping
from typing import Any

from registry.protocols.document import pointer
from registry.protocols.semantics import iter_rules

Flat = dict[str, Any]


def _is_rule(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and "message" in value


def _flatten(value: Any, prefix: str = "") -> Flat:
    """Flatten nested dicts into dotted keys; lists stay whole; nested rules are left out."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: Flat = {}
    for key, item in value.items():
        if _is_rule(item) or (isinstance(item, list) and item and all(map(_is_rule, item))):
            continue  # a nested rule is diffed under its own id
        flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _kind(path: list[Any]) -> str:
    return next((p for p in reversed(path) if isinstance(p, str)), "")


def rules_of(doc: Mapping[str, Any]) -> dict[str, tuple[str, str, Flat]]:
    """Return {rule id: (kind, JSON pointer, flattened fields)} for a document."""
    return {
        rule["id"]: (_kind(path), pointer(path), _flatten(rule)) for path, rule in iter_rules(doc)
    }


def _metadata(doc: Mapping[str, Any]) -> Flat:
    """Return the fields that are not rules, keyed so that reordering is not a change."""
    flat: Flat = {}
    for key in ("key", "version", "status", "publisher", "initial_stage", "title", "description"):
        if key in doc:
            flat.update(_flatten(doc[key], key))
    for source in doc.get("sources", []):
        flat.update(_flatten(source, f"sources.{source.get('id')}"))
    for stage in doc.get("stages", []):
        flat.update(_flatten(stage.get("name"), f"stages.{stage.get('id')}.name"))
    flat["stages"] = [stage.get("id") for stage in doc.get("stages", [])]
    instrument = doc.get("outcome_assessments", {}).get("instrument")
    if instrument is not None:
        flat["outcome_assessments.instrument"] = instrument
    return flat


def _changes(old: Flat, new: Flat) -> list[dict[str, Any]]:
    fields = sorted(set(old) | set(new))
    return [
        {"field": f, "old": old.get(f), "new": new.get(f)}
        for f in fields
        if old.get(f) != new.get(f)
    ]


def diff_documents(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Return added, removed and changed rules (with old and new values) and metadata changes."""
    before, after = rules_of(old), rules_of(new)
    added = [
        {"id": rid, "kind": after[rid][0], "path": after[rid][1], "value": after[rid][2]}
        for rid in sorted(set(after) - set(before))
    ]
    removed = [
        {"id": rid, "kind": before[rid][0], "path": before[rid][1], "value": before[rid][2]}
        for rid in sorted(set(before) - set(after))
    ]
    changed = []
    for rid in sorted(set(before) & set(after)):
        changes = _changes(before[rid][2], after[rid][2])
        if changes:
            kind, path = after[rid][0], after[rid][1]
            changed.append({"id": rid, "kind": kind, "path": path, "changes": changes})
    return {
        "from": {"key": old.get("key"), "version": old.get("version")},
        "to": {"key": new.get("key"), "version": new.get("version")},
        "added": added,
        "removed": removed,
        "changed": changed,
        "metadata": _changes(_metadata(old), _metadata(new)),
    }
