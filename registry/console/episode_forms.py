"""Episode forms: choices with labels from the code lists, read into the API's own input shapes."""

from datetime import date
from functools import cache
from typing import Any

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from registry.api.episodes.schemas import DischargeInSchema, EpisodeInSchema, EventInSchema
from registry.api.problems import flatten_messages
from registry.episodes import codes
from registry.errors import ValidationFailed
from registry.protocols.compiled import REASON_LABELS
from registry.site.i18n import current_language

# The event forms of the episode page (take-homes and stage changes stay with the API for now).
EVENT_FORMS = ("dose", "visit", "screen", "assessment")
_EPISODE_IN, _EVENT_IN, _DISCHARGE_IN = EpisodeInSchema(), EventInSchema(), DischargeInSchema()


def label(entry: dict[str, str]) -> str:
    """Return a {ru, kk, en} label in the page's language."""
    return entry.get(current_language()) or entry["en"]


def not_known() -> str:
    """Return "not known" in the page's language."""
    return label(codes.served()["not_known"]["label"])


def admission_items() -> list[dict[str, Any]]:
    """Return the TDI items the clinician fills, each with its label and labelled choices."""
    return _admission_items(current_language())


@cache
def _admission_items(_lang: str) -> list[dict[str, Any]]:
    """Build the items once per language: the code lists ship with the code."""
    items = []
    for name, item in codes.served()["tdi"].items():
        if name in codes.FROM_CLINIC:
            continue
        entry = {"name": name, "label": label(item["label"]), "optional": item["optional"]}
        if "numeric" in item:
            entry["numeric"] = item["numeric"]
        else:
            entry["choices"] = [(c["code"], label(c["label"])) for c in item["codes"]]
        items.append(entry)
    return items


def diagnoses() -> list[tuple[str, list[tuple[str, str]]]]:
    """Return the ICD-10 F10-F19 codes grouped by substance, each with its syndrome's label."""
    return _diagnoses(current_language())


@cache
def _diagnoses(_lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for entry in codes.served()["icd10"]:
        text = f"{entry['code']}: {label(entry['syndrome'])}"
        groups.setdefault(label(entry["substance"]), []).append((entry["code"], text))
    return list(groups.items())


def coded_choices(list_name: str) -> list[tuple[str, str]]:
    """Return the input codes of a coded list (override reasons, units …) with their labels."""
    served = {c["code"]: c for c in codes.served()[list_name]}
    return [(code, label(served[code]["label"])) for code in codes.input_codes(list_name)]


def discharge_reasons() -> list[tuple[str, str]]:
    """Return the discharge reasons with their labels."""
    return [(code, label(entry)) for code, entry in REASON_LABELS.items()]


def screen_choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return the screen's substances and results with their labels."""
    screen = codes.served()["screen"]
    pairs = [[(c["code"], label(c["label"])) for c in screen[part]] for part in screen]
    return pairs[0], pairs[1]


def outcome_fields() -> dict[str, Any]:
    """Return the TOP-like assessment items: substances of days used, and the other items."""
    outcome = codes.outcome_items()
    days = outcome["days_used"]
    return {
        "days_label": label(days["label"]),
        "days": [(code, label(entry)) for code, entry in days["substances"].items()],
        "days_range": days["range"],
        "items": [
            {"name": name, "label": label(item), "boolean": bool(item.get("boolean")), **item}
            for name, item in outcome["items"].items()
        ],
    }


def _number(text: str) -> Any:
    """Read a typed number; text that is no number goes on as text for the schema to refuse."""
    text = text.strip().replace(",", ".")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _load(schema: Schema, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise ValidationFailed(errors=flatten_messages(exc.messages)) from None


def _value(form: MultiDict, name: str, limit: int = 64) -> str:
    return (form.get(name) or "")[:limit].strip()


def admission_record(form: MultiDict) -> dict[str, Any]:
    """Read the admission items: an empty number is not known (99), an empty option left out."""
    record: dict[str, Any] = {}
    for item in admission_items():
        value = _value(form, f"admission.{item['name']}")
        if "numeric" in item:
            record[item["name"]] = _number(value) if value else codes.NOT_KNOWN_NUMBER
        elif value or not item["optional"]:
            record[item["name"]] = value or codes.NOT_KNOWN
    return record


def episode_payload(form: MultiDict, pseudonym: str) -> dict[str, Any]:
    """Turn the admission form into the API's episode body, validated by its schema."""
    secondary = _value(form, "secondary_diagnoses", 200).replace(",", " ").split()
    body: dict[str, Any] = {
        "pseudonym": pseudonym,
        "protocol": _value(form, "protocol"),
        "diagnosis": _value(form, "diagnosis", 16),
        "admitted_on": _value(form, "admitted_on", 16),
        "secondary_diagnoses": secondary,
        "admission": admission_record(form),
    }
    if _value(form, "diagnosis_icd11"):
        body["diagnosis_icd11"] = _value(form, "diagnosis_icd11", 16)
    if _value(form, "override_reason"):
        body["override_reason"] = _value(form, "override_reason")
    return _load(_EPISODE_IN, body)


def assessment_payload(form: MultiDict, prefix: str = "") -> dict[str, Any]:
    """Read a TOP-like assessment's filled fields (numbers, yes/no) into its API payload."""
    fields = outcome_fields()
    payload: dict[str, Any] = {}
    timepoint = _value(form, f"{prefix}timepoint")
    if timepoint:
        payload["timepoint"] = timepoint
    days = {
        code: _number(_value(form, f"{prefix}days_used.{code}"))
        for code, _label in fields["days"]
        if _value(form, f"{prefix}days_used.{code}")
    }
    if days:
        payload["days_used"] = days
    for item in fields["items"]:
        value = _value(form, f"{prefix}{item['name']}")
        if not value:
            continue
        if item["boolean"]:
            payload[item["name"]] = {"yes": True, "no": False}.get(value, value)
        else:
            payload[item["name"]] = _number(value)
    return payload


def _event_payload(kind: str, form: MultiDict) -> dict[str, Any]:
    if kind == "dose":
        payload = {name: _value(form, name) for name in ("medication", "unit")}
        payload["amount"] = _number(_value(form, "amount"))
        return payload
    if kind == "screen":
        substances, _results = screen_choices()
        typed = {code: _value(form, f"screen.{code}") for code, _label in substances}
        return {"results": {code: result for code, result in typed.items() if result}}
    if kind == "assessment":
        return assessment_payload(form)
    return {}


def event_payload(form: MultiDict) -> dict[str, Any]:
    """Turn an event form into the API's event body, validated by its schema."""
    kind = _value(form, "type")
    if kind not in EVENT_FORMS:
        raise ValidationFailed(errors={"type": ["unknown"]})
    body: dict[str, Any] = {"type": kind, "payload": _event_payload(kind, form)}
    occurred = _value(form, "occurred_at", 32)
    if occurred:
        body["occurred_at"] = occurred
    if _value(form, "override_reason"):
        body["override_reason"] = _value(form, "override_reason")
    return _load(_EVENT_IN, body)


def discharge_payload(form: MultiDict) -> dict[str, Any]:
    """Turn the discharge form into the API's discharge body, validated by its schema."""
    body: dict[str, Any] = {"reason": _value(form, "reason")}
    if _value(form, "discharged_on", 16):
        body["discharged_on"] = _value(form, "discharged_on", 16)
    assessment = assessment_payload(form, "exit.")
    if assessment:
        body["assessment"] = {"timepoint": "exit", **assessment}
    if _value(form, "override_reason"):
        body["override_reason"] = _value(form, "override_reason")
    return _load(_DISCHARGE_IN, body)


def field_messages(errors: dict[str, list[str]] | None) -> dict[str, str]:
    """Return a plain message per field named, naming the item (never the value typed)."""
    names = {f"admission.{i['name']}": i["label"] for i in admission_items()}
    out = {}
    for field in errors or {}:
        item = names.get(field) or _FIELD_NAMES.get(field.split(".")[0])
        if field.startswith("payload.") and field.split(".")[1] in _FIELD_NAMES:
            item = _FIELD_NAMES[field.split(".")[1]]
        out[field] = _("Check this: %(item)s.", item=item() if callable(item) else item or field)
    return out


_FIELD_NAMES = {
    "protocol": lambda: _("Protocol"),
    "diagnosis": lambda: _("Diagnosis (ICD-10)"),
    "diagnosis_icd11": lambda: _("Diagnosis (ICD-11), if known"),
    "secondary_diagnoses": lambda: _("Other diagnoses (ICD-10)"),
    "admitted_on": lambda: _("Admitted on"),
    "admission": lambda: _("Admission record"),
    "occurred_at": lambda: _("When"),
    "amount": lambda: _("Amount"),
    "unit": lambda: _("Unit"),
    "medication": lambda: _("Medication"),
    "results": lambda: _("Screen results"),
    "payload": lambda: _("The values of the event"),
    "override_reason": lambda: _("Reason to depart from the protocol"),
    "reason": lambda: _("Reason for discharge"),
    "discharged_on": lambda: _("Discharged on"),
    "assessment": lambda: _("Exit assessment"),
    "type": lambda: _("What to record"),
    "_rules": lambda: _("Protocol rules"),
}


def today_text(day: date) -> str:
    """Return a day as the value of a date input."""
    return day.isoformat()
