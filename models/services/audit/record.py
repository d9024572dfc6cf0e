"""Turning what a mutation did, or why a request was refused, into events: actor columns, outcomes, targets.

`mutation()` (models/services/__init__.py) calls `record_change` inside its transaction and `record_failure`
after a rollback. The web layer (web/audit.py) records refused requests that never reached a mutation with
`record_refusals`, and tells the log about the request it serves with `begin_request`: the target its view
declares and what the log wrote meanwhile (so a refusal is recorded once, never twice).
"""

import contextvars
import dataclasses
import logging

from ...db import db
from ...directory import Group, Member, Role
from ...events import canonical_json
from ...workspace import Workspace
from . import signing
from .chain import append_events
from .scrub import scrub

log = logging.getLogger("roster.audit")

# Operations written by the admin API, the command line and (SCIM branch) the SCIM endpoints; docs/audit.md.
OPERATIONS = (
    "workspace.created", "workspace.updated", "workspace.settings_changed", "workspace.deletion_code_sent",
    "workspace.cloned", "workspace.deleted",
    "member.added", "member.updated", "member.removed", "member.left", "member.ownership_transferred",
    "member.roles_changed",
    "role.granted", "role.revoked", "role.created", "role.updated", "role.privileges_changed", "role.deleted",
    "group.grants_changed",
    "invitation.sent", "invitation.resent", "invitation.revoked", "invitation.accepted",
    "token.created", "token.revoked",
    "user.created", "user.updated", "user.deactivated", "user.reactivated", "user.deleted",
    "group.created", "group.renamed", "group.updated", "group.members_added", "group.members_removed",
    "group.deleted",
    "sso.connection.changed", "sso.certificate.changed", "sso.certificate.approved", "sso.domain.changed",
    "audit.pruned", "audit.checkpoint_signed", "auth.refused", "request.refused",
)

_settings = {"enabled": True}


def set_enabled(enabled):
    """Turn event writing on or off process-wide (benchmarks compare both; production keeps it on)."""
    _settings["enabled"] = bool(enabled)


def enabled():
    """Tell whether events are written (config AUDIT_LOG, `set_enabled`)."""
    return _settings["enabled"]


@dataclasses.dataclass
class RequestScope:
    """What the web layer tells the log about the request it serves, and what the log wrote meanwhile."""

    target_type: str | None = None  # declared by the view that answers
    target_id: str | None = None  # that view's own argument naming the target
    recorded: bool = False
    failures: list = dataclasses.field(default_factory=list)  # (operation, status) of failure events
    events_written: int = 0  # for the operator's metrics


_scope = contextvars.ContextVar("roster_audit_request", default=None)


def begin_request(target_type=None, target_id=None):
    """Start the scope of a request the web layer serves (it ends with `end_request`)."""
    _scope.set(RequestScope(target_type, target_id))


def end_request():
    _scope.set(None)


def current_request():
    """Return the RequestScope of the request being served, or None (command line, tests, benchmarks)."""
    return _scope.get()


def _mark_recorded(failure=None, written=1):
    scope = _scope.get()
    if scope is not None:
        scope.recorded = True
        scope.events_written += written
        if failure is not None:
            scope.failures.append(failure)


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
            "request_id": getattr(actor, "request_id", None),
            "received_at": getattr(actor, "received_at", None)}


def _split_by_workspace(change):
    """Yield (workspace_id, event): an event about a workspace moves the next ones into it (bulk create)."""
    current = change.workspace.id if change.workspace is not None else None
    for event in change.events:
        if event.target_type == "workspace" and event.target_id:
            current = event.target_id
        if current is not None:
            yield current, event


def record_change(change):
    """Write one success event per recorded change, in the mutation's transaction."""
    if not _settings["enabled"] or not change.events:
        return
    by_workspace, written = {}, 0
    for workspace_id, event in _split_by_workspace(change):
        by_workspace.setdefault(workspace_id, []).append(event)
    for workspace_id, events in by_workspace.items():
        workspace = change.workspace if change.workspace is not None and change.workspace.id == workspace_id \
            else Workspace.get_or_none(Workspace.id == workspace_id)
        if any(e.operation == "workspace.deleted" for e in events) \
                and not Workspace.select().where(Workspace.id == workspace_id).exists():
            # The workspace's log went with it (workspaces.WORKSPACE_OWNED_TABLES): nothing to chain to.
            log.info("workspace %s deleted; its provisioning log went with it", workspace_id)
            continue
        actor = _actor_columns(change.actor, workspace)
        status = getattr(change, "outcome_status", 200) or 200
        records = [dict(actor, operation=e.operation, target_type=e.target_type,
                        target_id=e.target_id, target_name=e.target_name, before=e.before, after=e.after,
                        quirks=e.quirks, status=status)
                   for e in events]
        append_events(workspace_id, records)
        written += len(records)
    if signing.settings().checkpoint_file or signing.settings().checkpoint_syslog:
        change.after_commit.append(signing.stream_pending)  # a checkpoint signed now is streamed once committed
    _mark_recorded(written=written)


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
    return status, error_text(message, getattr(error, "errors", None)), getattr(error, "scim_type", None)


def error_text(message, errors=None):
    """Return the error column of a refusal: the message, then its per-field errors (secrets scrubbed)."""
    if not errors:
        return message
    details = canonical_json(scrub(errors))
    return f"{message} {details}" if message else details


def record_failure(change, error):
    """Write one failure event for a rolled-back mutation (in its own transaction)."""
    if not _settings["enabled"] or change.workspace is None:
        return
    try:
        with db.atomic():
            if not Workspace.select().where(Workspace.id == change.workspace.id).exists():
                return
            first = change.events[0] if change.events else None
            operation = getattr(change, "attempted", None) or (first.operation if first else "request.refused")
            status, message, scim_type = outcome_of(error)
            target = (first.target_type, first.target_id, first.target_name) if first else _request_target(
                operation, change.workspace)
            record = dict(_actor_columns(change.actor, change.workspace), operation=operation, target_type=target[0], target_id=target[1],
                          target_name=target[2],
                          before=None, after=None, quirks=list(first.quirks) if first else [],
                          status=status, error=message, scim_type=scim_type)
            append_events(change.workspace.id, [record])
        signing.stream_pending()
        _mark_recorded((operation, status))
    except Exception:
        log.exception("could not record the failure of %s in workspace %s",
                      getattr(change, "attempted", None), change.workspace.id)


def _request_target(operation, workspace):
    """Return the target of a failed mutation that recorded nothing: the one the request's view names, else
    what the operation is about."""
    scope = _scope.get()
    if scope is not None and scope.target_id is not None:
        return target_of(workspace, scope.target_type, scope.target_id)
    return target_of(workspace, default_target_type(operation))


def default_target_type(operation):
    """Return what an operation is about by its name: `member.removed` -> user, `audit.pruned` -> workspace."""
    kind = operation.split(".", 1)[0] if operation else "request"
    return {"member": "user", "audit": "workspace"}.get(kind, kind)


# Target type -> (model, name column) for naming the target of a refusal.
_NAMED = {"user": (Member, Member.user_name), "group": (Group, Group.display_name), "role": (Role, Role.name)}


def target_of(workspace, target_type, target_id=None):
    """Return (type, id, name) of a refusal's target; a workspace names itself."""
    if target_id is not None:
        model, name_column = _NAMED.get(target_type, (None, None))
        name = (model.select(name_column).where(model.id == target_id, model.workspace == workspace.id).scalar()
                if model is not None and len(target_id) <= 64 else None)
        return target_type, target_id[:64], name
    if target_type == "workspace":
        return "workspace", workspace.id, workspace.slug
    return target_type, None, None


def refusal(operation, target, status, error=None, scim_type=None):
    """Describe a refused request for `record_refusals`; `target` is (type, id, name)."""
    target_type, target_id, target_name = target
    return {"operation": operation, "target_type": target_type, "target_id": target_id,
            "target_name": target_name, "status": status, "error": error, "scim_type": scim_type}


def record_refusals(workspace, actor, refusals):
    """Record refused requests (or /Bulk operations) that reached no mutation, in their own transaction."""
    if not refusals:
        return []
    columns = _actor_columns(actor, workspace)
    records = [dict(columns, before=None, after=None, quirks=[], **item) for item in refusals]
    with db.atomic():
        rows = append_events(workspace.id, records)
    signing.stream_pending()
    _mark_recorded(written=len(records))
    return rows
