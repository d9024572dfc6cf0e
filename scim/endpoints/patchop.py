"""Read a PatchOp request body (RFC 7644 §3.5.2) into its list of operations."""

from ..constants import PATCH_OP
from ..errors import InvalidSyntaxError
from ..schema import get_ci


def operations_of(body):
    """Return the `Operations` of a PatchOp body; 400 invalidSyntax when the body is not one."""
    if not isinstance(body, dict):
        raise InvalidSyntaxError("A PATCH body must be a PatchOp JSON object")
    schemas = body.get("schemas")
    named = [s.lower() for s in schemas if isinstance(s, str)] if isinstance(schemas, list) else []
    if schemas is not None and PATCH_OP.lower() not in named:
        raise InvalidSyntaxError(f"A PATCH body's schemas must contain {PATCH_OP}")
    operations = get_ci(body, "Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntaxError("A PATCH body needs \"Operations\": a non-empty list of operations")
    return operations
