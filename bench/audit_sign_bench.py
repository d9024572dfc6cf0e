"""Benchmark what signed checkpoints cost the log's write path (docs/audit.md, "Signed checkpoints").

    python bench/audit_sign_bench.py                    # SQLite temp file
    python bench/audit_sign_bench.py --database-url postgresql://postgres@127.0.0.1/bench

Single-event mutations at the service layer, in interleaved rounds of three settings: no signing key, a key
signing every 100 events (the default), and a key signing every event (what the default avoids). Reports the
median and best microseconds per mutation of each.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='roster-sign-')}/bench.db"
    from wsgi import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "SMTP_HOST": ""})
    from models.db import db, upgrade
    from models.services import Actor, mutation
    from models.services.audit import signing
    from models.services.workspaces import create_workspace
    upgrade()
    actor = Actor(kind="cli")
    key = signing.new_private_key()
    settings = {"no key": signing.Settings(),
                "key, every 100 events": signing.Settings(signing_key=key, every_events=100, every_minutes=60),
                "key, every event": signing.Settings(signing_key=key, every_events=1)}
    with app.app_context(), db.connection_context():
        workspace = create_workspace(actor, "Sign bench", "owner@bench.test", slug=f"sign-{int(time.time())}")

        def run(count):
            start = time.perf_counter()
            for i in range(count):
                with mutation(workspace, actor) as change:
                    change.record("user.updated", "user", f"u{i}", "bench", after={"n": i})
            return (time.perf_counter() - start) / count * 1e6

        run(args.per_round)  # warm up
        results = {label: [] for label in settings}
        order = list(settings.items())
        for round_no in range(args.rounds):
            for label, chosen in order[round_no % 3:] + order[:round_no % 3]:  # each setting leads in turn
                signing.use(chosen)
                results[label].append(run(args.per_round))
    print("| write path | median µs per mutation | best |\n|---|---|---|")
    for label, values in results.items():
        print(f"| {label} | {statistics.median(values):.0f} | {min(values):.0f} |")


if __name__ == "__main__":
    main()
