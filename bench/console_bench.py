"""Benchmark the console: server-side render time of every page of a large workspace.

    python bench/console_bench.py                                   # SQLite temp file, 100,000 members, 1,000,000 events
    python bench/console_bench.py --members 100000 --events 200000 --database-url postgresql://postgres@127.0.0.1/bench
    python bench/console_bench.py --record                          # append the table to bench/RESULTS.md

The workspace is filled directly (bulk inserts, no HTTP): N members with a direct role, 200 groups of 50
members each granting a role, 20 custom roles, and E events spread over the last 30 days (several operations,
IdPs and failures), hashed into a valid chain. Then each page is requested R times through the Flask test client
with a signed-in console session (the full request: session look-up, CSRF token, privileges, queries,
templates), and the p50 and p95 of the server-side time are reported with the number of SQL statements of one
request: a count that does not grow with the page size shows there is no N+1. Target: p50 <= 50 ms.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.audit_export_bench import make_app, reset_postgres  # noqa: E402

OPERATIONS = (("user.updated", "user"), ("user.created", "user"), ("user.deactivated", "user"),
              ("group.members_added", "group"), ("member.roles_changed", "user"), ("user.deleted", "user"))
IDPS = ("okta", "entra", "onelogin", None)
TARGET_MS = 50


def fill_directory(ws, members):
    """Insert `members` people and members (a direct role in dev), 20 custom roles, 200 groups x 50 members."""
    from models.db import db, new_id, utcnow
    from models.directory import Group, GroupGrant, GroupMember, Member, MemberRole, Person
    from models.services import Actor, roles as roles_svc
    cli = Actor(kind="cli")
    custom = [roles_svc.create_role(ws, cli, f"Custom {i}", ["members:read", "audit:read"]) for i in range(20)]
    member_role = roles_svc.role_by_name(ws, "Member")
    now = utcnow()
    ids = []
    for start in range(0, members, 5000):
        people, rows, roles = [], [], []
        for i in range(start, min(start + 5000, members)):
            pid, mid = new_id(), new_id()
            email = f"user{i:06d}@bench.example"
            people.append({"id": pid, "email": email, "name": f"User {i}", "created_at": now})
            rows.append({"id": mid, "workspace": ws.id, "person": pid, "user_name": email, "user_name_ci": email,
                         "email_ci": email, "display_name": f"User {i}", "status": "active" if i % 20 else "suspended",
                         "attributes": {}, "created_at": now + datetime.timedelta(microseconds=i), "updated_at": now})
            roles.append({"workspace": ws.id, "member": mid, "environment": "dev",
                          "role": (custom[i % 20] if i % 3 == 0 else member_role).id})
            ids.append(mid)
        with db.atomic():
            Person.insert_many(people).execute()
            Member.insert_many(rows).execute()
            MemberRole.insert_many(roles).execute()
    with db.atomic():
        for g in range(200):
            group_id = new_id()
            Group.insert(id=group_id, workspace=ws.id, display_name=f"Team {g:03d}",
                         display_name_ci=f"team {g:03d}", attributes={}).execute()
            GroupGrant.insert(workspace=ws.id, group=group_id, environment="prod", role=custom[g % 20].id).execute()
            GroupMember.insert_many([{"workspace": ws.id, "group": group_id, "member": ids[(g * 50 + k) % len(ids)]}
                                     for k in range(50)]).execute()
    return ids


def fill_events(ws, count, member_ids, batch=5000):
    """Append `count` events over the last 30 days to the workspace's chain; return events/s."""
    from models.db import db, is_postgres, new_id, utcnow
    from models.events import GENESIS_HASH, HASHED_COLUMNS, ProvisioningChain, ProvisioningEvent, event_hash
    from models.services.audit.chain import count_days
    head = ProvisioningChain.get(ProvisioningChain.workspace_id == ws.id)
    seq, prev = head.last_seq, head.last_hash or GENESIS_HASH
    columns = list(HASHED_COLUMNS) + ["prev_hash", "hash"]
    fields = ProvisioningEvent._meta.fields
    quoted = ", ".join(f'"{fields[c].column_name}"' for c in columns)
    sql = f'INSERT INTO "provisioning_event" ({quoted}) VALUES ({", ".join([db.param] * len(columns))})'
    start_time = utcnow() - datetime.timedelta(days=30)
    step = datetime.timedelta(days=30) / max(count, 1)
    started = time.perf_counter()
    for offset in range(0, count, batch):
        params, rows = [], []
        for i in range(offset, min(offset + batch, count)):
            seq += 1
            operation, target_type = OPERATIONS[i % len(OPERATIONS)]
            idp = IDPS[i % len(IDPS)]
            failed = i % 97 == 0
            when = start_time + step * i
            row = {"id": new_id(), "workspace_id": ws.id, "seq": seq, "time": when, "received_at": when,
                   "request_id": f"req-{i}", "actor_kind": "service" if idp else "console",
                   "actor_token_id": "tok" if idp else None, "actor_token_label": idp,
                   "actor_person_id": None, "actor_email": None if idp else "owner@bench.example", "idp": idp,
                   "client_ip": "10.1.2.3", "user_agent": "bench", "operation": operation, "target_type": target_type,
                   "target_id": member_ids[i % len(member_ids)], "target_name": f"user{i % len(member_ids):06d}",
                   "before": {"active": True}, "after": {"title": "Staff Engineer"},
                   "status": 409 if failed else 200, "error": "conflict" if failed else None, "scim_type": None,
                   "quirks": ["entra.op_case"] if idp == "entra" else []}
            row["prev_hash"] = prev
            row["hash"] = prev = event_hash(row, prev)
            rows.append(row)
            params.append([fields[c].db_value(row[c]) if is_postgres() else
                           (json.dumps(row[c]) if c in ("before", "after", "quirks") else row[c]) for c in columns])
        with db.atomic():
            db.cursor().executemany(sql, params)
            count_days(ws.id, rows)  # what append_events keeps up to date
            ProvisioningChain.update(last_seq=seq, last_hash=prev).where(
                ProvisioningChain.workspace_id == ws.id).execute()
    return count / max(time.perf_counter() - started, 1e-9)


class Counter:
    """Count the SQL statements of a request (peewee's execute_sql)."""

    def __init__(self, db):
        self.db, self.count, self._original = db, 0, db.execute_sql

    def __enter__(self):
        def counted(sql, params=None, *args, **kwargs):
            self.count += 1
            return self._original(sql, params, *args, **kwargs)
        self.db.execute_sql = counted
        return self

    def __exit__(self, *exc):
        self.db.execute_sql = self._original


def pages(slug, member_id, group_id, role_id, event_id):
    base = f"/console/w/{slug}"
    return [("overview", f"{base}/"), ("members", f"{base}/members"),
            ("members, email search", f"{base}/members?email=user0999"),
            ("members, page 2000", f"{base}/members?page=2000"), ("member", f"{base}/members/{member_id}"),
            ("invite", f"{base}/members/invite"), ("groups", f"{base}/groups"), ("group", f"{base}/groups/{group_id}"),
            ("roles", f"{base}/roles"), ("role", f"{base}/roles/{role_id}"), ("settings", f"{base}/settings"),
            ("service tokens", f"{base}/tokens"), ("personal tokens", "/console/tokens"),
            ("scim setup", f"{base}/scim?idp=okta"), ("scim recent panel", f"{base}/scim/recent"),
            ("log", f"{base}/log"), ("log, refused only", f"{base}/log?outcome=failure"),
            ("log, idp=entra", f"{base}/log?idp=entra"), ("log, member history", f"{base}/log?subject={member_id}"),
            ("log event", f"{base}/log/events/{event_id}"), ("log verify (intro)", f"{base}/log/verify"),
            ("report: operations per day (30 days)", f"{base}/log/reports/daily-operations"),
            ("report: who has access (prod)", f"{base}/log/reports/access?environment=prod")]


def measure(app, client, path, rounds):
    from models.db import db
    times, statements = [], None
    for _ in range(rounds):
        with Counter(db.obj) as counter:
            start = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        times.append(elapsed)
        statements = counter.count
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1 if len(times) > 1 else 0], statements


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url")
    parser.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="roster-console-bench-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    if url.startswith("postgres"):
        reset_postgres(url)
    app = make_app(url)
    from models.db import db, is_postgres
    from models.events import ProvisioningEvent
    from models.services import Actor, signin, workspaces as ws_svc
    with app.app_context(), db.connection_context():
        owner = ws_svc.get_or_create_person("owner@bench.example")
        ws = ws_svc.create_workspace(Actor(kind="cli"), "Bench", owner, slug="bench",
                                     environments=["dev", "test", "prod"])
        t0 = time.perf_counter()
        member_ids = fill_directory(ws, args.members)
        fill_members_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rate = fill_events(ws, args.events, member_ids)
        fill_events_s = time.perf_counter() - t0
        if is_postgres():
            db.execute_sql("VACUUM ANALYZE")
        else:
            db.execute_sql("ANALYZE")
        _, raw = signin.open_session(owner)
        from models.directory import Group, Role
        group_id = Group.select(Group.id).where(Group.workspace == ws.id).first().id
        role_id = Role.select(Role.id).where(Role.workspace == ws.id, Role.is_system == False).first().id  # noqa
        event_id = ProvisioningEvent.select(ProvisioningEvent.id).where(
            ProvisioningEvent.workspace_id == ws.id).order_by(ProvisioningEvent.seq.desc()).first().id
    client = app.test_client()
    client.set_cookie("roster_session", raw, domain="localhost")
    rows = []
    with app.app_context():
        for name, path in pages("bench", member_ids[len(member_ids) // 2], group_id, role_id, event_id):
            p50, p95, statements = measure(app, client, path, args.rounds)
            rows.append((name, p50, p95, statements))
            print(f"{name:40s} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   {statements} statements", flush=True)
    dialect = "postgres" if url.startswith("postgres") else "sqlite"
    head = (f"### console pages, {dialect} — {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC\n\n"
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}. "
            f"Sizes: {args.members:,} members (200 groups x 50, 20 custom roles), {args.events:,} events "
            f"(filled in {fill_members_s:.0f} s and {fill_events_s:.0f} s, {rate:,.0f} events/s). "
            f"Flask test client, signed-in owner, {args.rounds} requests per page.\n\n"
            "| page | p50 ms | p95 ms | SQL statements | p50 <= 50 ms |\n|---|---|---|---|---|\n")
    table = head + "".join(f"| {n} | {a:.2f} | {b:.2f} | {s} | {'yes' if a <= TARGET_MS else 'NO'} |\n"
                           for n, a, b, s in rows)
    print(table)
    if args.record:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"), "a") as out:
            out.write("\n" + table)


if __name__ == "__main__":
    main()
