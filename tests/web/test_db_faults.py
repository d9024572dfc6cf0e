"""Faults answer honestly: PostgreSQL stopped under SCIM traffic gives 503 with Retry-After (SCIM error JSON),
never 500, and Roster recovers by itself when the database is back. A write answered 2xx is stored.

A private PostgreSQL instance (initdb in a temporary directory, its own port on 127.0.0.1) is stopped and
started under a bounded loop of requests to `gunicorn -w 2`."""

import shutil
import tempfile
import threading
import time

import pytest
import requests

from tests.live import LiveServer, PrivatePostgres, postgres_bin, roster_cli, roster_env

pytestmark = pytest.mark.slow

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_REQUESTS = 3000


@pytest.fixture
def roster_on_private_postgres():
    if postgres_bin() is None:
        pytest.skip("the Debian PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    directory = tempfile.mkdtemp(prefix="roster-pg-")
    pg = server = None
    try:
        pg = PrivatePostgres(directory)
        pg.start()
        env = roster_env(pg.url, directory)
        roster_cli(env, "db", "upgrade")
        slug = roster_cli(env, "workspace", "create", "Fault", "--owner", "owner@fault.test").splitlines()[-1]
        token = roster_cli(env, "token", "create", "--workspace", slug, "--scope", "scim").splitlines()[-1]
        server = LiveServer(env, workers=2, log_path=f"{directory}/gunicorn.log")
        yield pg, server, token
    finally:
        if server is not None:
            server.stop()
        if pg is not None and pg.running():
            pg.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


def test_a_stopped_database_answers_503_and_roster_recovers(roster_on_private_postgres):
    pg, server, token = roster_on_private_postgres
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    answers = []  # (phase, method, status, headers, body)
    created = {}  # userName -> id of users answered 201
    patched = {}  # id -> the displayName a 200 PATCH answered
    phase = {"name": "up"}
    stop = threading.Event()

    def traffic():
        n = 0
        while not stop.is_set() and len(answers) < MAX_REQUESTS:
            n += 1
            kind = n % 3
            try:
                if kind == 0 or not created:
                    name = f"user{n}"
                    r = session.post(f"{server.url}/scim/v2/Users", json={"schemas": [USER], "userName": name},
                                     timeout=10)
                    if r.status_code == 201:
                        created[name] = r.json()["id"]
                elif kind == 1:
                    r = session.get(f"{server.url}/scim/v2/Users?count=5", timeout=10)
                else:
                    target = list(created.values())[n % len(created)]
                    r = session.patch(f"{server.url}/scim/v2/Users/{target}", timeout=10, json={
                        "schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName",
                                                            "value": f"name {n}"}]})
                    if r.status_code == 200:
                        patched[target] = f"name {n}"
            except requests.RequestException as error:  # no answer at all would be a failure too
                answers.append((phase["name"], "?", 0, {}, str(error)))
                continue
            answers.append((phase["name"], r.request.method, r.status_code, r.headers, r.text))

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        time.sleep(2)
        phase["name"] = "stopping"
        pg.stop("fast")
        phase["name"] = "down"
        time.sleep(4)
        phase["name"] = "starting"
        pg.start()
        phase["name"] = "back"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            recent = [a for a in answers[-10:] if a[0] == "back"]
            if len(recent) == 10 and all(a[2] < 400 for a in recent):
                break
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(timeout=30)

    statuses = [a[2] for a in answers]
    by_phase = {}
    for name, _, status, _, _ in answers:
        by_phase.setdefault(name, {}).setdefault(status, 0)
        by_phase[name][status] += 1
    print("answers by phase and status:", by_phase)
    assert 0 not in statuses, [a for a in answers if a[2] == 0][:3]
    assert not [s for s in statuses if s >= 500 and s != 503], by_phase
    assert all(a[2] < 400 for a in answers if a[0] == "up"), by_phase
    down = [a for a in answers if a[0] == "down"]
    assert down and all(a[2] == 503 for a in down), by_phase
    for _, _, status, headers, body in answers:
        if status == 503:
            assert headers["Retry-After"].isdigit()
            assert headers["Content-Type"].startswith("application/scim+json")
            assert ERROR in body and '"status":"503"' in body
    back = [a for a in answers if a[0] == "back"]
    assert len(back) >= 10 and all(a[2] < 400 for a in back[-10:]), by_phase
    # Every write answered 2xx is stored.
    for name, member_id in created.items():
        r = session.get(f"{server.url}/scim/v2/Users/{member_id}", timeout=10)
        assert r.status_code == 200 and r.json()["userName"] == name
    for member_id, display_name in patched.items():
        latest = session.get(f"{server.url}/scim/v2/Users/{member_id}", timeout=10).json()
        assert latest["displayName"].startswith("name ")
