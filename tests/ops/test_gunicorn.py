"""Under `gunicorn -w 2` with Redis: per-token limits hold across both workers, /metrics adds both workers up,
health answers, and every request is one JSON log line naming the worker's pid.

Redis: TEST_REDIS_URL, or the redis-server on 127.0.0.1:6379 that .ci/run starts. Counters are keyed by token
id, fresh for each run, so a shared Redis is fine."""

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.live import roster_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
METRICS_TOKEN = "operator-metrics-token"
pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_reachable():
    import redis
    try:
        return redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not _redis_reachable():
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: start redis-server (.ci/run does) or set TEST_REDIS_URL")
    tmp = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    env = roster_env(f"sqlite:///{tmp}/roster.db", tmp, PUBLIC_URL=f"http://127.0.0.1:{port}", LOG_FORMAT="json",
                     RATE_LIMITS="on", RATE_LIMIT_SCIM="10/minute", RATE_LIMIT_STORAGE_URL=REDIS_URL,
                     METRICS_TOKEN=METRICS_TOKEN, PROMETHEUS_MULTIPROC_DIR=str(tmp / "metrics"))
    roster = [sys.executable, "-c", "import sys; sys.argv[0]='roster'; from cli import main; main()"]
    subprocess.run(roster + ["db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run(roster + ["workspace", "create", "Ops", "--slug", "ops", "--owner", "owner@ops.test"],
                   env=env, cwd=ROOT, check=True, capture_output=True)

    def token():
        out = subprocess.run(roster + ["token", "create", "--workspace", "ops", "--scope", "scim"], env=env,
                             cwd=ROOT, check=True, capture_output=True, text=True)
        return out.stdout.strip()

    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:web.server", "-w", "2",
                                    "-b", f"127.0.0.1:{port}", "wsgi:app"], env=env, cwd=ROOT, stderr=log,
                                   stdout=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or the workers still loading the app
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not start:\n" + log_path.read_text())
        yield {"base": base, "token": token, "log": log_path}
    finally:
        process.terminate()
        process.wait(timeout=20)


def _get(base, path, token):
    # A new connection per request: gunicorn's sync workers race to accept each one.
    return requests.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _spread(base, path, token, n):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: _get(base, path, token), range(n)))


def _request_lines(log_path, route):
    lines = []
    for raw in log_path.read_text().splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # gunicorn's own start-up lines
        if entry.get("logger") == "roster.request" and entry.get("route") == route:
            lines.append(entry)
    return lines


def _metrics(base):
    r = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert r.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_token_limit_holds_across_two_workers(server):
    base, token = server["base"], server["token"]()
    responses = _spread(base, "/scim/v2/Users?count=1", token, 40)  # RATE_LIMIT_SCIM=10/minute: 20 per 2 min
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 20 and codes.count(429) == 20
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 120
    lines = _request_lines(server["log"], "/scim/v2/Users")
    assert len({line["pid"] for line in lines}) == 2, "both workers answered"
    assert {line["request_id"] for line in lines} == {r.headers["X-Request-ID"] for r in responses}
    assert all(line["token_prefix"] == token[:12] and token not in json.dumps(line) for line in lines)


def test_metrics_add_up_across_workers(server):
    base, token = server["base"], server["token"]()
    assert requests.get(f"{base}/metrics", timeout=10).status_code == 401
    responses = _spread(base, "/scim/v2/Groups?count=1", token, 16)
    assert [r.status_code for r in responses] == [200] * 16
    assert len({line["pid"] for line in _request_lines(server["log"], "/scim/v2/Groups")}) == 2
    for _ in range(4):  # whichever worker answers the scrape, it reads both workers' samples
        samples = _metrics(base)
        key = (("method", "GET"), ("route", "/scim/v2/Groups"), ("status", "200"))
        assert samples[("roster_http_requests_total", key)] == 16
        assert samples[("roster_http_request_duration_seconds_count", key)] == 16
        ops = (("idp", "unknown"), ("operation", "list_groups"), ("outcome", "ok"))
        assert samples[("roster_scim_operations_total", ops)] == 16


def test_health_under_gunicorn(server):
    base = server["base"]
    assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}
