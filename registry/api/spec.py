"""The flask-smorest Api, documenting errors as problem+json and tokens as bearer auth."""

import http

from flask_smorest import Api
from flask_smorest.utils import prepare_response

from registry.api.problems import PROBLEM_JSON, ProblemSchema

API_SETTINGS = {
    "API_TITLE": "registry",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": "Anonymous addiction-treatment registry and care-access service.",
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An opaque token from `registry user create`.",
                }
            }
        },
    },
}


class RegistryApi(Api):
    """Api whose documented error responses are RFC 9457 problems."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        """Register one problem+json response per HTTP status, plus the default error."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)
