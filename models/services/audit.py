"""The provisioning log: writing hash-chained events, querying, verifying, exporting, reports and retention.

Events are written by change hooks (models/services/__init__.py): one per `change.record(...)` inside the
mutation's own transaction, one failure event after a rolled-back mutation, and (from `init_app`'s
after_request) one for a refused write request that never reached a mutation. See docs/audit.md.
"""

import base64
import binascii
import csv
import datetime
import io
import json
import logging
import re
import sqlite3

from flask import g, has_request_context, request
from peewee import Case, fn

from ..db import db, is_postgres, new_id, utcnow
from ..directory import Group, GroupGrant, GroupMember, Member, MemberRole, Role
from ..events import (COLUMNS, GENESIS_HASH, HASHED_COLUMNS, ProvisioningChain, ProvisioningCheckpoint,
                      ProvisioningEvent, ProvisioningEventRef, canonical_json, checkpoint_hash, event_hash,
                      format_time)
from ..workspace import Workspace
from . import InvalidError, NotFoundError, register_change_hook
from .authz import privilege_sources

log = logging.getLogger("roster.audit")

E = ProvisioningEvent
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BATCH = 1000
INSERT_CHUNK = 500
MAX_PAGE = 500
REDACTED = "[redacted]"

# Operations written by the admin API, the command line and (SCIM branch) the SCIM endpoints; docs/audit.md.
OPERATIONS = (
    "workspace.created", "workspace.updated", "workspace.settings_changed", "workspace.deletion_code_sent",
    "workspace.cloned", "workspace.deleted",
    "member.added", "member.removed", "member.left", "member.ownership_transferred", "member.roles_changed",
    "role.granted", "role.revoked", "role.created", "role.updated", "role.privileges_changed", "role.deleted",
    "group.grants_changed",
    "invitation.sent", "invitation.resent", "invitation.revoked", "invitation.accepted",
    "token.created", "token.revoked",
    "user.created", "user.updated", "user.deactivated", "user.reactivated", "user.deleted",
    "group.created", "group.renamed", "group.updated", "group.members_added", "group.members_removed",
    "group.deleted",
    "sso.connection.changed", "audit.pruned", "request.refused",
)

# The names views give mutation(attempted=...) -> the vocabulary above, so a refusal files under the same
# operation as the success it attempted (`operation=member.removed&outcome=failure`).
ATTEMPTED = {
    "workspace.create": "workspace.created", "workspace.provision": "workspace.created",
    "workspace.update": "workspace.updated", "workspace.delete": "workspace.deleted",
    "workspace.deletion_code": "workspace.deletion_code_sent", "workspace.clone": "workspace.cloned",
    "workspace.settings": "workspace.settings_changed",
    "member.remove": "member.removed", "member.roles": "member.roles_changed", "member.leave": "member.left",
    "member.transfer_ownership": "member.ownership_transferred",
    "invitation.create": "invitation.sent", "invitation.revoke": "invitation.revoked",
    "invitation.resend": "invitation.resent", "invitation.accept": "invitation.accepted",
    "role.create": "role.created", "role.update": "role.updated", "role.delete": "role.deleted",
    "role.privileges": "role.privileges_changed", "group.grants": "group.grants_changed",
    "token.create": "token.created", "token.revoke": "token.revoked", "audit.prune": "audit.pruned",
}

# Refused admin API writes that never reached a mutation: (method, rule suffix after /<ws>) -> operation.
_ADMIN_ROUTES = {
    ("PATCH", ""): "workspace.updated",
    ("DELETE", ""): "workspace.deleted",
    ("POST", "/deletion-code"): "workspace.deletion_code_sent",
    ("POST", "/clone"): "workspace.cloned",
    ("PUT", "/settings"): "workspace.settings_changed",
    ("DELETE", "/members/<member_id>"): "member.removed",
    ("PUT", "/members/<member_id>/roles"): "member.roles_changed",
    ("POST", "/leave"): "member.left",
    ("POST", "/transfer-ownership"): "member.ownership_transferred",
    ("POST", "/invitations"): "invitation.sent",
    ("DELETE", "/invitations/<invitation_id>"): "invitation.revoked",
    ("POST", "/invitations/<invitation_id>/resend"): "invitation.resent",
    ("POST", "/roles"): "role.created",
    ("PATCH", "/roles/<role_id>"): "role.updated",
    ("DELETE", "/roles/<role_id>"): "role.deleted",
    ("POST", "/roles/<role_id>/privileges"): "role.privileges_changed",
    ("DELETE", "/roles/<role_id>/privileges"): "role.privileges_changed",
    ("PUT", "/groups/<group_id>/grants"): "group.grants_changed",
    ("POST", "/tokens"): "token.created",
    ("DELETE", "/tokens/<token_id>"): "token.revoked",
    ("POST", "/events/prune"): "audit.pruned",
}
_SCIM_ROUTES = (
    (re.compile(r"^/scim/v2/Users/?$"), {"POST": "user.created"}, "user"),
    (re.compile(r"^/scim/v2/Users/([^/]+)$"), {"PUT": "user.updated", "PATCH": "user.updated",
                                                "DELETE": "user.deleted"}, "user"),
    (re.compile(r"^/scim/v2/Groups/?$"), {"POST": "group.created"}, "group"),
    (re.compile(r"^/scim/v2/Groups/([^/]+)$"), {"PUT": "group.updated", "PATCH": "group.updated",
                                                 "DELETE": "group.deleted"}, "group"),
)
# view_args key -> (target type, model, name column) for naming the target of a refused request.
_TARGET_ARGS = {
    "member_id": ("user", Member, Member.user_name),
    "group_id": ("group", Group, Group.display_name),
    "role_id": ("role", Role, Role.name),
}

DEPROVISION_OPS = ("user.deactivated", "user.deleted", "member.removed")
GROUP_MEMBERSHIP_OPS = ("group.created", "group.members_added", "group.members_removed", "group.deleted")
MENTION_KEYS = ("members", "member", "member_id", "member_ids", "user_id")

_SECRET_WORDS = ("password", "passwd", "secret", "token", "privatekey", "apikey", "credential")
_SECRET_EXACT = {"code", "otp", "otpcode", "onetimecode", "authcode", "authorizationcode", "deletioncode",
                 "verificationcode"}
_NOT_SECRET_SUFFIXES = ("id", "ids", "prefix", "label", "count", "kind", "type")

_LIMITS = {"request_id": 64, "actor_token_label": 200, "actor_email": 320, "idp": 100, "client_ip": 64,
           "user_agent": 400, "operation": 64, "target_type": 32, "target_id": 64, "target_name": 320,
           "scim_type": 32, "error": 2000, "actor_kind": 16, "actor_token_id": 36, "actor_person_id": 36}

_settings = {"enabled": True}


def _is_secret_key(key):
    norm = re.sub(r"[^a-z0-9]", "", str(key).lower())
    if norm in _SECRET_EXACT:
        return True
    if any(norm.endswith(suffix) for suffix in _NOT_SECRET_SUFFIXES):
        return False
    return any(word in norm for word in _SECRET_WORDS)


def scrub(value):
    """Return `value` as plain JSON with secrets (passwords, tokens, secrets, codes) replaced by a marker."""
    if isinstance(value, dict):
        out = {}
        path = value.get("path")
        for key, item in value.items():
            key = str(key)
            if _is_secret_key(key) and not (item is None or isinstance(item, (bool, int, float))):
                out[key] = REDACTED
            elif key == "value" and isinstance(path, str) and _is_secret_key(
                    path.rsplit(".", 1)[-1].split("[")[0]):
                # A PATCH operation {"path": "password", "value": ...} (RFC 7644 §3.5.2).
                out[key] = REDACTED
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")  # PostgreSQL JSONB refuses NUL
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


def _clip(row):
    for column, limit in _LIMITS.items():
        value = row.get(column)
        if isinstance(value, str):
            value = value.replace("\x00", "\ufffd")
            row[column] = value[:limit]
    return row


def _returning_supported():
    return is_postgres() or sqlite3.sqlite_version_info >= (3, 35, 0)


# The write path runs inside every mutation, so its three statements are prepared once as SQL text: building
# them with peewee's query builder cost more than executing them (bench/audit_export_bench.py).
_EVENT_COLUMNS = tuple(HASHED_COLUMNS) + ("prev_hash", "hash")
_JSON_COLUMNS = ("before", "after", "quirks")


def _event_insert_sql(rows_count):
    param = db.param
    columns = ", ".join(f'"{c}"' for c in _EVENT_COLUMNS)
    values = "(" + ", ".join([param] * len(_EVENT_COLUMNS)) + ")"
    return f'INSERT INTO "provisioning_event" ({columns}) VALUES ' + ", ".join([values] * rows_count)


def _event_params(rows):
    fields = E._meta.fields
    if is_postgres():
        return [fields[c].db_value(row[c]) for row in rows for c in _EVENT_COLUMNS]
    # SQLite keeps JSON as text; json.dumps text reads back to the very values that were hashed.
    return [(json.dumps(row[c]) if row[c] is not None else None) if c in _JSON_COLUMNS else row[c]
            for row in rows for c in _EVENT_COLUMNS]


def _advance_head(workspace_id, count):
    """Reserve `count` sequence numbers; return (first seq, hash of the event before them). Locks the head."""
    param = db.param
    update = (f'UPDATE "provisioning_chain" SET "last_seq" = "last_seq" + {param} '
              f'WHERE "workspace_id" = {param}')
    for _ in range(2):
        if _returning_supported():
            row = db.execute_sql(update + ' RETURNING "last_seq", "last_hash"',
                                 (count, workspace_id)).fetchone()
        else:
            changed = db.execute_sql(update, (count, workspace_id)).rowcount
            row = db.execute_sql(f'SELECT "last_seq", "last_hash" FROM "provisioning_chain" WHERE '
                                 f'"workspace_id" = {param}', (workspace_id,)).fetchone() if changed else None
        if row:
            last_seq, last_hash = row
            return last_seq - count + 1, last_hash
        # The first event of this workspace: create the head (a concurrent creator wins harmlessly), retry.
        ProvisioningChain.insert(workspace_id=workspace_id, last_seq=0, last_hash=GENESIS_HASH) \
            .on_conflict_ignore().as_rowcount().execute()
    raise RuntimeError("could not lock the provisioning chain head")


def mentions(event_before, event_after, target_id=None):
    """Return the member ids an event's before/after mention besides its target (group membership changes)."""
    found = []
    for doc in (event_before, event_after):
        if not isinstance(doc, dict):
            continue
        for key in MENTION_KEYS:
            value = doc.get(key)
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, dict):
                    item = item.get("value") or item.get("id")
                if isinstance(item, str) and 0 < len(item) <= 64 and item != target_id \
                        and item not in found:
                    found.append(item)
    return found


def append_events(workspace_id, records):
    """Append events (dicts of columns) to the workspace's chain in the current transaction; return them."""
    if not records:
        return []
    first_seq, prev = _advance_head(workspace_id, len(records))
    now = utcnow()  # taken under the head lock, so time follows seq
    rows, refs = [], []
    for offset, record in enumerate(records):
        row = {column: record.get(column) for column in HASHED_COLUMNS}
        row.update(id=new_id(), workspace_id=workspace_id, seq=first_seq + offset, time=now)
        row["before"] = scrub(row["before"]) if row["before"] is not None else None
        row["after"] = scrub(row["after"]) if row["after"] is not None else None
        row["quirks"] = scrub(list(row["quirks"] or []))
        row["status"] = int(row["status"] or 200)
        _clip(row)
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(row, prev)
        rows.append(row)
        refs.extend({"workspace_id": workspace_id, "ref_id": ref, "seq": row["seq"]}
                    for ref in mentions(row["before"], row["after"], row["target_id"]))
    for start in range(0, len(rows), INSERT_CHUNK):  # stay under the databases' bound-parameter limits
        chunk = rows[start:start + INSERT_CHUNK]
        db.execute_sql(_event_insert_sql(len(chunk)), _event_params(chunk))
    for start in range(0, len(refs), INSERT_CHUNK):
        ProvisioningEventRef.insert_many(refs[start:start + INSERT_CHUNK]).as_rowcount().execute()
    db.execute_sql(f'UPDATE "provisioning_chain" SET "last_hash" = {db.param} '
                   f'WHERE "workspace_id" = {db.param}', (prev, workspace_id))
    return rows


def _request_facts():
    if not has_request_context():
        return {}
    return {"received_at": g.get("request_started")}


def _actor_columns(actor, workspace=None):
    person = getattr(actor, "person", None)
    idp = getattr(actor, "idp", None)
    if not idp and workspace is not None and actor is not None and actor.kind == "service" \
            and "scim" in (actor.scopes or ()):
        idp = workspace.setting("scim.default_idp") or None
    return {"actor_kind": getattr(actor, "kind", None) or "unknown",
            "actor_token_id": getattr(actor, "token_id", None),
            "actor_token_label": getattr(actor, "token_label", None),
            "actor_person_id": person.id if person is not None else None,
            "actor_email": person.email if person is not None else None,
            "idp": idp, "client_ip": getattr(actor, "ip", None),
            "user_agent": getattr(actor, "user_agent", None),
            "request_id": getattr(actor, "request_id", None)}


def _mark_recorded():
    if has_request_context():
        g.audit_recorded = True


def _split_by_workspace(change):
    """Yield (workspace_id, event): an event about a workspace moves the next ones into it (bulk create)."""
    current = change.workspace.id if change.workspace is not None else None
    for event in change.events:
        if event.target_type == "workspace" and event.target_id:
            current = event.target_id
        if current is not None:
            yield current, event


def _on_commit(change):
    """Write one success event per recorded change, in the mutation's transaction."""
    if not _settings["enabled"] or not change.events:
        return
    by_workspace = {}
    for workspace_id, event in _split_by_workspace(change):
        by_workspace.setdefault(workspace_id, []).append(event)
    facts = _request_facts()
    for workspace_id, events in by_workspace.items():
        workspace = change.workspace if change.workspace is not None and change.workspace.id == workspace_id \
            else Workspace.get_or_none(Workspace.id == workspace_id)
        if any(e.operation == "workspace.deleted" for e in events) \
                and not Workspace.select().where(Workspace.id == workspace_id).exists():
            # The workspace's log went with it (TENANT_EXTRA_CLEANUP, registered below): nothing to chain to.
            log.info("workspace %s deleted; its provisioning log went with it", workspace_id)
            continue
        actor = _actor_columns(change.actor, workspace)
        status = getattr(change, "outcome_status", 200) or 200
        records = [dict(actor, **facts, operation=e.operation, target_type=e.target_type,
                        target_id=e.target_id, target_name=e.target_name, before=e.before, after=e.after,
                        quirks=e.quirks, status=status)
                   for e in events]
        append_events(workspace_id, records)
    _mark_recorded()


def outcome_of(error):
    """Return (status, message, scimType) for an exception that refused a mutation."""
    status = getattr(error, "status", None)
    if not isinstance(status, int):
        status = getattr(error, "code", None)
    if not isinstance(status, int) or not 100 <= status <= 599:
        return 500, f"Internal error ({type(error).__name__})", None
    message = (getattr(error, "message", None) or getattr(error, "detail", None)
               or getattr(error, "description", None))
    data = getattr(error, "data", None)
    if not message and isinstance(data, dict):
        message = data.get("message")
    message = str(message or type(error).__name__)
    errors = getattr(error, "errors", None)
    if errors:
        message = f"{message} {canonical_json(scrub(errors))}"
    return status, message, getattr(error, "scim_type", None)


def _on_failure(change, error):
    """Write one failure event for a rolled-back mutation (in its own transaction)."""
    if not _settings["enabled"] or change.workspace is None:
        return
    try:
        with db.atomic():
            if not Workspace.select().where(Workspace.id == change.workspace.id).exists():
                return
            first = change.events[0] if change.events else None
            attempted = getattr(change, "attempted", None)
            operation = (ATTEMPTED.get(attempted, attempted)
                         or (first.operation if first else "request.refused"))
            status, message, scim_type = outcome_of(error)
            target = (first.target_type, first.target_id, first.target_name) if first else _request_target(
                operation, change.workspace)
            record = dict(_actor_columns(change.actor, change.workspace), **_request_facts(),
                          operation=operation, target_type=target[0], target_id=target[1],
                          target_name=target[2],
                          before=None, after=None, quirks=list(first.quirks) if first else [],
                          status=status, error=message, scim_type=scim_type)
            append_events(change.workspace.id, [record])
        _mark_recorded()
        if has_request_context():
            g.setdefault("audit_failures", []).append((operation, status))
    except Exception:
        log.exception("could not record the failure of %s in workspace %s",
                      getattr(change, "attempted", None), change.workspace.id)


def _request_target(operation, workspace):
    """Guess (type, id, name) of a request's target from the URL (for refusals with nothing recorded)."""
    default_type = operation.split(".", 1)[0] if operation else "request"
    default_type = {"member": "user", "audit": "workspace"}.get(default_type, default_type)
    if not has_request_context():
        return default_type, None, None
    args = request.view_args or {}
    for key, (target_type, model, name_field) in _TARGET_ARGS.items():
        ref = args.get(key)
        if isinstance(ref, str):
            name = (model.select(name_field).where(model.id == ref, model.workspace == workspace.id).scalar()
                    if len(ref) <= 64 else None)
            return target_type, ref[:64], name
    for key, target_type in (("token_id", "token"), ("invitation_id", "invitation")):
        if isinstance(args.get(key), str):
            return target_type, args[key][:64], None
    for pattern, _, target_type in _SCIM_ROUTES:
        match = pattern.match(request.path)
        if match:
            return target_type, (match.group(1)[:64] if match.groups() else None), None
    if default_type == "workspace":
        return "workspace", workspace.id, workspace.slug
    return default_type, None, None


def _refused_operation():
    rule = request.url_rule.rule if request.url_rule is not None else ""
    prefix = "/api/v1/workspaces/<ws>"
    if rule.startswith(prefix):
        suffix = rule[len(prefix):]
        op = _ADMIN_ROUTES.get((request.method, suffix))
        if op:
            return op
        if suffix.startswith("/sso/"):
            return "sso.connection.changed"
        return "request.refused"
    for pattern, methods, _ in _SCIM_ROUTES:
        if pattern.match(request.path):
            return methods.get(request.method, "request.refused")
    return "request.refused"


def _refused_workspace():
    """Return (workspace, actor) for a refused request when the caller is authenticated to its workspace."""
    from .authz import access_for
    from .workspaces import find_workspace
    actor = g.get("actor") or g.get("scim_actor") or _authenticate_request()
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


def _authenticate_request():
    """Return the Actor of the request's bearer token when the view refused before authenticating (a 422)."""
    from .tokens import authenticate
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return authenticate(raw.strip(), ip=request.remote_addr,
                        user_agent=(request.user_agent.string or "")[:400] or None,
                        request_id=g.get("request_id"))


def _response_outcome(response):
    body = None
    if not response.is_streamed and response.is_json:
        body = response.get_json(silent=True)
    message, scim_type = None, None
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail")
        scim_type = body.get("scimType")
        if body.get("errors"):
            message = f"{message or ''} {canonical_json(scrub(body['errors']))}".strip()
    return response.status_code, message or response.status, scim_type


def record_refused(response):
    """Record a refused write request (4xx) that recorded nothing else, in its own transaction."""
    workspace, actor = _refused_workspace()
    if workspace is None:
        return None
    operation = _refused_operation()
    status, message, scim_type = _response_outcome(response)
    with db.atomic():
        target_type, target_id, target_name = _request_target(operation, workspace)
        record = dict(_actor_columns(actor, workspace), **_request_facts(), operation=operation,
                      target_type=target_type, target_id=target_id, target_name=target_name, before=None,
                      after=None, quirks=[], status=status, error=message, scim_type=scim_type)
        rows = append_events(workspace.id, [record])
    g.audit_recorded = True
    return rows[0]


def _bulk_operation(method, path):
    """Return (operation, target type, target id) of one /Bulk operation (RFC 7644 §3.7)."""
    path = path if isinstance(path, str) else ""
    full = "/scim/v2/" + path.lstrip("/")
    for pattern, methods, target_type in _SCIM_ROUTES:
        match = pattern.match(full)
        if match:
            target_id = match.group(1) if match.groups() else None
            if target_id and target_id.startswith("bulkId:"):
                target_id = None
            return methods.get(method, "request.refused"), target_type, target_id and target_id[:64]
    return "request.refused", "request", None


def record_bulk_refusals(response, raw_operations):
    """Record the failed /Bulk operations that never reached a mutation (bad bulkId, cycle, bad path)."""
    workspace, actor = _refused_workspace()
    body = response.get_json(silent=True) if response.is_json else None
    if workspace is None or not isinstance(body, dict) or not isinstance(raw_operations, list):
        return []
    recorded = list(g.get("audit_failures", []))
    records = []
    for index, entry in enumerate(body.get("Operations") or []):
        status = int(entry.get("status", "0")) if str(entry.get("status", "")).isdigit() else 0
        if status < 400 or index >= len(raw_operations) or not isinstance(raw_operations[index], dict):
            continue
        raw = {str(k).lower(): v for k, v in raw_operations[index].items()}
        method = str(raw.get("method") or "").upper()
        operation, target_type, target_id = _bulk_operation(method, raw.get("path"))
        if (operation, status) in recorded:  # a mutation already wrote this one's failure event
            recorded.remove((operation, status))
            continue
        detail = entry.get("response") or {}
        records.append(dict(_actor_columns(actor, workspace), **_request_facts(), operation=operation,
                            target_type=target_type, target_id=target_id, target_name=None, before=None,
                            after=None, quirks=[], status=status, error=detail.get("detail"),
                            scim_type=detail.get("scimType")))
    if records:
        with db.atomic():
            append_events(workspace.id, records)
    return records


def _bulk_body():
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    operations = {str(k).lower(): v for k, v in body.items()}.get("operations")
    return operations if isinstance(operations, list) else None


def init_app(app):
    """Enable the log for `app`: change hooks, the request's received time and refused-request recording."""
    _settings["enabled"] = bool(app.config.get("AUDIT_LOG", True))
    register()

    @app.before_request
    def _request_started():
        g.request_started = utcnow()

    @app.after_request
    def _record_refused(response):
        if not _settings["enabled"] or request.method not in WRITE_METHODS:
            return response
        try:
            if 400 <= response.status_code < 500 and not g.get("audit_recorded"):
                record_refused(response)
            elif response.status_code == 200 and request.path.rstrip("/") == "/scim/v2/Bulk":
                record_bulk_refusals(response, _bulk_body())
        except Exception:
            log.exception("could not record refused request %s %s", request.method, request.path)
        return response


def register():
    """Register the change hooks and the workspace-deletion cleanup (idempotent)."""
    register_change_hook(on_commit=_on_commit, on_failure=_on_failure)
    from .workspaces import TENANT_EXTRA_CLEANUP
    # The whole log goes with its workspace, whether or not the log is switched on; only events are counted
    # in the deletion preview (the other tables are its index, checkpoints and chain head).
    for entry in (("events", ProvisioningEvent, ProvisioningEvent.workspace_id),
                  (None, ProvisioningEventRef, ProvisioningEventRef.workspace_id),
                  (None, ProvisioningCheckpoint, ProvisioningCheckpoint.workspace_id),
                  (None, ProvisioningChain, ProvisioningChain.workspace_id)):
        if entry not in TENANT_EXTRA_CLEANUP:
            TENANT_EXTRA_CLEANUP.append(entry)


def set_enabled(enabled):
    """Turn event writing on or off process-wide (benchmarks compare both; production keeps it on)."""
    _settings["enabled"] = bool(enabled)



def event_to_dict(row):
    """Render an event (model or dict) with the export columns, in order, times in the log's format."""
    get = row.get if isinstance(row, dict) else (lambda key: getattr(row, key))
    out = {}
    for column in COLUMNS:
        value = get(column)
        out[column] = format_time(value) if column in ("time", "received_at") else value
    return out


def encode_cursor(order, seq):
    """Return the opaque cursor continuing after `seq` in `order`."""
    raw = json.dumps({"o": order, "s": seq}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor, order):
    """Return the seq a cursor continues after; raise InvalidError for a forged or mismatched one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        seq = data["s"]
        if data["o"] != order or not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2 ** 63:
            raise ValueError
        return seq
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
        raise InvalidError("Invalid cursor", errors={"cursor": ["Not a cursor from this listing and order"]})


def _operation_filter(value):
    parts = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else list(value)
    exprs = []
    for part in parts:
        if part.endswith("*"):
            prefix = part.rstrip("*")
            exprs.append(fn.SUBSTR(E.operation, 1, len(prefix)) == prefix)
        else:
            exprs.append(E.operation == part)
    if not exprs:
        return None
    expr = exprs[0]
    for other in exprs[1:]:
        expr = expr | other
    return expr


def _subject_filter(workspace, subject):
    refs = ProvisioningEventRef.select(ProvisioningEventRef.seq).where(
        ProvisioningEventRef.workspace_id == workspace.id, ProvisioningEventRef.ref_id == subject)
    return (E.target_id == subject) | E.seq.in_(refs)


def filtered(workspace, since=None, until=None, operation=None, target_type=None, target_id=None, actor=None,
             outcome=None, idp=None, subject=None):
    """Return the workspace's event query with the filters applied (time range is [since, until))."""
    query = E.select().where(E.workspace_id == workspace.id)
    if since is not None:
        query = query.where(E.time >= since)
    if until is not None:
        query = query.where(E.time < until)
    if operation:
        expr = _operation_filter(operation)
        if expr is not None:
            query = query.where(expr)
    if target_type:
        query = query.where(E.target_type == target_type)
    if target_id:
        query = query.where(E.target_id == target_id)
    if actor:
        query = query.where((E.actor_token_id == actor) | (E.actor_person_id == actor)
                            | (E.actor_email == actor.strip().lower()))
    if outcome is not None:
        if outcome not in ("success", "failure"):
            raise InvalidError("Invalid outcome", errors={"outcome": ["Use success or failure"]})
        query = query.where(E.status < 400 if outcome == "success" else E.status >= 400)
    if idp:
        query = query.where(E.idp == idp)
    if subject:
        query = query.where(_subject_filter(workspace, subject))
    return query


def query_events(workspace, cursor=None, limit=50, order="desc", **filters):
    """Return (events as dicts, next cursor or None), ordered by seq, filtered as `filtered` does."""
    if order not in ("asc", "desc"):
        raise InvalidError("Invalid order", errors={"order": ["Use asc or desc"]})
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidError("Invalid limit", errors={"limit": [f"1 to {MAX_PAGE}"]})
    query = filtered(workspace, **filters)
    if cursor:
        after = decode_cursor(cursor, order)
        query = query.where(E.seq > after if order == "asc" else E.seq < after)
    query = query.order_by(E.seq.asc() if order == "asc" else E.seq.desc()).limit(limit + 1)
    rows = list(query.dicts())
    next_cursor = encode_cursor(order, rows[limit - 1]["seq"]) if len(rows) > limit else None
    return [event_to_dict(r) for r in rows[:limit]], next_cursor


def get_event(workspace, event_id):
    """Return one event of the workspace as a dict, or raise NotFoundError."""
    row = (E.select().where(E.workspace_id == workspace.id, E.id == event_id).dicts().first()
           if isinstance(event_id, str) and len(event_id) <= 64 else None)
    if row is None:
        raise NotFoundError("Event not found")
    return event_to_dict(row)


def member_history(workspace, member_id, cursor=None, limit=50, order="asc"):
    """Return a member's full history: events about it, and group changes that added or removed it."""
    return query_events(workspace, cursor=cursor, limit=limit, order=order, subject=member_id)


def group_membership_history(workspace, group_id, cursor=None, limit=50, order="asc"):
    """Return the events that created, deleted or changed the members of a group."""
    return query_events(workspace, cursor=cursor, limit=limit, order=order, target_id=group_id,
                        operation=",".join(GROUP_MEMBERSHIP_OPS))


def iter_rows(workspace_id, after_seq=0, upto_seq=None, since=None, until=None, batch=BATCH):
    """Yield event dicts in seq order, fetched in keyset batches (never the whole log in memory)."""
    last = after_seq
    while True:
        query = E.select().where(E.workspace_id == workspace_id, E.seq > last)
        if upto_seq is not None:
            query = query.where(E.seq <= upto_seq)
        if since is not None:
            query = query.where(E.time >= since)
        if until is not None:
            query = query.where(E.time < until)
        rows = list(query.order_by(E.seq).limit(batch).dicts().iterator())
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1]["seq"]


def _head(workspace_id):
    return ProvisioningChain.get_or_none(ProvisioningChain.workspace_id == workspace_id)


def _seq_bounds(workspace_id, since, until):
    """Translate a time range into (after_seq, upto_seq) using the time index; time follows seq."""
    head = _head(workspace_id)
    upto = head.last_seq if head is not None else 0
    after = 0
    if since is not None:
        first = (E.select(fn.MIN(E.seq)).where(E.workspace_id == workspace_id, E.time >= since).scalar())
        after = (first - 1) if first is not None else upto
    if until is not None:
        last = E.select(fn.MAX(E.seq)).where(E.workspace_id == workspace_id, E.time < until).scalar()
        upto = min(upto, last if last is not None else 0)
    return after, upto



EXPORT_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


def _csv_cell(column, value):
    if value is None:
        return ""
    if column in ("before", "after", "quirks"):
        return canonical_json(value)
    return value


def export(workspace, fmt="jsonl", since=None, until=None, batch=BATCH):
    """Yield the log as text chunks (one per batch) in JSON Lines or CSV, columns in COLUMNS order."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidError("Invalid format", errors={"format": ["Use jsonl or csv"]})
    after, upto = _seq_bounds(workspace.id, since, until)
    return _export_chunks(workspace.id, fmt, after, upto, since, until, batch)


def _export_chunks(workspace_id, fmt, after, upto, since, until, batch):
    buffer, writer = io.StringIO(), None
    if fmt == "csv":
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180 §2: CRLF line breaks
        writer.writerow(COLUMNS)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    count = 0
    for row in iter_rows(workspace_id, after, upto, since, until, batch):
        item = event_to_dict(row)
        if writer is not None:
            writer.writerow([_csv_cell(c, item[c]) for c in COLUMNS])
        else:
            buffer.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
            buffer.write("\n")
        count += 1
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()



def _latest_checkpoint(workspace_id):
    return (ProvisioningCheckpoint.select().where(ProvisioningCheckpoint.workspace_id == workspace_id)
            .order_by(ProvisioningCheckpoint.seq.desc()).first())


def _bad(checked, seq, problem, detail):
    return {"ok": False, "checked": checked, "first_bad": {"seq": seq, "problem": problem, "detail": detail}}


def _with_next(rows):
    iterator = iter(rows)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following
        current = following


def _classify(workspace_id, row, following, prev, prev_prev, own_ok, linked):
    """Name what broke the chain at `row`: (problem, seq, detail)."""
    seq = row["seq"]
    if not linked:
        later = following is not None and following["hash"] == row["prev_hash"]
        if not later:
            later = E.select().where(E.workspace_id == workspace_id, E.hash == row["prev_hash"],
                                     E.seq > seq).exists()
        if later:
            return "reordered", seq, f"event {seq} follows an event that is stored later in the sequence"
        if following is not None and following["prev_hash"] == prev:
            return "inserted", seq, f"event {seq} is not part of the chain: the next event links past it"
        if prev_prev is not None and row["prev_hash"] == prev_prev:
            return "inserted", seq - 1, f"event {seq} links past event {seq - 1}"
        if own_ok:
            return "modified", seq - 1, f"event {seq - 1} no longer has the hash event {seq} recorded"
        return "deleted", seq, f"the event event {seq} followed is missing (later events were renumbered)"
    if following is not None and following["prev_hash"] == prev:
        return "inserted", seq, f"event {seq} is not part of the chain: the next event links past it"
    return "modified", seq, f"event {seq} does not match its hash"


def _verify_once(workspace_id, checkpoint):
    head = _head(workspace_id)
    head_seq = head.last_seq if head is not None else 0
    start = checkpoint.seq if checkpoint is not None else 0
    prev = checkpoint.last_hash if checkpoint is not None else GENESIS_HASH
    if checkpoint is not None:
        if checkpoint_hash(checkpoint) != checkpoint.hash:
            return _bad(0, checkpoint.seq, "modified",
                        f"the prune checkpoint through event {start} was altered")
    checked, expected, prev_prev = 0, start + 1, None
    for row, following in _with_next(iter_rows(workspace_id, start, head_seq)):
        seq = row["seq"]
        if seq < expected:
            return _bad(checked, seq, "inserted", f"a second event carries sequence number {seq}")
        if seq > expected:
            return _bad(checked, expected, "deleted", f"event {expected} is missing")
        own_ok = event_hash(row, row["prev_hash"]) == row["hash"]
        linked = row["prev_hash"] == prev
        if not (own_ok and linked):
            problem, at, detail = _classify(workspace_id, row, following, prev, prev_prev, own_ok, linked)
            return _bad(checked, at, problem, detail)
        prev_prev, prev = prev, row["hash"]
        expected += 1
        checked += 1
    if expected - 1 < head_seq:
        return _bad(checked, expected, "deleted", f"events {expected} to {head_seq} are missing")
    if head is not None and head_seq > start and prev != head.last_hash:
        return _bad(checked, head_seq, "modified",
                    f"event {head_seq} no longer has the hash the chain head recorded")
    beyond = E.select(fn.MIN(E.seq)).where(E.workspace_id == workspace_id, E.seq > head_seq).scalar()
    if beyond is not None:
        head_now = _head(workspace_id)
        if head_now is None or beyond > head_now.last_seq:
            return _bad(checked, beyond, "inserted", f"event {beyond} is beyond the chain head")
    stale = E.select(fn.MIN(E.seq)).where(E.workspace_id == workspace_id, E.seq <= start).scalar()
    if stale is not None:
        return _bad(checked, stale, "inserted", f"event {stale} sits inside the pruned range")
    if checkpoint is not None:
        # A real prune writes an audit.pruned event naming its checkpoint, chained after it (checked above).
        attested = any((row.get("after") or {}).get("checkpoint_hash") == checkpoint.hash
                       for row in E.select(E.after).where(E.workspace_id == workspace_id, E.seq > start,
                                                         E.operation == "audit.pruned").dicts())
        if not attested:
            return _bad(checked, start, "deleted",
                        f"events through {start} are gone but no audit.pruned event records that checkpoint")
    return {"ok": True, "checked": checked, "first_bad": None}


def verify(workspace):
    """Verify the workspace's chain: {ok, checked, first_bad: {seq, problem, detail} or None}."""
    result = None
    for _ in range(3):
        checkpoint = _latest_checkpoint(workspace.id)
        result = _verify_once(workspace.id, checkpoint)
        latest = _latest_checkpoint(workspace.id)
        if result["ok"] or (latest.id if latest else None) == (checkpoint.id if checkpoint else None):
            break  # a prune between reading the checkpoint and the events: verify again
    result["checkpoint"] = None if checkpoint is None else {
        "seq": checkpoint.seq, "hash": checkpoint.hash, "pruned_count": checkpoint.pruned_count}
    return result



def prune(workspace, actor, now=None):
    """Delete events older than `audit.retention_days`, leaving a hashed checkpoint; return what was done."""
    from . import mutation
    days = workspace.setting("audit.retention_days")
    if not days:
        return {"pruned": 0, "through_seq": None, "retention_days": 0}
    now = now or utcnow()
    cutoff = now - datetime.timedelta(days=days)
    with mutation(workspace, actor, "audit.pruned") as change:
        # Lock the head first so concurrent prunes and writers queue behind this one.
        ProvisioningChain.update(last_seq=ProvisioningChain.last_seq).where(
            ProvisioningChain.workspace_id == workspace.id).execute()
        last = (E.select(E.seq, E.hash).where(E.workspace_id == workspace.id, E.time < cutoff)
                .order_by(E.seq.desc()).first())
        if last is None:
            return {"pruned": 0, "through_seq": None, "retention_days": days}
        count = E.delete().where(E.workspace_id == workspace.id, E.seq <= last.seq).execute()
        ProvisioningEventRef.delete().where(ProvisioningEventRef.workspace_id == workspace.id,
                                            ProvisioningEventRef.seq <= last.seq).execute()
        previous = _latest_checkpoint(workspace.id)
        checkpoint = {"workspace_id": workspace.id, "seq": last.seq, "last_hash": last.hash,
                      "pruned_count": count, "pruned_before": cutoff, "created_at": now,
                      "prev_checkpoint_hash": previous.hash if previous is not None else GENESIS_HASH}
        checkpoint["hash"] = checkpoint_hash(checkpoint)
        ProvisioningCheckpoint.create(**checkpoint)
        change.record("audit.pruned", "workspace", workspace.id, workspace.slug,
                      after={"through_seq": last.seq, "count": count, "older_than": format_time(cutoff),
                             "retention_days": days, "checkpoint_hash": checkpoint["hash"],
                             "last_pruned_hash": last.hash})
    return {"pruned": count, "through_seq": last.seq, "retention_days": days,
            "checkpoint_hash": checkpoint["hash"]}


def prune_all(actor, now=None):
    """Prune every workspace whose retention setting is set; return {slug: result}."""
    out = {}
    for workspace in Workspace.select().order_by(Workspace.slug):
        if workspace.setting("audit.retention_days"):
            out[workspace.slug] = prune(workspace, actor, now=now)
    return out



def report_daily_operations(workspace, since=None, until=None):
    """Count events per UTC day and operation, split by outcome."""
    day = fn.DATE(E.time)
    failed = fn.SUM(Case(None, [(E.status >= 400, 1)], 0))
    rows = (filtered(workspace, since=since, until=until)
            .select(day.alias("day"), E.operation, fn.COUNT(E.id).alias("total"), failed.alias("failure"))
            .group_by(day, E.operation).order_by(day, E.operation).tuples())
    items = [{"day": str(d)[:10], "operation": op, "total": int(total),
              "success": int(total) - int(fail or 0), "failure": int(fail or 0)}
             for d, op, total, fail in rows]
    return {"name": "daily-operations", "items": items}


def report_deprovisioning(workspace, since=None, until=None):
    """For each deprovisioned member: when the request arrived, when access was gone, and the time between."""
    items = []
    query = filtered(workspace, since=since, until=until, operation=",".join(DEPROVISION_OPS),
                     outcome="success")
    for row in query.order_by(E.seq).dicts().iterator():
        seconds = None
        if row["received_at"] is not None:
            seconds = round(max((row["time"] - row["received_at"]).total_seconds(), 0.0), 6)
        items.append({"member_id": row["target_id"], "user_name": row["target_name"],
                      "operation": row["operation"],
                      "idp": row["idp"], "actor_kind": row["actor_kind"], "actor_email": row["actor_email"],
                      "actor_token_label": row["actor_token_label"], "seq": row["seq"],
                      "requested_at": format_time(row["received_at"]),
                      "access_removed_at": format_time(row["time"]),
                      "seconds": seconds})
    timed = sorted(i["seconds"] for i in items if i["seconds"] is not None)
    summary = {"count": len(items), "timed": len(timed),
               "median_seconds": timed[len(timed) // 2] if timed else None,
               "max_seconds": timed[-1] if timed else None}
    return {"name": "deprovisioning", "items": items, "summary": summary}


def _event_summary(row):
    return {"seq": row["seq"], "time": format_time(row["time"]), "operation": row["operation"],
            "actor_kind": row["actor_kind"], "actor_email": row["actor_email"],
            "actor_token_label": row["actor_token_label"], "idp": row["idp"]}


def _grants_env(after, environment):
    if not isinstance(after, dict):
        return False
    if after.get("environment") == environment and after.get("role"):
        return True
    roles = after.get("roles")
    return isinstance(roles, dict) and bool(roles.get(environment)) and roles.get(environment) != "NoAccess"


def report_access(workspace, environment="prod"):
    """List members with access to `environment` and how: a direct role or a group's grant, with the event."""
    if environment not in workspace.environments:
        return {"name": "access", "environment": environment, "items": [],
                "note": f"Environment {environment} is not enabled in this workspace"}
    direct = dict(MemberRole.select(MemberRole.member, Role.name).join(Role)
                  .where(MemberRole.workspace == workspace.id, MemberRole.environment == environment)
                  .tuples())
    granting = {gid: (name, role) for gid, name, role in
                GroupGrant.select(GroupGrant.group, Group.display_name, Role.name)
                .join(Group, on=(GroupGrant.group == Group.id)).switch(GroupGrant)
                .join(Role, on=(GroupGrant.role == Role.id))
                .where(GroupGrant.workspace == workspace.id, GroupGrant.environment == environment).tuples()}
    via_groups = {}
    if granting:
        for member_id, group_id in (GroupMember.select(GroupMember.member, GroupMember.group)
                                    .where(GroupMember.workspace == workspace.id,
                                           GroupMember.group.in_(list(granting))).tuples()):
            via_groups.setdefault(member_id, []).append(group_id)
    member_ids = set(direct) | set(via_groups)
    members = {m.id: m for m in Member.select().where(Member.workspace == workspace.id, Member.id.in_(
        list(member_ids)), Member.status != "suspended")} if member_ids else {}
    granted_by, joined_by = {}, {}
    ops = "role.granted,member.added,user.created,user.updated,group.created,group.members_added"
    for row in filtered(workspace, operation=ops, outcome="success").order_by(E.seq).dicts().iterator():
        if row["operation"].startswith("group."):
            if row["target_id"] in granting:
                for member_id in mentions(None, row["after"]):
                    joined_by[(row["target_id"], member_id)] = _event_summary(row)
        elif row["target_id"] in members and _grants_env(row["after"], environment):
            granted_by[row["target_id"]] = _event_summary(row)
    items = []
    for member_id, member in sorted(members.items(), key=lambda kv: kv[1].user_name_ci):
        privileges = set()
        for privs, _ in privilege_sources(member).get(environment, []):
            privileges |= privs
        if not privileges:
            continue
        sources = []
        if member_id in direct:
            sources.append({"type": "direct", "role": direct[member_id],
                            "granted_by": granted_by.get(member_id)})
        for group_id in via_groups.get(member_id, []):
            name, role = granting[group_id]
            sources.append({"type": "group", "group_id": group_id, "group": name, "role": role,
                            "member_since": joined_by.get((group_id, member_id))})
        items.append({"member_id": member_id, "user_name": member.user_name, "status": member.status,
                      "privileges": sorted(privileges), "sources": sources})
    return {"name": "access", "environment": environment, "items": items}


REPORTS = {"daily-operations": report_daily_operations, "deprovisioning": report_deprovisioning,
           "access": report_access}


register()
