"""Admin API benchmark: filling an admin-managed group with 10,000 members in one call, and GET {ws}/context.

    python bench/admin_bench.py --db sqlite             # gunicorn -w 2 on SQLite (WAL), one client thread
    python bench/admin_bench.py --db postgres --postgres-url postgresql://.../roster_bench_admin
    python bench/admin_bench.py ... --record            # append the results table to bench/RESULTS.md

Sizes are fixed (--quick changes nothing here).

Setup (not measured) reuses bench/scim_bench.py: a fresh database, a workspace, 10,000 users through SCIM
/Bulk, and a personal token of the owner. Loops are bounded in count; the server binds 127.0.0.1 only.
"""

import os
import statistics
import subprocess
import sys
import uuid

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scim_bench import ROOT, Bench, arguments, run_and_report  # noqa: E402

TARGETS = {"add 10,000 members to a group ms": ("<=", 1000), "/context p50 ms": ("<=", 5)}
GROUP_SIZE = 10000
ROUNDS = 5
CONTEXT_CALLS = 300


class AdminBench(Bench):
    def personal_token(self):
        env = dict(os.environ, DATABASE_URL=self.database_url, SECRET_KEY="bench", ROSTER_INSTANCE_PATH=self.tmp)
        roster = [sys.executable, "-c", "import sys; sys.argv[0]='roster'; from cli import main; main()"]
        out = subprocess.run(roster + ["token", "create", "--person", "owner@bench.test"], env=env, cwd=ROOT,
                             check=True, capture_output=True, text=True)
        admin = requests.Session()
        admin.headers.update({"Authorization": f"Bearer {out.stdout.strip()}"})
        return admin

    def admin_call(self, admin, method, path, expect, **kwargs):
        url = f"http://127.0.0.1:{self.port}/api/v1/workspaces/bench{path}"
        r = admin.request(method, url, timeout=120, **kwargs)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r

    def run_admin(self):
        ids = self.bulk_create(0, GROUP_SIZE, uuid.uuid4().hex[:6])
        admin = self.personal_token()
        group = self.admin_call(admin, "POST", "/groups", 201, json={"display_name": "Everyone"}).json()
        path = f"/groups/{group['id']}/members"
        adds, removes = [], []
        for _ in range(ROUNDS):
            _, lat = self.timed(1, lambda i: self.admin_call(admin, "POST", path, 200, json={"member_ids": ids}))
            adds.extend(lat)
            _, lat = self.timed(1, lambda i: self.admin_call(admin, "DELETE", path, 200, json={"member_ids": ids}))
            removes.extend(lat)
        self.admin_call(admin, "POST", path, 200, json={"member_ids": ids})
        _, ctx = self.timed(CONTEXT_CALLS, lambda i: self.admin_call(admin, "GET", "/context", 200))
        return {"add 10,000 members to a group ms": statistics.median(adds),
                "remove 10,000 members from a group ms": statistics.median(removes),
                "/context p50 ms": statistics.median(ctx), "/context p95 ms": ctx[int(len(ctx) * 0.95) - 1],
                "_sizes": {"members": GROUP_SIZE, "rounds (medians; the group emptied between)": ROUNDS,
                           "context calls": CONTEXT_CALLS}}


def main():
    args = arguments(__doc__, postgres_db="roster_bench_admin")
    run_and_report(AdminBench(args), AdminBench.run_admin, args, targets=TARGETS, title="admin API, ")


if __name__ == "__main__":
    main()
