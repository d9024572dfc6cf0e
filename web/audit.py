"""The provisioning log's part of the web layer: what each write view does, when a request arrived, and the
refused write requests that never reached a mutation (a 4xx that recorded nothing else, failed /Bulk
operations).

A write view names its operation once, with `@operation(...)` directly above its `def` (below the blueprint's
decorators). A refusal is filed under the operation of the view that answered, about the target the view
names: its type, and its id from the view's own argument (e.g. `member_id`). Failed mutations are recorded by
the log itself (`models.services.audit.record_failure`); this module only tells it the request's target.
"""

import dataclasses
import json
import logging

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from models.db import utcnow
from models.services import NotFoundError, audit
from models.services.authz import access_for
from models.services.tokens import record_refused_token
from models.services.workspaces import find_workspace
from models.workspace import Workspace

from .auth import bearer_token, request_actor
from .views import view_declaration

log = logging.getLogger("roster.audit")

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclasses.dataclass(frozen=True)
class Operation:
    """What a write view does, for the provisioning log."""

    name: str  # the event's operation, e.g. "member.removed"
    target: str  # the target type, e.g. "user"
    target_arg: str | None = None  # the view argument holding the target's id, e.g. "member_id"

    def target_id(self, view_args):
        value = (view_args or {}).get(self.target_arg) if self.target_arg else None
        return value if isinstance(value, str) else None


def operation(name, target, target_arg=None):
    """Declare the operation a write view performs (`@operation("member.removed", "user", "member_id")`).

    The view is returned unchanged, with the declaration as its `audit_operation` attribute (the blueprint's
    decorators above it copy that attribute onto their wrappers), so routing and OpenAPI see the same view."""
    declared = Operation(name, target, target_arg)

    def declare(view):
        view.audit_operation = declared
        return view

    return declare


def declared_operation(endpoint, method):
    """Return the Operation declared by the view answering `method` at `endpoint`, or None."""
    if method not in WRITE_METHODS:
        return None  # HEAD and OPTIONS reach write views too, and write nothing
    return view_declaration(endpoint, method, "audit_operation")


def _declared_at(path, method, endpoint=None, view_args=None):
    """Return (operation name, the Operation naming the target or None, view args) of a refused `method` at
    `path` (answered by `endpoint` when it was routed).

    A write that no view declares (POST /Users/.search) is "request.refused", still about the resource the
    path names: the one the path's declared writes are about."""
    declared = declared_operation(endpoint, method) if endpoint else None
    if declared is not None:
        return declared.name, declared, view_args
    adapter = current_app.url_map.bind("")
    about, about_args = None, {}
    for candidate in (method,) + tuple(m for m in WRITE_METHODS if m != method):
        try:
            endpoint, args = adapter.match(path, method=candidate)
        except HTTPException:
            continue
        declared = declared_operation(endpoint, candidate)
        if declared is not None and candidate == method:
            return declared.name, declared, args
        if declared is not None and about is None:
            about, about_args = declared, args
    return "request.refused", about, about_args


def _refused_workspace():
    """Return (workspace, actor) for a refused request when the caller is authenticated to its workspace."""
    actor = request_actor()  # the one the view authenticated, or that of a token it never looked at (a 422)
    if actor is None:
        return None, None
    if request.path.startswith("/scim/v2/"):
        workspace = g.get("workspace")
        return (workspace, actor) if isinstance(workspace, Workspace) else (None, None)
    ref = (request.view_args or {}).get("ws")
    if not request.path.startswith("/api/v1/workspaces/") or not isinstance(ref, str):
        return None, None
    try:
        workspace = find_workspace(ref)
        access_for(actor, workspace)  # never write into a workspace the caller cannot see
    except NotFoundError:
        return None, None
    return workspace, actor


def _response_outcome(response):
    body = None
    if not response.is_streamed and response.is_json:
        body = response.get_json(silent=True)
    message, scim_type = None, None
    if isinstance(body, dict):
        message = audit.error_text(body.get("message") or body.get("detail"), body.get("errors"))
        scim_type = body.get("scimType")
    return response.status_code, message or response.status, scim_type


def record_refused(response):
    """Record a refused write request (4xx) that recorded nothing else, in its own transaction."""
    workspace, actor = _refused_workspace()
    if workspace is None:
        return None
    name, about, args = _declared_at(request.path, request.method, request.endpoint, request.view_args)
    target = (audit.target_of(workspace, about.target, about.target_id(args)) if about is not None
              else audit.target_of(workspace, "request"))
    status, message, scim_type = _response_outcome(response)
    return audit.record_refusals(workspace, actor, [audit.refusal(name, target, status, message, scim_type)])[0]


def _bulk_operation(method, path):
    """Return (operation, (type, id, None)) of one /Bulk operation, as the Users/Groups views declare it."""
    path = path if isinstance(path, str) else ""
    full = "/scim/v2/" + path.lstrip("/")
    if full.count("/") == 4 and full.endswith("/"):
        full = full[:-1]  # "/Users/": the collection
    name, about, args = _declared_at(full, method)
    if about is None:
        return name, ("request", None, None)
    target_id = about.target_id(args)
    if target_id and target_id.startswith("bulkId:"):
        target_id = None
    return name, (about.target, target_id and target_id[:64], None)


def record_bulk_refusals(response, raw_operations):
    """Record the failed /Bulk operations that never reached a mutation (bad bulkId, cycle, bad path)."""
    workspace, actor = _refused_workspace()
    body = response.get_json(silent=True) if response.is_json else None
    if workspace is None or not isinstance(body, dict) or not isinstance(raw_operations, list):
        return []
    scope = audit.current_request()
    recorded = list(scope.failures) if scope is not None else []
    refusals = []
    for index, entry in enumerate(body.get("Operations") or []):
        status = int(entry.get("status", "0")) if str(entry.get("status", "")).isdigit() else 0
        if status < 400 or index >= len(raw_operations) or not isinstance(raw_operations[index], dict):
            continue
        raw = {str(k).lower(): v for k, v in raw_operations[index].items()}
        method = str(raw.get("method") or "").upper()
        name, target = _bulk_operation(method, raw.get("path"))
        if (name, status) in recorded:  # a mutation already wrote this one's failure event
            recorded.remove((name, status))
            continue
        detail = entry.get("response") or {}
        refusals.append(audit.refusal(name, target, status, detail.get("detail"), detail.get("scimType")))
    return audit.record_refusals(workspace, actor, refusals)


def _bulk_body():
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    operations = {str(k).lower(): v for k, v in body.items()}.get("operations")
    return operations if isinstance(operations, list) else None


def _record_refused_token():
    """Count a refused bearer token in the log of the workspace it names (revoked, expired, wrong secret)."""
    raw = bearer_token()
    if raw is None or request_actor() is not None:
        return
    ref = (request.view_args or {}).get("ws") if request.path.startswith("/api/v1/workspaces/") else None
    try:
        record_refused_token(raw, ref if isinstance(ref, str) else None, request.remote_addr,
                             (request.user_agent.string or "")[:400] or None)
    except Exception:
        log.exception("could not record a refused token on %s %s", request.method, request.path)


def init_app(app):
    """Switch the log on or off (config AUDIT_LOG) and load its signing keys, note when each request arrived
    and which target its view names, and record refused write requests and refused tokens."""
    audit.set_enabled(bool(app.config.get("AUDIT_LOG", True)))
    config = app.config
    # Kept on the app too: a process that builds a second app (tests) puts each one's keys back per request.
    # A configured key that cannot be loaded leaves the process up but not ready (/readyz answers 503 with the
    # reason, web.health), so the load balancer sends it nothing and the operator sees why.
    settings = (config.get("AUDIT_VERIFY_KEYS", ""), config.get("AUDIT_CHECKPOINT_EVERY", 100),
                config.get("AUDIT_CHECKPOINT_MINUTES", 5), config.get("AUDIT_CHECKPOINT_FILE", ""),
                config.get("AUDIT_MIN_RETENTION_DAYS", 365), config.get("AUDIT_CHECKPOINT_SYSLOG", ""))
    try:
        app.extensions["roster.audit"] = audit.configure(config.get("AUDIT_SIGNING_KEY", ""), *settings)
    except audit.AuditConfigError as error:
        log.error("the provisioning log cannot sign checkpoints: %s", error)
        app.extensions["roster.audit_key_problem"] = "audit signing key unreadable"
        app.extensions["roster.audit"] = audit.configure("", *settings)

    @app.before_request
    def _request_started():
        g.request_started = utcnow()  # the Actor's received_at (request_info)
        audit.use_settings(current_app.extensions["roster.audit"])
        declared = declared_operation(request.endpoint, request.method) if request.endpoint else None
        target_id = declared.target_id(request.view_args) if declared is not None else None
        audit.begin_request(declared.target if target_id is not None else None, target_id)

    @app.after_request
    def _record_refused(response):
        scope = audit.current_request()
        if audit.enabled() and response.status_code == 401:
            _record_refused_token()
        # A request refused by a rate limit is counted (web.metrics), not logged: a flood would otherwise
        # write one event per refusal.
        if not audit.enabled() or request.method not in WRITE_METHODS or g.get("rate_limited"):
            return response
        try:
            if 400 <= response.status_code < 500 and not (scope is not None and scope.recorded):
                record_refused(response)
            elif response.status_code == 200 and request.path.rstrip("/") == "/scim/v2/Bulk":
                record_bulk_refusals(response, _bulk_body())
        except Exception:
            log.exception("could not record refused request %s %s", request.method, request.path)
        return response

    @app.teardown_request
    def _request_ended(exc):
        audit.end_request()
