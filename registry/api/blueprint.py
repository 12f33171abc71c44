"""A flask-smorest Blueprint whose auth decorators also document the security scheme."""

import http

from flask_smorest import Blueprint

from registry.auth.guard import public, roles_required

# Errors any JSON endpoint can answer, documented once for all.
_COMMON_ERRORS = (
    "BAD_REQUEST",
    "REQUEST_ENTITY_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "TOO_MANY_REQUESTS",
    "SERVICE_UNAVAILABLE",
)


class ApiBlueprint(Blueprint):
    """Blueprint with `auth(*roles)` and `public` decorators that check and document access."""

    def auth(self, *roles: str):
        """Require a bearer token holding one of the roles; document 401 and 403."""

        def decorator(view):
            guarded = roles_required(*roles)(view)
            guarded = self.alt_response(401, response="UNAUTHORIZED")(guarded)
            guarded = self.alt_response(403, response="FORBIDDEN")(guarded)
            guarded = self._common_errors(guarded)
            described = self.doc(
                security=[{"bearerAuth": []}], description=f"Roles: {', '.join(sorted(roles))}."
            )(guarded)
            described.policy = guarded.policy
            return described

        return decorator

    def public(self, view):
        """Open a view to everyone; document that no token is needed."""
        view = self._common_errors(public(view))
        described = self.doc(security=[])(view)
        described.policy = view.policy
        return described

    def _common_errors(self, view):
        policy = getattr(view, "policy", None)
        for name in _COMMON_ERRORS:
            view = self.alt_response(http.HTTPStatus[name].value, response=name)(view)
        view.policy = policy
        return view
