"""The hash chain: appending events under the locked head row, reading it in order, verifying and pruning it.

Appending takes three hand-written SQL statements (advance the head, insert the events, store the new head
hash), all in the caller's transaction; see models/events.py for how an event is hashed.
"""

import datetime
import json
import sqlite3

from peewee import fn

from ...db import db, is_postgres, new_id, utcnow
from ...events import (GENESIS_HASH, HASHED_COLUMNS, ProvisioningChain, ProvisioningCheckpoint, ProvisioningDaily,
                       ProvisioningEvent, ProvisioningEventRef, checkpoint_hash, event_hash, format_time)
from ...workspace import Workspace
from . import signing
from .scrub import clip, scrub

E = ProvisioningEvent
BATCH = 1000
INSERT_CHUNK = 500
MENTION_KEYS = ("members", "member", "member_id", "member_ids", "user_id")


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


_HEAD_COLUMNS = '"last_seq", "last_hash", "signed_seq", "signed_at"'


def _advance_head(workspace_id, count):
    """Reserve `count` sequence numbers; return (first seq, hash of the event before them, seq and time of the
    head's last signature). Locks the head."""
    param = db.param
    update = (f'UPDATE "provisioning_chain" SET "last_seq" = "last_seq" + {param} '
              f'WHERE "workspace_id" = {param}')
    for _ in range(2):
        if _returning_supported():
            row = db.execute_sql(update + f' RETURNING {_HEAD_COLUMNS}', (count, workspace_id)).fetchone()
        else:
            changed = db.execute_sql(update, (count, workspace_id)).rowcount
            row = db.execute_sql(f'SELECT {_HEAD_COLUMNS} FROM "provisioning_chain" WHERE '
                                 f'"workspace_id" = {param}', (workspace_id,)).fetchone() if changed else None
        if row:
            last_seq, last_hash, signed_seq, signed_at = row
            return last_seq - count + 1, last_hash, signed_seq, signed_at
        # The first event of this workspace: create the head (a concurrent creator wins harmlessly), retry.
        ProvisioningChain.insert(workspace_id=workspace_id, last_seq=0, last_hash=GENESIS_HASH) \
            .on_conflict_ignore().as_rowcount().execute()
    raise RuntimeError("could not lock the provisioning chain head")


def mentions(event_before, event_after, target_id=None):
    """Return the member ids an event's before/after mention besides its target (group membership changes)."""
    found, seen = [], set()  # a set beside the list: 10,000 members added at once must not cost n² compares
    for doc in (event_before, event_after):
        if not isinstance(doc, dict):
            continue
        for key in MENTION_KEYS:
            value = doc.get(key)
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, dict):
                    item = item.get("value") or item.get("id")
                if isinstance(item, str) and 0 < len(item) <= 64 and item != target_id \
                        and item not in seen:
                    seen.add(item)
                    found.append(item)
    return found


def append_events(workspace_id, records):
    """Append events (dicts of columns) to the workspace's chain in the current transaction; return them."""
    if not records:
        return []
    first_seq, prev, signed_seq, signed_at = _advance_head(workspace_id, len(records))
    now = utcnow()  # taken under the head lock, so time follows seq
    rows, refs = [], []
    for offset, record in enumerate(records):
        row = {column: record.get(column) for column in HASHED_COLUMNS}
        row.update(id=new_id(), workspace_id=workspace_id, seq=first_seq + offset, time=now)
        row["before"] = scrub(row["before"]) if row["before"] is not None else None
        row["after"] = scrub(row["after"]) if row["after"] is not None else None
        row["quirks"] = scrub(list(row["quirks"] or []))
        row["status"] = int(row["status"] or 200)
        clip(row)
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(row, prev)
        rows.append(row)
        refs.extend((workspace_id, ref, row["seq"]) for ref in mentions(row["before"], row["after"], row["target_id"]))
    for start in range(0, len(rows), INSERT_CHUNK):  # stay under the databases' bound-parameter limits
        chunk = rows[start:start + INSERT_CHUNK]
        db.execute_sql(_event_insert_sql(len(chunk)), _event_params(chunk))
    for start in range(0, len(refs), INSERT_CHUNK):  # by hand: peewee's insert_many costs more than the insert
        chunk = refs[start:start + INSERT_CHUNK]
        values = ", ".join([f"({db.param}, {db.param}, {db.param})"] * len(chunk))
        db.execute_sql(f'INSERT INTO "provisioning_event_ref" ("workspace_id", "ref_id", "seq") VALUES {values}',
                       [v for ref in chunk for v in ref])
    last_seq = rows[-1]["seq"]
    if signing.due(last_seq, signed_seq, signed_at, now):  # every N events or T minutes: sign the new head
        signing.store_checkpoint(workspace_id, last_seq, prev, now, "interval")
        db.execute_sql(f'UPDATE "provisioning_chain" SET "last_hash" = {db.param}, "signed_seq" = {db.param}, '
                       f'"signed_at" = {db.param} WHERE "workspace_id" = {db.param}',
                       (prev, last_seq, now, workspace_id))
    else:
        db.execute_sql(f'UPDATE "provisioning_chain" SET "last_hash" = {db.param} '
                       f'WHERE "workspace_id" = {db.param}', (prev, workspace_id))
    count_days(workspace_id, rows)
    return rows


_DAILY_UPSERT = ('INSERT INTO "provisioning_daily" ("workspace_id", "day", "idp", "operation", "success", "failure") '
                 'VALUES {values} ON CONFLICT ("workspace_id", "day", "idp", "operation") DO UPDATE SET '
                 '"success" = "provisioning_daily"."success" + excluded."success", '
                 '"failure" = "provisioning_daily"."failure" + excluded."failure"')


def count_days(workspace_id, rows, sign=1):
    """Add the events (dicts with time, idp, operation, status) to the per-day counts; sign=-1 takes them off."""
    counts = {}
    for row in rows:
        key = (format_time(row["time"])[:10], row["idp"] or "", row["operation"])
        ok, failed = counts.get(key, (0, 0))
        counts[key] = (ok + (row["status"] < 400), failed + (row["status"] >= 400))
    items = list(counts.items())
    for start in range(0, len(items), INSERT_CHUNK):
        chunk = items[start:start + INSERT_CHUNK]
        values = ", ".join(["(" + ", ".join([db.param] * 6) + ")"] * len(chunk))
        params = [v for (day, idp, op), (ok, failed) in chunk
                  for v in (workspace_id, day, idp, op, sign * ok, sign * failed)]
        db.execute_sql(_DAILY_UPSERT.format(values=values), params)


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


def chain_head(workspace_id):
    """Return the workspace's chain head row (last seq and hash), or None before its first event."""
    return ProvisioningChain.get_or_none(ProvisioningChain.workspace_id == workspace_id)


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
    head = chain_head(workspace_id)
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
        head_now = chain_head(workspace_id)
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


def _batches(workspace_id, upto_seq):
    """Yield the (time, idp, operation, status) of events 1..upto_seq in keyset batches."""
    last = 0
    while True:
        rows = list(E.select(E.seq, E.time, E.idp, E.operation, E.status).where(
            E.workspace_id == workspace_id, E.seq > last, E.seq <= upto_seq).order_by(E.seq).limit(BATCH * 10).dicts())
        if not rows:
            return
        last = rows[-1]["seq"]
        yield rows


def prune(workspace, actor, now=None):
    """Delete events older than `audit.retention_days` (never fewer days than the operator's floor), leaving a
    hashed checkpoint and a signed one of what was removed; return what was done."""
    from .. import mutation  # the log is written by mutations; this one records the prune itself
    days = workspace.setting("audit.retention_days")
    if not days:
        return {"pruned": 0, "through_seq": None, "retention_days": 0}
    days = max(days, signing.settings().min_retention_days)  # a setting stored before the floor was raised
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
        for rows in _batches(workspace.id, last.seq):
            count_days(workspace.id, rows, sign=-1)
        ProvisioningDaily.delete().where(ProvisioningDaily.workspace_id == workspace.id,
                                         ProvisioningDaily.success == 0, ProvisioningDaily.failure == 0).execute()
        count = E.delete().where(E.workspace_id == workspace.id, E.seq <= last.seq).execute()
        ProvisioningEventRef.delete().where(ProvisioningEventRef.workspace_id == workspace.id,
                                            ProvisioningEventRef.seq <= last.seq).execute()
        previous = _latest_checkpoint(workspace.id)
        checkpoint = {"workspace_id": workspace.id, "seq": last.seq, "last_hash": last.hash,
                      "pruned_count": count, "pruned_before": cutoff, "created_at": now,
                      "prev_checkpoint_hash": previous.hash if previous is not None else GENESIS_HASH}
        checkpoint["hash"] = checkpoint_hash(checkpoint)
        ProvisioningCheckpoint.create(**checkpoint)
        # Sign what was removed, and have the audit.pruned event's append sign the new head.
        signing.store_checkpoint(workspace.id, last.seq, last.hash, now, "prune",
                                 pruned={"count": count, "older_than": format_time(cutoff),
                                         "checkpoint_hash": checkpoint["hash"]})
        ProvisioningChain.update(signed_at=None).where(ProvisioningChain.workspace_id == workspace.id).execute()
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
