"""A flask-smorest Blueprint whose auth decorators also document the security scheme."""

from flask_smorest import Blueprint

from registry.auth.guard import public, roles_required

# Errors any JSON endpoint can answer, documented once for all.
_COMMON_ERRORS = {
    400: "BAD_REQUEST",
    413: "REQUEST_ENTITY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


class ApiBlueprint(Blueprint):
    """Blueprint with `auth(*roles)` and `public` decorators that check and document access."""

    def auth(self, *roles: str):
        """Require a bearer token holding one of the roles; document 401 and 403."""

        def decorator(view):
            errors = {**_COMMON_ERRORS, 401: "UNAUTHORIZED", 403: "FORBIDDEN"}
            return self._describe(
                roles_required(*roles)(view),
                errors=errors,
                security=[{"bearerAuth": []}],
                description=f"Roles: {', '.join(sorted(roles))}.",
            )

        return decorator

    def public(self, view):
        """Open a view to everyone; document that no token is needed."""
        return self._describe(public(view), errors=_COMMON_ERRORS, security=[])

    def arguments(self, schema, *args, **kwargs):
        """Parse with one schema instance made here; webargs makes one per request from a class."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

    def _describe(self, view, *, errors: dict[int, str], **doc):
        """Document security and error responses without wrapping the view again."""
        responses = {str(status): name for status, name in errors.items()}
        described = self.doc(responses=responses, **doc)(view)
        described.policy = view.policy
        return described
