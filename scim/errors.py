"""SCIM errors (RFC 7644 §3.12): one exception class per scimType Roster answers with.

They are service errors (`models.errors.ServiceError`) with a `scimType`, so the service layer's refusals and
SCIM's own share one hierarchy and one renderer (`error_body`).
"""

from models.errors import ServiceError

from .constants import ERROR


def error_body(error):
    """Render any ServiceError as the RFC 7644 §3.12 error body; `status` is a string.

    A service refusal without a scimType that is a 400 is an `invalidValue` (a value the service would not
    accept); other statuses carry no scimType.
    """
    scim_type = error.scim_type
    if scim_type is None and not isinstance(error, ScimError) and error.status == 400:
        scim_type = "invalidValue"
    body = {"schemas": [ERROR], "status": str(error.status), "detail": error.message}
    if scim_type:
        body["scimType"] = scim_type
    return body


class ScimError(ServiceError):
    """An error answered as SCIM error JSON."""

    default_detail = "Bad request"

    def __init__(self, detail=None, *, status=None, scim_type=None):
        super().__init__(detail or self.default_detail, status=status)
        if scim_type is not None:
            self.scim_type = scim_type

    @property
    def detail(self):
        return self.message

    def to_dict(self):
        """Render the RFC 7644 §3.12 error body."""
        return error_body(self)


class InvalidFilterError(ScimError):
    scim_type = "invalidFilter"
    default_detail = "The filter syntax is invalid"


class UniquenessError(ScimError):
    status = 409
    scim_type = "uniqueness"
    default_detail = "A resource with that value already exists"


class MutabilityError(ScimError):
    scim_type = "mutability"
    default_detail = "The attribute is not modifiable"


class InvalidSyntaxError(ScimError):
    scim_type = "invalidSyntax"
    default_detail = "The request body is not valid SCIM"


class InvalidPathError(ScimError):
    scim_type = "invalidPath"
    default_detail = "The path attribute is invalid"


class NoTargetError(ScimError):
    scim_type = "noTarget"
    default_detail = "The path did not yield an attribute that could be operated on"


class InvalidValueError(ScimError):
    scim_type = "invalidValue"
    default_detail = "A required value was missing or a value was not compatible"


class NotFoundError(ScimError):
    status = 404
    default_detail = "Resource not found"


class UnauthorizedError(ScimError):
    status = 401
    default_detail = "Authorization failure: a valid bearer token is required"


class ForbiddenError(ScimError):
    status = 403
    default_detail = "The token may not perform this operation"


class ConflictError(ScimError):
    status = 409
    default_detail = "The request conflicts with the state of the resource"


class PreconditionFailedError(ScimError):
    status = 412
    default_detail = "The resource changed: the version does not match If-Match"


class PayloadTooLargeError(ScimError):
    status = 413
    default_detail = "The request payload is too large"


class MethodNotAllowedError(ScimError):
    status = 405
    default_detail = "The method is not allowed for this endpoint"

    def __init__(self, detail=None, *, allowed=()):
        super().__init__(detail)
        self.allowed = tuple(allowed)

