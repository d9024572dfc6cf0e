"""Benchmark the provisioning log: write overhead per mutation, and streamed export of a million events.

    python bench/audit_export_bench.py                       # SQLite temp file, 1,000,000 events
    python bench/audit_export_bench.py --events 200000 --database-url postgresql://postgres@127.0.0.1/bench
    python bench/audit_export_bench.py --events 0            # write overhead only

Three measurements:
1. writes, log on and off in interleaved rounds (best and median): SCIM provisioning (POST /Users, PATCH
   active=false, DELETE: one event each), an admin API write (PUT /members/{id}/roles: role.granted +
   role.revoked) and the same at the service layer; requests/s, events/s and the overhead.
2. fill: N events appended to one workspace's chain (hashed like production rows, bulk-inserted).
3. export: a fresh process streams GET /events/export (JSON Lines and CSV) through the app and reports its
   peak RSS next to the peak RSS of the same process doing everything but the export.
The export's memory must not depend on N (it reads keyset batches of 1,000).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_app(url):
    from wsgi import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "SMTP_HOST": "",
                      "RATE_LIMITS": False, "LOG_FORMAT": "text"})
    from models.db import upgrade
    upgrade()
    return app


def reset_postgres(url):
    from playhouse.db_url import connect
    database = connect(url)
    with database.connection_context():
        database.execute_sql("DROP SCHEMA public CASCADE")
        database.execute_sql("CREATE SCHEMA public")
    database.close()


def setup_workspace(slug):
    from models.services import Actor
    from models.services import tokens as tokens_svc
    from models.services import workspaces as ws_svc
    cli = Actor(kind="cli")
    owner = ws_svc.get_or_create_person(f"owner@{slug}.bench")
    ws = ws_svc.create_workspace(cli, slug, owner, slug=slug, environments=["dev", "test", "prod"])
    _, raw = tokens_svc.create_service_token(ws, cli, ["admin"], "bench")
    return ws, raw


def bench_writes(app, count, rounds=5):
    """Time `count` role changes through the API and the service layer, log on and off."""
    from models.db import db
    from models.services import Actor, audit, mutation
    from models.services import members as members_svc
    from models.services.workspaces import get_or_create_person
    results = {}
    with app.app_context(), db.connection_context():
        ws, token = setup_workspace("writes")
        from models.services.tokens import create_service_token
        _, scim_token = create_service_token(ws, Actor(kind="cli"), ["scim"], "okta")
        person = get_or_create_person("jane@writes.bench")
        from models.services.roles import role_by_name
        with mutation(ws, Actor(kind="cli")) as change:
            member = members_svc.add_member(change, ws, person, {"prod": role_by_name(ws, "Readonly")})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    roles = ["Admin", "Readonly"]
    cli = Actor(kind="cli")

    def api_round(n):
        for i in range(n):
            r = client.put(f"/api/v1/workspaces/writes/members/{member.id}/roles", headers=headers,
                           json={"env_roles": [{"environment_type": "prod", "name": roles[i % 2]}]})
            assert r.status_code == 200, r.json

    def service_round(n):
        with app.app_context(), db.connection_context():
            for i in range(n):
                members_svc.set_roles(ws, cli, member.id, [{"environment_type": "prod", "name": roles[i % 2]}])

    scim_headers = {"Authorization": f"Bearer {scim_token}", "User-Agent": "Okta SCIM Client 1.0.0"}
    serial = iter(range(10 ** 9))

    def scim_round(n):
        # A provisioning cycle per user: create, deactivate, delete (3 requests, 3 events).
        for _ in range(max(1, n // 3)):
            name = f"user{next(serial)}@scim.bench"
            r = client.post("/scim/v2/Users", headers=scim_headers, json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                "emails": [{"value": name, "primary": True}]})
            assert r.status_code == 201, r.json
            user = r.json["id"]
            r = client.patch(f"/scim/v2/Users/{user}", headers=scim_headers, json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": False}]})
            assert r.status_code in (200, 204)
            assert client.delete(f"/scim/v2/Users/{user}", headers=scim_headers).status_code == 204

    runs = (("scim", scim_round, 1), ("api", api_round, 2), ("service", service_round, 2))
    for name, run, events_per_request in runs:
        run(30)  # warm up
        timings = {False: [], True: []}
        for enabled in (False, True) * rounds:  # interleaved, so background load hits both alike
            audit.set_enabled(enabled)
            start = time.perf_counter()
            run(count)
            timings[enabled].append(time.perf_counter() - start)
        audit.set_enabled(True)
        off, on = min(timings[False]), min(timings[True])
        results[name] = {"requests": count, "rounds": rounds, "per_s_log_off": round(count / off, 1),
                         "per_s_log_on": round(count / on, 1), "events_per_s": round(count / on *
                                                                                    events_per_request, 1),
                         "overhead_pct_best": round((on / off - 1) * 100, 1),
                         "overhead_pct_median": round((sorted(timings[True])[rounds // 2]
                                                       / sorted(timings[False])[rounds // 2] - 1) * 100, 1)}
    return results


def fill(app, workspace_slug, count, batch=5000):
    """Append `count` events to a new workspace's chain, hashed as in production; return (events/s, id)."""
    from models.db import db, new_id, utcnow
    from models.events import GENESIS_HASH, HASHED_COLUMNS, ProvisioningChain, ProvisioningEvent, event_hash
    with app.app_context(), db.connection_context():
        ws, _ = setup_workspace(workspace_slug)
        head = ProvisioningChain.get(ProvisioningChain.workspace_id == ws.id)
        seq, prev = head.last_seq, head.last_hash or GENESIS_HASH
        columns = list(HASHED_COLUMNS) + ["prev_hash", "hash"]
        field_names = [ProvisioningEvent._meta.fields[c].column_name for c in columns]
        quoted = ", ".join(f'"{c}"' for c in field_names)
        sql = f'INSERT INTO "provisioning_event" ({quoted}) VALUES ({", ".join([db.param] * len(columns))})'
        start = time.perf_counter()
        for offset in range(0, count, batch):
            params = []
            now = utcnow()
            for i in range(offset, min(offset + batch, count)):
                seq += 1
                row = {"id": new_id(), "workspace_id": ws.id, "seq": seq, "time": now, "received_at": now,
                       "request_id": f"req-{i}", "actor_kind": "service", "actor_token_id": "tok",
                       "actor_token_label": "okta", "actor_person_id": None, "actor_email": None,
                       "idp": "okta",
                       "client_ip": "10.1.2.3", "user_agent": "Okta SCIM Client 1.0.0",
                       "operation": "user.updated", "target_type": "user", "target_id": f"user-{i:07d}",
                       "target_name": f"user{i}@example.com", "before": {"title": "Engineer", "active": True},
                       "after": {"title": "Staff Engineer"}, "status": 200, "error": None, "scim_type": None,
                       "quirks": ["entra.op_case"]}
                row["prev_hash"] = prev
                row["hash"] = prev = event_hash(row, prev)
                params.append([json.dumps(row[c]) if c in ("before", "after", "quirks") else row[c]
                               for c in columns])
            with db.atomic():
                db.cursor().executemany(sql, params)
                ProvisioningChain.update(last_seq=seq, last_hash=prev).where(
                    ProvisioningChain.workspace_id == ws.id).execute()
        return count / (time.perf_counter() - start), ws.id


def export_child(url, slug, fmt, dry):
    """Run in a fresh process: stream the export (or do everything but) and print bytes, seconds, peak RSS."""
    app = make_app(url)
    from models.db import db
    with app.app_context(), db.connection_context():
        from models.services.tokens import create_service_token
        from models.services import Actor
        from models.services.workspaces import find_workspace
        _, token = create_service_token(find_workspace(slug), Actor(kind="cli"), ["audit:read"], "export bench")
    client = app.test_client()
    total, lines = 0, 0
    start = time.perf_counter()
    if not dry:
        response = client.get(f"/api/v1/workspaces/{slug}/events/export?format={fmt}",
                              headers={"Authorization": f"Bearer {token}"}, buffered=False)
        assert response.status_code == 200 and response.is_streamed
        for chunk in response.response:
            total += len(chunk)
            lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        response.close()
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"bytes": total, "lines": lines, "seconds": round(elapsed, 2), "peak_rss_mib":
                      round(peak_kib / 1024, 1)}))


def run_child(url, slug, fmt, dry):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--database-url", url,
                          "--slug", slug, "--format", fmt] + (["--dry"] if dry else []),
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=300, help="requests per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per mode (log on / off)")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dry", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--slug", default="export")
    parser.add_argument("--format", default="jsonl")
    args = parser.parse_args()
    import logging
    logging.disable(logging.INFO)
    if args.child:
        return export_child(args.database_url, args.slug, args.format, args.dry)

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='roster-bench-')}/bench.db"
    if url.startswith("postgres"):
        reset_postgres(url)
    app = make_app(url)
    report = {"database": url.split(":", 1)[0], "events": args.events}
    report["writes"] = bench_writes(app, args.writes, args.rounds)
    print(json.dumps({"writes": report["writes"]}), flush=True)
    if not args.events:
        return print(json.dumps(report, indent=2))
    rate, _ = fill(app, "export", args.events)
    report["fill_events_per_s"] = round(rate)
    print(json.dumps({"fill_events_per_s": report["fill_events_per_s"]}), flush=True)
    report["export"] = {"baseline": run_child(url, "export", "jsonl", True)}
    for fmt in ("jsonl", "csv"):
        report["export"][fmt] = run_child(url, "export", fmt, False)
        assert report["export"][fmt]["lines"] >= args.events, report["export"][fmt]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
