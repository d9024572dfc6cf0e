"""/Bulk (RFC 7644 §3.7): many operations in one request, with bulkId references and failOnErrors.

- More than maxOperations operations, or a body over maxPayloadSize bytes, is a 413 (§3.7.4).
- Each operation runs in its own transaction, exactly as the single-resource endpoint would run it.
- "bulkId:<id>" anywhere in an operation's path or data is replaced by the id created by the POST with that
  bulkId. A reference to an operation further down the request (a forward reference, §3.7.2) is resolved by
  running the referenced operation first; responses keep the request's order. A bulkId defined nowhere is
  400 invalidValue; a reference that cannot be resolved (a cycle, or the referenced POST failed) is 409.
- With failOnErrors N, processing stops after the Nth error; operations not run are left out of the response.
"""

from flask import g

from models.errors import ServiceError

from .. import repository
from ..constants import BULK_MAX_OPERATIONS, BULK_REQUEST, BULK_RESPONSE
from ..errors import InvalidPathError, InvalidSyntaxError, InvalidValueError, PayloadTooLargeError, ScimError, error_body
from ..mapping import etag, group_location, user_location
from ..repository import Options
from ..responses import scim_response
from ..schema import GROUP, USER, get_ci
from . import base_url, bp, json_body, strict
from .patchop import operations_of

PREFIX = "bulkId:"
METHODS = ("POST", "PUT", "PATCH", "DELETE")


class _Operation:
    def __init__(self, index, raw):
        self.index = index
        if not isinstance(raw, dict):
            raise InvalidSyntaxError("Every bulk operation must be an object")
        method = get_ci(raw, "method")
        self.method = method.upper() if isinstance(method, str) else None
        self.bulk_id = get_ci(raw, "bulkId")
        self.path = get_ci(raw, "path")
        self.data = get_ci(raw, "data")
        self.version = get_ci(raw, "version")
        # Only a non-empty string names anything; a list or object bulkId is refused by _attempt.
        self.defines_bulk_id = self.method == "POST" and isinstance(self.bulk_id, str) and bool(self.bulk_id)
        self.references = set()
        _collect(self.path, self.references)
        _collect(self.data, self.references)


def _collect(value, found):
    """Gather the bulkIds referenced by "bulkId:<id>" strings in a value."""
    if isinstance(value, str):
        if PREFIX in value:
            found.add(value[value.index(PREFIX) + len(PREFIX):].split("/")[0])
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)


def _substitute(value, ids):
    """Replace "bulkId:<id>" references with the created ids."""
    if isinstance(value, str) and PREFIX in value:
        head, _, tail = value.partition(PREFIX)
        ref, slash, rest = tail.partition("/")
        return head + ids[ref] + slash + rest
    if isinstance(value, list):
        return [_substitute(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, ids) for k, v in value.items()}
    return value


def _target(path, method):
    """Return (resource type, id or None) of a bulk path such as /Users or /Groups/<id>."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidPathError("A bulk operation needs a path such as /Users or /Groups/<id>")
    parts = path.strip("/").split("/")
    kinds = {"users": USER, "groups": GROUP}
    if parts[0].lower() not in kinds or len(parts) > 2 or (len(parts) == 2 and not parts[1]):
        raise InvalidPathError(f"Unsupported bulk path {path}")
    resource_id = parts[1] if len(parts) == 2 else None
    if (method == "POST") != (resource_id is None):
        example = "/Users" if method == "POST" else "/Users/<id>"
        raise InvalidPathError(f"{method} needs a path like {example}")
    return kinds[parts[0].lower()], resource_id


def _run(op, ids, base):
    """Run one operation; return its response entry."""
    path, data = _substitute(op.path, ids), _substitute(op.data, ids)
    resource_type, resource_id = _target(path, op.method)
    version = op.version if isinstance(op.version, str) else None
    opts = Options(base, strict=strict(), if_match=version, quirks=g.scim_quirks)
    workspace, actor = g.workspace, g.scim_actor
    users = resource_type == USER
    locate = user_location if users else group_location
    if op.method == "POST":
        create = repository.create_user if users else repository.create_group
        row = create(workspace, actor, data, opts)
        ids[op.bulk_id] = row.id
        return {"status": "201", "location": locate(base, row.id), "version": etag(row.version)}
    if op.method == "DELETE":
        (repository.delete_user if users else repository.delete_group)(workspace, actor, resource_id, opts)
        return {"status": "204"}
    if op.method == "PUT":
        row = (repository.replace_user if users else repository.replace_group)(workspace, actor, resource_id,
                                                                              data, opts)
    else:
        row = (repository.patch_user if users else repository.patch_group)(workspace, actor, resource_id,
                                                                          operations_of(data), opts)
    return {"status": "200", "location": locate(base, row.id), "version": etag(row.version)}


def _error(error):
    return {"status": str(error.status), "response": error_body(error)}


def process(raw_operations, fail_on_errors):
    """Run the operations in dependency order; return the response entries in request order."""
    ops = [_Operation(i, raw) for i, raw in enumerate(raw_operations)]
    defined = {}
    for op in ops:
        if op.defines_bulk_id:
            if op.bulk_id in defined:
                raise InvalidValueError(f"bulkId {op.bulk_id} is used by more than one operation")
            defined[op.bulk_id] = op
    results, ids, failed, errors = {}, {}, set(), 0
    base = base_url()

    def waiting_on(op):
        return sorted(ref for ref in op.references if ref in defined and ref not in ids and ref not in failed)

    pending = list(ops)
    while pending:
        # Forward references (RFC 7644 §3.7.2): run what is resolvable first; if nothing is, the rest is a
        # cycle.
        batch = [op for op in pending if not waiting_on(op)] or list(pending)
        for op in batch:
            pending.remove(op)
            entry = {"method": op.method or str(get_ci(raw_operations[op.index], "method"))}
            if op.bulk_id is not None:
                entry["bulkId"] = op.bulk_id
            try:
                entry.update(_attempt(op, ids, failed, defined, waiting_on(op), base))
            except ServiceError as error:
                entry.update(_error(error))
            results[op.index] = entry
            if not entry["status"].startswith("2"):
                errors += 1
                if op.defines_bulk_id:
                    failed.add(op.bulk_id)
                if fail_on_errors and errors >= fail_on_errors:
                    return [results[i] for i in sorted(results)]
    return [results[i] for i in sorted(results)]


def _attempt(op, ids, failed, defined, waiting, base):
    if op.method not in METHODS:
        raise InvalidSyntaxError(f"Bulk method must be one of {', '.join(METHODS)}")
    if op.method == "POST" and not op.defines_bulk_id:
        raise InvalidSyntaxError("A bulk POST needs a bulkId (RFC 7644 §3.7)")
    unknown = sorted(ref for ref in op.references if ref not in defined)
    if unknown:
        raise InvalidValueError(f"bulkId {unknown[0]} is not defined by any POST in this request")
    if waiting:
        raise ScimError(f"bulkId {waiting[0]} cannot be resolved: the references form a cycle", status=409)
    broken = sorted(ref for ref in op.references if ref in failed)
    if broken:
        raise ScimError(f"bulkId {broken[0]} cannot be resolved: its operation failed", status=409)
    return _run(op, ids, base)


@bp.post("/Bulk")
def bulk():
    """Run a BulkRequest."""
    body = json_body()
    if not isinstance(body, dict):
        raise InvalidSyntaxError("A BulkRequest must be a JSON object")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or BULK_REQUEST not in schemas):
        raise InvalidSyntaxError(f"A BulkRequest's schemas must contain {BULK_REQUEST}")
    operations = get_ci(body, "Operations")
    if not isinstance(operations, list):
        raise InvalidSyntaxError("A BulkRequest needs \"Operations\": a list")
    if len(operations) > BULK_MAX_OPERATIONS:
        raise PayloadTooLargeError(f"The bulk request has {len(operations)} operations; maxOperations is "
                                   f"{BULK_MAX_OPERATIONS}")
    fail_on_errors = get_ci(body, "failOnErrors")
    if fail_on_errors is not None and (isinstance(fail_on_errors, bool) or not isinstance(fail_on_errors, int)
                                       or fail_on_errors < 1):
        raise InvalidValueError("failOnErrors must be a positive integer")
    return scim_response({"schemas": [BULK_RESPONSE], "Operations": process(operations, fail_on_errors)})
