"""Schemathesis over /api/v1/openapi.json: every operation, as a role the table allows."""

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
)

from registry.api.policy import POLICY
from tests.fuzz.conftest import EXAMPLES

# Routes that serve the documentation rather than the API.
UNDOCUMENTED = ("/api/v1/openapi.json", "/api/v1/docs")

CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection, ignored_auth]
# Schemathesis's own list of statuses that reject invalid data, and 413: a generated body over
# MAX_CONTENT_LENGTH is refused before it is read, however else it breaks the schema.
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [*REJECTIONS, "5xx"]}}}
)
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 10,  # the short CI pass is the same every run; `make fuzz` roams
    database=None,
    suppress_health_check=list(HealthCheck),
)


def acting_role(method: str, path: str) -> str | None:
    """Return a role the policy table lets call an operation (None for public ones)."""
    rule = path
    for name in ("clinic_id", "service_id", "slot_id", "request_id", "n"):
        rule = rule.replace("{" + name + "}", f"<int:{name}>")
    rule = rule.replace("{", "<").replace("}", ">")
    access = POLICY[f"{method.upper()} {rule}"]
    return None if access.public else sorted(access.roles)[0]


@pytest.fixture(scope="module")
def api_schema(fuzz_app, role_tokens):
    """Load the app's own OpenAPI document with a bearer token per role."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app, config=CONFIG)

    def role_of(case, context) -> str:
        return str(acting_role(case.operation.method, case.operation.path))

    @schema.auth(cache_by_key=role_of)
    class RoleToken:
        """Send the token of the role the table allows for the operation."""

        def get(self, case, context):
            role = acting_role(case.operation.method, case.operation.path)
            return role_tokens[role] if role else None

        def set(self, case, data, context):
            if data:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


def _openapi_operations() -> list[tuple[str, str]]:
    """Return (method, OpenAPI path) of every documented API operation, from the policy table."""
    found = []
    for key in sorted(POLICY):
        method, rule = key.split(" ", 1)
        if rule.startswith("/api/v1/") and not rule.startswith(UNDOCUMENTED):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
            found.append((method, path))
    return found


@pytest.mark.fuzz
@pytest.mark.parametrize("method, path", _openapi_operations())
def test_operation(api_schema, method, path):
    operation = api_schema[path][method]
    generated = st.one_of(
        *(operation.as_strategy(mode, auth_storage=api_schema.auth) for mode in GenerationMode)
    )

    @given(case=generated)
    @FUZZ_SETTINGS
    def run(case):
        case.call_and_validate(checks=CHECKS)

    run()


@pytest.mark.fuzz
def test_linked_operations_in_sequence(api_schema):
    machine = api_schema.as_state_machine()

    class Checked(machine):
        def validate_response(self, response, case, additional_checks=(), **kwargs):
            case.validate_response(response, checks=CHECKS)

    sequences = settings(FUZZ_SETTINGS, max_examples=EXAMPLES, stateful_step_count=6)
    run_state_machine_as_test(Checked, settings=sequences)
