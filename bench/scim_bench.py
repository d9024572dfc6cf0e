"""SCIM benchmark: `gunicorn -w 2 wsgi:app` on SQLite (WAL) or PostgreSQL, one client thread.

    python bench/scim_bench.py --db sqlite            # full run: 100,000 users, a 50,000-member group
    python bench/scim_bench.py --db postgres          # PostgreSQL (database roster_bench, created fresh)
    python bench/scim_bench.py --db sqlite --quick    # small sizes, for a smoke run
    python bench/scim_bench.py ... --audit off        # provisioning log switched off (AUDIT_LOG=false)
    python bench/scim_bench.py ... --record           # append the results table to bench/RESULTS.md

Every loop is bounded in count; the server binds 127.0.0.1 only and is stopped at the end.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

TARGETS = {
    "create users/s": (">=", 300), "patch user/s": (">=", 300),
    "lookup userName eq/s @2k": (">=", 400), "lookup userName eq/s @100k": (">=", 400),
    "pages/s (count=100)": (">=", 60), "page @90001 / first page": ("<=", 2.0),
    "add 100 members p50 ms @1k": ("<=", 25), "add 100 members p50 ms @50k": ("<=", 25),
    "remove 1 member p50 ms @50k": ("<=", 10), "GET group excl. members p50 ms @50k": ("<=", 5),
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def user_body(i, run):
    name = f"user{i:06d}.{run}@bench.example.com"
    return {"schemas": [USER_SCHEMA], "userName": name, "externalId": f"ext-{run}-{i}", "active": True,
            "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"}, "displayName": f"User {i}",
            "emails": [{"value": name, "type": "work", "primary": True}]}


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="roster-bench-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/scim/v2"
        self.results = {}
        self.server = None
        if args.db == "sqlite":
            self.database_url = f"sqlite:///{self.tmp}/bench.db"
        else:
            self.database_url = args.postgres_url

    def setup(self):
        env = dict(os.environ, DATABASE_URL=self.database_url, SECRET_KEY="bench",
                   ROSTER_INSTANCE_PATH=self.tmp, PUBLIC_URL=f"http://127.0.0.1:{self.port}",
                   AUDIT_LOG="true" if self.args.audit == "on" else "false",
                   AUDIT_SIGNING_KEY=os.path.join(self.tmp, "audit_signing_key.pem"),
                   RATE_LIMITS="off")  # the benchmark measures throughput, far above the per-token limit
        if self.args.db == "postgres":
            admin = self.database_url.rsplit("/", 1)[0] + "/postgres"
            dbname = self.database_url.rsplit("/", 1)[1]
            import psycopg2
            conn = psycopg2.connect(admin)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
                cur.execute(f'CREATE DATABASE "{dbname}"')
            conn.close()
        roster = [sys.executable, "-c", "import sys; sys.argv[0]='roster'; from cli import main; main()"]
        subprocess.run(roster + ["audit", "keygen", env["AUDIT_SIGNING_KEY"]], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        subprocess.run(roster + ["db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
        subprocess.run(roster + ["workspace", "create", "Bench", "--slug", "bench", "--owner", "owner@bench.test"],
                       env=env, cwd=ROOT, check=True, capture_output=True)
        out = subprocess.run(roster + ["token", "create", "--workspace", "bench", "--scope", "scim", "--label",
                                       "bench"], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
        self.token = out.stdout.strip()
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "--log-level",
             "warning", "wsgi:app"], env=env, cwd=ROOT, start_new_session=True,
            stderr=open(os.path.join(self.tmp, "server.log"), "ab"))  # one JSON line per request
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {self.token}", "Content-Type": SCIM_JSON,
                                  "Accept": SCIM_JSON})
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if self.http.get(f"{self.base}/ServiceProviderConfig", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # a busy machine starts the workers slowly
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self):
        if self.server is not None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=20)

    def call(self, method, path, expect, **kwargs):
        r = self.http.request(method, self.base + path, timeout=60, **kwargs)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r

    def timed(self, n, fn):
        """Run fn(i) n times; return (rate per second, sorted latencies in ms)."""
        lat = []
        start = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            fn(i)
            lat.append((time.perf_counter() - t) * 1000)
        return n / (time.perf_counter() - start), sorted(lat)

    def bulk_create(self, start, count, run):
        """Create users through /Bulk in batches (setup, not measured)."""
        ids = []
        for offset in range(start, start + count, 500):
            ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{i}", "data": user_body(i, run)}
                   for i in range(offset, min(offset + 500, start + count))]
            r = self.call("POST", "/Bulk", 200, data=json.dumps({"schemas": [BULK_REQUEST], "Operations": ops}))
            for op in r.json()["Operations"]:
                if not str(op["status"]).startswith("201"):
                    raise RuntimeError(f"bulk create failed: {op}")
                ids.append(op["location"].rsplit("/", 1)[1])
        return ids

    def run(self):
        a = self.args
        run = uuid.uuid4().hex[:6]
        n_create, n_small, n_big = (300, 500, 5000) if a.quick else (2000, 2000, 100000)
        n_group_big = 5000 if a.quick else 50000

        rate, _ = self.timed(n_create, lambda i: self.call("POST", "/Users", 201, data=json.dumps(user_body(i, run))))
        self.results["create users/s"] = rate
        ids = [r["id"] for r in self.call("GET", f"/Users?count={min(n_create, 1000)}&attributes=id", 200)
               .json()["Resources"]]
        patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}

        def do_patch(i):
            patch["Operations"][0]["value"] = f"Patched {i}"
            self.call("PATCH", f"/Users/{ids[i % len(ids)]}", 200, data=json.dumps(patch))
        self.results["patch user/s"], _ = self.timed(1000 if not a.quick else 300, do_patch)

        if n_small > n_create:
            self.bulk_create(n_create, n_small - n_create, run)

        def lookup(i, total):
            name = f"user{(i * 7919) % total:06d}.{run}@BENCH.example.com"  # upper case: caseExact false
            r = self.call("GET", "/Users", 200, params={"filter": f'userName eq "{name}"'})
            assert r.json()["totalResults"] == 1, r.text[:200]
        self.results["lookup userName eq/s @2k"], _ = self.timed(1000, lambda i: lookup(i, n_small))

        t0 = time.time()
        self.bulk_create(n_small, n_big - n_small, run)
        self.results["setup: bulk-created users/s"] = (n_big - n_small) / (time.time() - t0)
        self.settle()
        self.results["lookup userName eq/s @100k"], _ = self.timed(1000, lambda i: lookup(i, n_big))

        self.results["pages/s (count=100)"], _ = self.timed(
            100, lambda i: self.call("GET", f"/Users?startIndex={1 + 100 * i}&count=100", 200))
        _, first_pages = self.timed(20, lambda i: self.call("GET", "/Users?startIndex=1&count=100", 200))
        _, deep_pages = self.timed(20, lambda i: self.call("GET", f"/Users?startIndex={n_big - 9999}&count=100",
                                                           200))
        self.results["page @90001 / first page"] = statistics.median(deep_pages) / statistics.median(first_pages)
        self.results["first page p50 ms"] = statistics.median(first_pages)

        member_ids = [r["id"] for r in self.call("GET", "/Users?count=1000&attributes=id", 200).json()["Resources"]]
        page = 1001
        while len(member_ids) < n_group_big + 1000:
            batch = self.call("GET", f"/Users?startIndex={page}&count=1000&attributes=id", 200).json()["Resources"]
            if not batch:
                break
            member_ids += [r["id"] for r in batch]
            page += 1000
        gid = self.call("POST", "/Groups", 201, data=json.dumps({"schemas": [GROUP_SCHEMA],
                                                                "displayName": f"Bench {run}"})).json()["id"]

        def add_batch(k):
            chunk = member_ids[k * 100:(k + 1) * 100]
            body = {"schemas": [PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": m} for m in chunk]}]}
            t = time.perf_counter()
            self._patch_group(gid, body)
            return (time.perf_counter() - t) * 1000

        lat_1k = [add_batch(k) for k in range(10)]
        self.results["add 100 members p50 ms @1k"] = statistics.median(lat_1k)
        lat_big = [add_batch(k) for k in range(10, n_group_big // 100)]
        self.results["add 100 members p50 ms @50k"] = statistics.median(lat_big[-50:])

        def remove_one(i):
            body = {"schemas": [PATCH_OP], "Operations": [
                {"op": "remove", "path": f'members[value eq "{member_ids[i]}"]'}]}
            self._patch_group(gid, body)
        _, lat = self.timed(200, remove_one)
        self.results["remove 1 member p50 ms @50k"] = statistics.median(lat)
        _, lat = self.timed(200, lambda i: self.call("GET", f"/Groups/{gid}?excludedAttributes=members", 200))
        self.results["GET group excl. members p50 ms @50k"] = statistics.median(lat)
        self.results["_sizes"] = {"users": n_big, "group members": n_group_big}
        return self.results

    def settle(self):
        """After the bulk load, refresh PostgreSQL's statistics and visibility map (what autovacuum does within
        its next naptime in production), so plans reflect 100,000 rows and not the table as it was. SQLite's
        plans do not depend on statistics (models.db.tenant_filter)."""
        if self.args.db != "postgres":
            return
        import psycopg2
        conn = psycopg2.connect(self.database_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        conn.close()

    def _patch_group(self, gid, body):
        r = self.http.patch(f"{self.base}/Groups/{gid}", data=json.dumps(body), timeout=60)
        if r.status_code not in (200, 204):
            raise RuntimeError(f"PATCH group: {r.status_code} {r.text[:300]}")


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def table(results, args, targets=None, title=None):
    """Return the results as a Markdown table, each measure with its target (default: the SCIM targets)."""
    targets = TARGETS if targets is None else targets
    lines = [f"### {title or ''}{args.db}{' (quick)' if args.quick else ''}, provisioning log {args.audit} — "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"Machine: {machine()}. Server: gunicorn -w 2 wsgi:app. Client: one thread. "
             f"Sizes: {results.get('_sizes')}.", "", "| measure | result | target | met |", "|---|---|---|---|"]
    for key, value in results.items():
        if key.startswith("_"):
            continue
        target = targets.get(key)
        met = ""
        if target:
            op, bound = target
            met = "yes" if (value >= bound if op == ">=" else value <= bound) else "NO"
        lines.append(f"| {key} | {value:.2f} | {f'{target[0]} {target[1]}' if target else ''} | {met} |")
    return "\n".join(lines) + "\n"


def arguments(doc, postgres_db="roster_bench"):
    """Parse the command line every benchmark shares."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=f"postgresql://postgres@127.0.0.1:5432/{postgres_db}")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--audit", choices=["on", "off"], default="on")
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    return parser.parse_args()


def run_and_report(bench, run, args, **table_options):
    """Set the server up, run(bench), stop it; print the table and append it to bench/RESULTS.md on --record."""
    try:
        bench.setup()
        results = run(bench)
    finally:
        bench.stop()
    text = table(results, args, **table_options)
    print(text)
    if args.record:
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as fh:
            fh.write("\n" + text)


def main():
    args = arguments(__doc__)
    run_and_report(Bench(args), Bench.run, args)


if __name__ == "__main__":
    main()
