"""The provisioning log: hash-chained events per workspace, chain heads, a mention index, prune checkpoints.

Every event carries `seq` (1, 2, 3, … per workspace, gap-free) and `hash` = SHA-256 over the canonical JSON
of the event (every column but `hash` and `prev_hash`, keys sorted, times as `YYYY-MM-DDTHH:MM:SS.ffffffZ`)
followed by `prev_hash`, the hash of the event before it (64 zeros for the first one). The chain head row of a
workspace (`last_seq`, `last_hash`) is updated in the writer's transaction, serialising concurrent writers.
Tables carry `workspace_id` without a foreign key: the log outlives what it describes (a deleted member's
events stay), and workspace deletion removes the log explicitly.
"""

import datetime
import hashlib
import json

from peewee import AutoField, BigIntegerField, CharField, DateTimeField, IntegerField, JSONField, TextField

from .db import BaseModel, new_id

GENESIS_HASH = "0" * 64
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# The stable column order of exports (JSON Lines keys, CSV header); docs/audit.md documents it.
COLUMNS = (
    "id", "workspace_id", "seq", "time", "received_at", "request_id",
    "actor_kind", "actor_token_id", "actor_token_label", "actor_person_id", "actor_email",
    "idp", "client_ip", "user_agent",
    "operation", "target_type", "target_id", "target_name", "before", "after",
    "status", "error", "scim_type", "quirks",
    "prev_hash", "hash",
)
HASHED_COLUMNS = tuple(c for c in COLUMNS if c not in ("prev_hash", "hash"))
TIME_COLUMNS = ("time", "received_at")
JSON_COLUMNS = ("before", "after", "quirks")


class ProvisioningEvent(BaseModel):
    """One attempted mutation (success or refusal) in a workspace's hash chain."""

    id = CharField(36, primary_key=True, default=new_id)
    workspace_id = CharField(36)
    seq = BigIntegerField()
    time = DateTimeField()
    received_at = DateTimeField(null=True)
    request_id = CharField(64, null=True)
    actor_kind = CharField(16)
    actor_token_id = CharField(36, null=True)
    actor_token_label = CharField(200, null=True)
    actor_person_id = CharField(36, null=True)
    actor_email = CharField(320, null=True)
    idp = CharField(100, null=True)
    client_ip = CharField(64, null=True)
    user_agent = CharField(400, null=True)
    operation = CharField(64)
    target_type = CharField(32)
    target_id = CharField(64, null=True)
    target_name = CharField(320, null=True)
    before = JSONField(null=True)
    after = JSONField(null=True)
    status = IntegerField()
    error = TextField(null=True)
    scim_type = CharField(32, null=True)
    quirks = JSONField(default=list)
    prev_hash = CharField(64)
    hash = CharField(64)

    class Meta:
        table_name = "provisioning_event"
        indexes = (
            (("workspace_id", "seq"), True),
            (("workspace_id", "time"), False),
            (("workspace_id", "target_id", "seq"), False),
        )


class ProvisioningChain(BaseModel):
    """The head of a workspace's chain: the last sequence number and hash handed out."""

    workspace_id = CharField(36, primary_key=True)
    last_seq = BigIntegerField(default=0)
    last_hash = CharField(64, default=GENESIS_HASH)
    signed_seq = BigIntegerField(default=0)  # the head's seq when it was last signed (a SignedCheckpoint)
    signed_at = DateTimeField(null=True)

    class Meta:
        table_name = "provisioning_chain"


class ProvisioningEventRef(BaseModel):
    """A resource an event mentions besides its target (a member added to a group), for history queries."""

    id = AutoField()
    workspace_id = CharField(36)
    ref_id = CharField(64)
    seq = BigIntegerField()

    class Meta:
        table_name = "provisioning_event_ref"
        indexes = ((("workspace_id", "ref_id", "seq"), False), (("workspace_id", "seq"), False))


class ProvisioningCheckpoint(BaseModel):
    """What a prune removed: through which seq, the hash of the last pruned event, and this row's own hash."""

    id = AutoField()
    workspace_id = CharField(36)
    seq = BigIntegerField()
    last_hash = CharField(64)
    pruned_count = BigIntegerField()
    pruned_before = DateTimeField()
    created_at = DateTimeField()
    prev_checkpoint_hash = CharField(64)
    hash = CharField(64)

    class Meta:
        table_name = "provisioning_checkpoint"
        indexes = ((("workspace_id", "seq"), True),)


class SignedCheckpoint(BaseModel):
    """A chain head signed with the operator's Ed25519 key: `statement` is the exact text signed."""

    id = AutoField()
    workspace_id = CharField(36)
    seq = BigIntegerField()
    hash = CharField(64)
    signed_at = DateTimeField()
    reason = CharField(16)  # interval, demand, prune
    key_id = CharField(32)
    statement = TextField()
    signature = CharField(128)

    class Meta:
        table_name = "provisioning_signed_checkpoint"
        indexes = ((("workspace_id", "seq"), False),)


class DeletedWorkspace(BaseModel):
    """The signed record a workspace deletion leaves outside the workspace (who, when, counts, final head)."""

    id = AutoField()
    workspace_id = CharField(36)
    slug = CharField(64)
    deleted_at = DateTimeField()
    key_id = CharField(32, null=True)
    statement = TextField()
    signature = CharField(128, null=True)

    class Meta:
        table_name = "deleted_workspace"
        indexes = ((("deleted_at",), False),)


class AuthRefusal(BaseModel):
    """Refused authentications of one token prefix in one minute, counted until written as one event."""

    id = AutoField()
    workspace_id = CharField(36)
    token_prefix = CharField(16)
    minute = DateTimeField()
    reason = CharField(16)
    token_id = CharField(36, null=True)
    client_ip = CharField(64, null=True)
    user_agent = CharField(400, null=True)
    count = IntegerField(default=1)

    class Meta:
        table_name = "auth_refusal"
        indexes = ((("workspace_id", "token_prefix", "minute", "reason"), True),)


class ProvisioningDaily(BaseModel):
    """Events per UTC day, IdP ("" for none) and operation, split by outcome: kept up to date in the transaction
    that appends the events, so the activity chart and the per-day report read days, not events."""

    id = AutoField()
    workspace_id = CharField(36)
    day = CharField(10)  # YYYY-MM-DD
    idp = CharField(100, default="")
    operation = CharField(64)
    success = BigIntegerField(default=0)
    failure = BigIntegerField(default=0)

    class Meta:
        table_name = "provisioning_daily"
        indexes = ((("workspace_id", "day", "idp", "operation"), True),)




def format_time(value):
    """Render a naive UTC datetime in the log's fixed format (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.strftime(TIME_FORMAT)


def canonical_json(data):
    """Serialise `data` the one way hashes are computed over: sorted keys, no spaces, UTF-8 text kept."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_event(row):
    """Return the hashed content of an event (a dict of columns) with times in the fixed format."""
    out = {}
    for column in HASHED_COLUMNS:
        value = row.get(column)
        out[column] = format_time(value) if column in TIME_COLUMNS else value
    return out


def event_hash(row, prev_hash):
    """Return SHA-256 hex over the canonical event followed by the previous event's hash."""
    payload = canonical_json(canonical_event(row)) + prev_hash
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def checkpoint_content(cp):
    """Return the hashed content of a checkpoint (a dict or a ProvisioningCheckpoint)."""
    get = cp.get if isinstance(cp, dict) else (lambda key: getattr(cp, key))
    return {"workspace_id": get("workspace_id"), "seq": get("seq"), "last_hash": get("last_hash"),
            "pruned_count": get("pruned_count"), "pruned_before": format_time(get("pruned_before")),
            "created_at": format_time(get("created_at")), "prev_checkpoint_hash": get("prev_checkpoint_hash")}


def checkpoint_hash(cp):
    """Return SHA-256 hex over the canonical checkpoint."""
    return hashlib.sha256(canonical_json(checkpoint_content(cp)).encode("utf-8")).hexdigest()
