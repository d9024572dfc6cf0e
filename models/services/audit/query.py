"""Reading the log: filters, cursor pages, member and group histories, JSON Lines and CSV exports."""

import base64
import binascii
import csv
import io
import json

from peewee import fn

from ...events import COLUMNS, ProvisioningEvent, ProvisioningEventRef, canonical_json, format_time
from .. import InvalidError, NotFoundError
from .chain import BATCH, chain_head, iter_rows

E = ProvisioningEvent
MAX_PAGE = 500
GROUP_MEMBERSHIP_OPS = ("group.created", "group.members_added", "group.members_removed", "group.deleted")


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


def _seq_bounds(workspace_id, since, until):
    """Translate a time range into (after_seq, upto_seq) using the time index; time follows seq."""
    head = chain_head(workspace_id)
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


def event_at(workspace, seq):
    """Return the workspace's event number `seq` as a dict, or None (pruned, deleted or never written)."""
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2 ** 63:
        return None
    row = E.select().where(E.workspace_id == workspace.id, E.seq == seq).dicts().first()
    return event_to_dict(row) if row is not None else None


def recent_idp_events(workspace, window=5000, per_idp=10):
    """Return {idp: [events, newest first]} of the SCIM traffic among the workspace's last `window` events.

    The window keeps the read bounded on a long log: it walks the (workspace_id, seq) index backwards from the
    chain head reading two narrow columns, then reads the few whole events it keeps."""
    head = chain_head(workspace.id)
    if head is None:
        return {}
    kept = {}
    for seq, idp in (E.select(E.seq, E.idp).where(E.workspace_id == workspace.id, E.seq > head.last_seq - window,
                                                  E.idp.is_null(False)).order_by(E.seq.desc()).tuples()):
        found = kept.setdefault(idp, [])
        if len(found) < per_idp:
            found.append(seq)
    seqs = [seq for found in kept.values() for seq in found]
    rows = {row["seq"]: event_to_dict(row) for row in
            E.select().where(E.workspace_id == workspace.id, E.seq.in_(seqs)).dicts()} if seqs else {}
    return {idp: [rows[seq] for seq in found] for idp, found in kept.items()}
