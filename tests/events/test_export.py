"""Export: JSON Lines and CSV in the documented column order, streamed in batches with flat memory."""

import csv
import hashlib
import inspect
import io
import json
import tracemalloc

import pytest

from models.events import COLUMNS, event_hash
from models.services import audit
from models.services.audit import append_events

from .conftest import connected, rows

EXPORT = "/api/v1/workspaces/acme/events/export"


def _fill(workspace_id, count, batch=1000):
    from models.db import db
    for start in range(0, count, batch):
        with db.atomic():
            append_events(workspace_id, [
                {"actor_kind": "service", "actor_token_label": "okta", "idp": "okta",
                 "operation": "user.updated", "target_type": "user", "target_id": f"user-{i:07d}",
                 "target_name": f"user{i}@example.com",
                 "before": {"title": "Engineer", "active": True}, "after": {"title": "Staff Engineer"},
                 "quirks": ["entra.op_case"], "status": 200}
                for i in range(start, min(start + batch, count))])


def test_jsonl_lines_carry_every_column_in_order_and_rehash(setup):
    r = setup.audit_client.get(EXPORT, query_string={"format": "jsonl"})
    assert r.status_code == 200 and r.is_streamed
    assert r.mimetype == "application/x-ndjson"
    assert r.headers["Content-Disposition"] == 'attachment; filename="acme-events.jsonl"'
    lines = [json.loads(line) for line in r.data.decode().splitlines()]
    assert [e["seq"] for e in lines] == [e["seq"] for e in rows(setup.workspace)]
    prev = "0" * 64
    for line in lines:
        assert list(line) == list(COLUMNS)
        # An auditor recomputes each hash from the export alone (docs/audit.md).
        canonical = json.dumps({k: v for k, v in line.items() if k not in ("hash", "prev_hash")},
                               sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256((canonical + prev).encode()).hexdigest() == line["hash"]
        assert line["prev_hash"] == prev
        prev = line["hash"]


def test_csv_has_the_documented_header_and_json_cells(setup):
    r = setup.audit_client.get(EXPORT, query_string={"format": "csv"})
    assert r.status_code == 200 and r.is_streamed and r.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(r.data.decode())))
    assert tuple(table[0]) == COLUMNS
    first = dict(zip(COLUMNS, table[1]))
    assert first["seq"] == "1" and first["operation"] == "workspace.created"
    assert json.loads(first["after"])["slug"] == "acme" and first["quirks"] == "[]"
    assert first["received_at"] == "" and len(table) == len(rows(setup.workspace)) + 1


def test_export_honours_the_time_range(setup):
    events = rows(setup.workspace)
    since = events[2]["time"]
    r = setup.audit_client.get(EXPORT, query_string={"from": since.isoformat()})
    got = [json.loads(line)["seq"] for line in r.data.decode().splitlines()]
    assert got == [e["seq"] for e in events if e["time"] >= since]
    r = setup.audit_client.get(EXPORT, query_string={"to": events[0]["time"].isoformat()})
    assert r.data == b""
    assert setup.audit_client.get(EXPORT, query_string={"format": "xml"}).status_code == 422


def test_export_is_a_generator_in_batches(setup, ctx):
    _fill(setup.workspace.id, 2500)
    chunks = audit.export(setup.workspace, "jsonl", batch=1000)
    assert inspect.isgenerator(chunks)
    sizes = [chunk.count("\n") for chunk in chunks]
    assert sizes == [1000, 1000, 500 + len(rows(setup.workspace)) - 2500]
    csv_chunks = list(audit.export(setup.workspace, "csv", batch=1000))
    assert csv_chunks[0].startswith("id,workspace_id,seq,") and len(csv_chunks) == 4


def _peak_export_bytes(workspace):
    tracemalloc.start()
    try:
        for _ in audit.export(workspace, "csv"):
            pass
        for _ in audit.export(workspace, "jsonl"):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_export_memory_stays_flat_as_the_log_grows(setup, ctx):
    _fill(setup.workspace.id, 2_000)
    small = _peak_export_bytes(setup.workspace)
    _fill(setup.workspace.id, 18_000)
    assert len(rows(setup.workspace)) > 20_000
    large = _peak_export_bytes(setup.workspace)
    assert large < 12 * 1024 * 1024, large
    assert large < small * 1.5 + 256 * 1024, (small, large)
    assert audit.verify(setup.workspace)["ok"]


def test_bulk_appended_events_chain_like_any_other(setup, ctx):
    _fill(setup.workspace.id, 3)
    last3 = rows(setup.workspace)[-3:]
    for before, after in zip(last3, last3[1:]):
        assert after["prev_hash"] == before["hash"] == event_hash(before, before["prev_hash"])
    with connected():
        assert audit.verify(setup.workspace)["ok"]
