"""Provisioning events: query with a cursor, histories, streamed export, verification, reports and pruning."""

import datetime

from flask import Response, stream_with_context
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models.services import audit as svc
from web.audit import operation

from .auth import authenticate_request, current_actor, workspace_access
from .schemas import Text

blp = Blueprint("events", __name__, url_prefix="/api/v1/workspaces",
                description="Provisioning events (the hash-chained audit log)")
blp.before_request(authenticate_request)


def _naive_utc(value):
    if value is not None and value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


class RangeArgs(Schema):
    since = fields.DateTime(data_key="from", metadata={"description": "ISO 8601; inclusive (UTC when naive)"})
    until = fields.DateTime(data_key="to", metadata={"description": "ISO 8601; exclusive (UTC when naive)"})

    @validates_schema
    def _order(self, data, **kwargs):
        since, until = _naive_utc(data.get("since")), _naive_utc(data.get("until"))
        if since is not None and until is not None and until <= since:
            raise ValidationError("`to` must be after `from`", "to")


class PageArgs(Schema):
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=svc.MAX_PAGE))
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


class EventListArgs(RangeArgs, PageArgs):
    operation = Text(validate=validate.Length(max=500),
                              metadata={"description": "Comma-separated; `user.*` matches a prefix"})
    target_type = Text(validate=validate.Length(max=32))
    target_id = Text(validate=validate.Length(max=64))
    actor = Text(validate=validate.Length(max=320),
                          metadata={"description": "A token id, a person id or a person's email"})
    outcome = fields.String(validate=validate.OneOf(["success", "failure"]))
    idp = Text(validate=validate.Length(max=100))


class HistoryArgs(PageArgs):
    order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))


class ExportArgs(RangeArgs):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(sorted(svc.EXPORT_FORMATS)))


class ReportArgs(RangeArgs):
    environment = fields.String(load_default="prod", validate=validate.Length(max=16))


class EventSchema(Schema):
    id = fields.String()
    workspace_id = fields.String()
    seq = fields.Integer()
    time = fields.String(metadata={"format": "date-time"})
    received_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    request_id = fields.String(allow_none=True)
    actor_kind = fields.String()
    actor_token_id = fields.String(allow_none=True)
    actor_token_label = fields.String(allow_none=True)
    actor_person_id = fields.String(allow_none=True)
    actor_email = fields.String(allow_none=True)
    idp = fields.String(allow_none=True)
    client_ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    operation = fields.String()
    target_type = fields.String()
    target_id = fields.String(allow_none=True)
    target_name = fields.String(allow_none=True)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    status = fields.Integer()
    error = fields.String(allow_none=True)
    scim_type = fields.String(allow_none=True)
    quirks = fields.List(fields.String())
    prev_hash = fields.String()
    hash = fields.String()


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
    next_cursor = fields.String(allow_none=True)


class FirstBadSchema(Schema):
    seq = fields.Integer()
    problem = fields.String(metadata={"description": "modified, deleted, inserted or reordered"})
    detail = fields.String()


class SignedCheckpointSchema(Schema):
    workspace_id = fields.String()
    seq = fields.Integer()
    hash = fields.String()
    time = fields.String(metadata={"description": "When it was signed (UTC)"})
    reason = fields.String(metadata={"description": "interval, demand or prune"})
    key_id = fields.String(metadata={"description": "First 16 hex digits of SHA-256 over the raw public key"})
    statement = fields.String(metadata={"description": "The exact text signed (canonical JSON)"})
    signature = fields.String(metadata={"description": "Ed25519 signature of `statement`, base64"})


class VerifiedCheckpointSchema(SignedCheckpointSchema):
    signature_ok = fields.Boolean()


class ExpectedHeadSchema(Schema):
    seq = fields.Integer()
    hash = fields.String()
    extended = fields.Boolean()
    detail = fields.String()


class VerifySchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    first_bad = fields.Nested(FirstBadSchema, allow_none=True)
    checkpoint = fields.Dict(allow_none=True, metadata={"description": "The latest prune checkpoint"})
    signed_checkpoint = fields.Nested(VerifiedCheckpointSchema, allow_none=True,
                                      metadata={"description": "The newest signed checkpoint, checked"})
    expected_head = fields.Nested(ExpectedHeadSchema, allow_none=True)


class VerifyArgs(Schema):
    expected_head = fields.String(validate=validate.Length(max=90), metadata={
        "description": "`<seq>:<hash>` of a head saved earlier (GET events/head): the log must extend it"})


class ChainHeadSchema(Schema):
    seq = fields.Integer()
    hash = fields.String()


class HeadSchema(Schema):
    signed = fields.Nested(SignedCheckpointSchema, allow_none=True,
                           metadata={"description": "The latest signed checkpoint (null before the first)"})
    current = fields.Nested(ChainHeadSchema, metadata={"description": "The chain head now (not signed)"})
    key_id = fields.String(allow_none=True, metadata={"description": "The id of the key signing now"})


class PruneSchema(Schema):
    pruned = fields.Integer()
    through_seq = fields.Integer(allow_none=True)
    retention_days = fields.Integer()
    checkpoint_hash = fields.String()


def _range(args):
    return _naive_utc(args.get("since")), _naive_utc(args.get("until"))


def _page(items, next_cursor):
    return {"items": items, "next_cursor": next_cursor}


@blp.route("/<ws>/events")
@blp.arguments(EventListArgs, location="query")
@blp.response(200, EventPageSchema)
def list_events(args, ws):
    """List events by seq (newest first unless order=asc), filtered; follow `next_cursor` for more."""
    workspace, _ = workspace_access(ws, "audit:read")
    since, until = _range(args)
    filters = {k: args.get(k) for k in ("operation", "target_type", "target_id", "actor", "outcome", "idp")}
    return _page(*svc.query_events(workspace, cursor=args.get("cursor"), limit=args["limit"],
                                   order=args["order"], since=since, until=until, **filters))


@blp.route("/<ws>/events/members/<member_id>")
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, EventPageSchema)
def member_history(args, ws, member_id):
    """Show a member's full history (also after it was removed), oldest first."""
    workspace, _ = workspace_access(ws, "audit:read")
    return _page(*svc.member_history(workspace, member_id[:64], args.get("cursor"), args["limit"],
                                     args["order"]))


@blp.route("/<ws>/events/groups/<group_id>/membership")
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, EventPageSchema)
def group_membership_history(args, ws, group_id):
    """Show who joined and left a group, and when, oldest first."""
    workspace, _ = workspace_access(ws, "audit:read")
    return _page(*svc.group_membership_history(workspace, group_id[:64], args.get("cursor"), args["limit"],
                                               args["order"]))


@blp.route("/<ws>/events/export")
@blp.arguments(ExportArgs, location="query")
@blp.response(200, description="JSON Lines or CSV, streamed; columns in the documented order (docs/audit.md)",
              content_type="application/x-ndjson")
def export_events(args, ws):
    """Export the log for a time range as JSON Lines or CSV, streamed."""
    workspace, _ = workspace_access(ws, "audit:export")
    since, until = _range(args)
    fmt = args["format"]
    chunks = svc.export(workspace, fmt, since=since, until=until)
    filename = f"{workspace.slug}-events.{fmt}"
    return Response(stream_with_context(chunks), mimetype=svc.EXPORT_FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@blp.route("/<ws>/events/verify")
@blp.arguments(VerifyArgs, location="query")
@blp.response(200, VerifySchema)
def verify_events(args, ws):
    """Verify the hash chain, against its newest signed checkpoint and optionally a saved head; name the first
    problem."""
    workspace, _ = workspace_access(ws, "audit:read")
    expected = svc.parse_head(args["expected_head"]) if "expected_head" in args else None
    return svc.verify(workspace, expected)


@blp.route("/<ws>/events/head")
@blp.response(200, HeadSchema)
def events_head(ws):
    """Show the latest signed checkpoint of the log, to keep elsewhere and check later with expected_head."""
    workspace, _ = workspace_access(ws, "audit:read")
    return svc.head(workspace)


@blp.route("/<ws>/events/checkpoints", methods=["POST"])
@blp.response(201, SignedCheckpointSchema)
@operation("audit.checkpoint_signed", "workspace")
def sign_checkpoint(ws):
    """Sign the log's head now (409 when no signing key is configured)."""
    workspace, _ = workspace_access(ws, "audit:read")
    return svc.sign_now(workspace)


@blp.route("/<ws>/events/reports/<name>")
@blp.arguments(ReportArgs, location="query")
@blp.response(200)
def report(args, ws, name):
    """Run a report: daily-operations, deprovisioning or access (members with access to an environment)."""
    workspace, _ = workspace_access(ws, "audit:read")
    if name not in svc.REPORTS:
        abort(404, message=f"Unknown report {name}; choose from {', '.join(svc.REPORTS)}")
    if name == "access":
        return svc.report_access(workspace, args["environment"])
    since, until = _range(args)
    return svc.REPORTS[name](workspace, since=since, until=until)


@blp.route("/<ws>/events/prune", methods=["POST"])
@blp.response(200, PruneSchema)
@operation("audit.pruned", "workspace")
def prune_events(ws):
    """Delete events older than the workspace's audit.retention_days, keeping the chain verifiable."""
    workspace, _ = workspace_access(ws, "workspace:update")
    return svc.prune(workspace, current_actor())


@blp.route("/<ws>/events/<event_id>")
@blp.response(200, EventSchema)
def get_event(ws, event_id):
    """Read one event."""
    workspace, _ = workspace_access(ws, "audit:read")
    return svc.get_event(workspace, event_id)
