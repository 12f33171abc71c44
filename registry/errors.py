"""Domain errors; registry.api.problems maps them to RFC 9457 problem+json in one place."""

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditNote:
    """An audit entry to record even though the request fails (refused access, for example)."""

    action: str
    object_type: str
    object_id: str | None = None
    outcome: str = "refused"


class RegistryError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict | None = None,
        headers: dict | None = None,
        audit: AuditNote | None = None,
        extra: dict | None = None,
    ):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.audit = audit
        self.extra = extra or {}


class BadRequest(RegistryError):
    """The request cannot be read."""


class Unauthorized(RegistryError):
    """No valid credentials."""

    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(RegistryError):
    """Valid credentials without the right to do this."""

    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(RegistryError):
    """No such object, or not one this caller may see."""

    status, title, slug = 404, "Not found", "not-found"


class Conflict(RegistryError):
    """The object's state does not allow this."""

    status, title, slug = 409, "Conflict", "conflict"


class ValidationFailed(RegistryError):
    """Input is well-formed but breaks a rule; errors name fields, never values."""

    status, title, slug = 422, "Validation failed", "validation-failed"


class RuleViolation(ValidationFailed):
    """A protocol rule refuses the action."""

    title, slug = "Protocol rule violated", "rule-violation"


class TooManyRequests(RegistryError):
    """The caller is over a limit."""

    status, title, slug = 429, "Too many requests", "too-many-requests"


class ServiceUnavailable(RegistryError):
    """A dependency is down; try again later."""

    status, title, slug = 503, "Service unavailable", "service-unavailable"
