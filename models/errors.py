"""Refusals, one hierarchy for the whole application: the services raise these, the web layer renders them.

SCIM's errors (`scim.errors.ScimError`) subclass `ServiceError` and add a `scimType`; the admin API renders any
`ServiceError` as its error JSON, the SCIM endpoints as RFC 7644 §3.12 error JSON.
"""


class ServiceError(Exception):
    """A refusal with an HTTP status, a message and optional per-field errors."""

    status = 400
    scim_type = None

    def __init__(self, message, *, errors=None, status=None, headers=None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        if status is not None:
            self.status = status


class NotFoundError(ServiceError):
    status = 404


class ConflictError(ServiceError):
    status = 409


class InvalidError(ServiceError):
    status = 400


class UnauthorizedError(ServiceError):
    status = 401


class PermissionDeniedError(ServiceError):
    status = 403


class TooManyRequestsError(ServiceError):
    status = 429

    def __init__(self, message, *, retry_after):
        super().__init__(message, headers={"Retry-After": str(int(retry_after))})
        self.retry_after = int(retry_after)


class UnavailableError(ServiceError):
    status = 503
