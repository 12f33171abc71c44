"""OpenAPI links: which operation a created object's id leads to (clients and stateful fuzzing)."""

from apispec import BasePlugin

_PATIENT = "/api/v1/patients/{pseudonym}"
_EPISODE = "/api/v1/episodes/{ref}"
_CLINIC = "/api/v1/clinics/{clinic_id}"
_VERSION = "/api/v1/protocols/{key}/versions/{n}"
_REID = "/api/v1/reidentifications/{request_id}"
_BODY_ID = "$response.body#/id"

# (path, method, status) of a creating operation → {link name: (path, method, parameters)}.
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict]]] = {
    ("/api/v1/patients", "post", "201"): {
        "ReadPatient": (_PATIENT, "get", {"pseudonym": "$response.body#/pseudonym"}),
    },
    ("/api/v1/patients", "post", "200"): {
        "ReadKnownPatient": (_PATIENT, "get", {"pseudonym": "$response.body#/pseudonym"}),
    },
    ("/api/v1/patients/merges", "post", "201"): {
        "SplitMerge": (
            "/api/v1/patients/merges/{merge_id}/split",
            "post",
            {"merge_id": _BODY_ID},
        ),
    },
    ("/api/v1/episodes", "post", "201"): {
        "ReadEpisode": (_EPISODE, "get", {"ref": _BODY_ID}),
        "RecordEvent": (f"{_EPISODE}/events", "post", {"ref": _BODY_ID}),
        "Compliance": (f"{_EPISODE}/compliance", "get", {"ref": _BODY_ID}),
        "Discharge": (f"{_EPISODE}/discharge", "post", {"ref": _BODY_ID}),
    },
    ("/api/v1/clinics", "post", "201"): {
        "ReadClinic": (_CLINIC, "get", {"clinic_id": _BODY_ID}),
    },
    (f"{_CLINIC}/services", "post", "201"): {
        "EditService": (
            f"{_CLINIC}/services/{{service_id}}",
            "patch",
            {"clinic_id": "$request.path.clinic_id", "service_id": _BODY_ID},
        ),
    },
    ("/api/v1/protocols", "post", "201"): {
        "ReadVersion": (_VERSION, "get", {"key": "$response.body#/key", "n": "$response.body#/n"}),
        "ApproveVersion": (
            f"{_VERSION}/approve",
            "post",
            {"key": "$response.body#/key", "n": "$response.body#/n"},
        ),
    },
    ("/api/v1/reidentifications", "post", "201"): {
        "ReadRequest": (_REID, "get", {"request_id": _BODY_ID}),
        "ApproveRequest": (f"{_REID}/approve", "post", {"request_id": _BODY_ID}),
    },
}


def _operation_ref(path: str, method: str) -> str:
    """Return a JSON pointer to an operation of this document."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


class LinksPlugin(BasePlugin):
    """Add the declared links to the responses of creating operations."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        """Attach links to an operation's documented responses."""
        for method, operation in (operations or {}).items():
            for status, response in operation.get("responses", {}).items():
                links = LINKS.get((path, method, str(status)))
                if links and isinstance(response, dict):
                    response["links"] = {
                        name: {"operationRef": _operation_ref(target, verb), "parameters": params}
                        for name, (target, verb, params) in links.items()
                    }
