"""Prometheus metrics at /metrics, for the operator only.

/metrics is bound when METRICS_TOKEN is configured and answers only that bearer token; without it the path does
not exist (404), so a deployment never exposes metrics by accident. Under gunicorn, every worker writes its
samples to PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode) and any worker answering the scrape
adds them all up; `web.server.child_exit` removes a dead worker's live gauges (docs/deploy.md).
"""

import hmac
import os
from time import perf_counter

from flask import Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import REGISTRY, multiprocess

from models.errors import UnauthorizedError
from models.services import audit

from .auth import authenticated_actor
from .errors import admin_error_response
from .views import operational

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_OPERATION_BLUEPRINTS = "roster.metrics.operation_blueprints"
if os.environ.get(MULTIPROC_ENV):
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)  # each process writes its samples there

HTTP_REQUESTS = Counter("roster_http_requests_total", "HTTP requests answered, by route template, method and "
                        "status", ["route", "method", "status"])
HTTP_DURATION = Histogram("roster_http_request_duration_seconds", "Time to answer an HTTP request, by route "
                          "template, method and status", ["route", "method", "status"],
                          buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
SCIM_OPERATIONS = Counter("roster_scim_operations_total", "SCIM requests by the IdP that sent them, the operation "
                          "(the view answering) and the outcome (ok, refused, throttled, error)",
                          ["idp", "operation", "outcome"])
EVENTS_WRITTEN = Counter("roster_provisioning_events_written_total", "Events written to the provisioning log "
                         "by HTTP requests (changes, failures and refusals)")
SSO_TESTS = Counter("roster_sso_tests_total", "SSO test sign-ins that came back, by protocol and outcome",
                    ["provider", "outcome"])
RATE_LIMITED = Counter("roster_rate_limit_refusals_total", "Requests refused with 429 by a rate limit, by limit",
                       ["limit"])
DB_CONNECTIONS = Gauge("roster_db_pool_connections", "Database connections of the worker pools, by state "
                       "(in_use, idle)", ["state"], multiprocess_mode="livesum")

UNMATCHED_ROUTE = "(unmatched)"


def outcome_of(status):
    """Return the outcome of a status code: ok, refused (4xx), throttled (429) or error (5xx)."""
    if status == 429:
        return "throttled"
    if status >= 500:
        return "error"
    return "refused" if status >= 400 else "ok"


def count_operations_of(app, blueprint_name):
    """Count the requests a blueprint answers as operations per IdP and outcome (scim.init_app: the SCIM one)."""
    app.extensions.setdefault(_OPERATION_BLUEPRINTS, set()).add(blueprint_name)


def sso_test_finished(provider, outcome):
    """Count an SSO test sign-in that came back (`outcome`: the run's status, or "refused")."""
    SSO_TESTS.labels(provider or "unknown", outcome).inc()


def rate_limited(limit):
    """Count a request refused by the rate limit named `limit`."""
    RATE_LIMITED.labels(limit).inc()


def note_pool(database):
    """Record how many of this worker's pooled connections are in use and idle."""
    in_use, idle = getattr(database, "_in_use", None), getattr(database, "_connections", None)
    if in_use is None or idle is None:
        return  # not a pooled database
    DB_CONNECTIONS.labels("in_use").set(len(in_use))
    DB_CONNECTIONS.labels("idle").set(len(idle))


def observe(response, duration):
    """Count the request being answered."""
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED_ROUTE
    status = str(response.status_code)
    HTTP_REQUESTS.labels(route, request.method, status).inc()
    HTTP_DURATION.labels(route, request.method, status).observe(duration)
    if request.blueprint in current_app.extensions.get(_OPERATION_BLUEPRINTS, ()):
        actor = authenticated_actor()
        operation = (request.endpoint or UNMATCHED_ROUTE).rsplit(".", 1)[-1]
        SCIM_OPERATIONS.labels(getattr(actor, "idp", None) or "unknown", operation,
                               outcome_of(response.status_code)).inc()
    scope = audit.current_request()
    if scope is not None and scope.events_written:
        EVENTS_WRITTEN.inc(scope.events_written)


def exposition():
    """Return the metrics text of every worker (multiprocess mode) or of this process."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _metrics():
    token = current_app.config["METRICS_TOKEN"]
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        response = admin_error_response(UnauthorizedError("Send the operator's metrics token as a bearer token"))
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return Response(exposition(), mimetype=CONTENT_TYPE_LATEST)


def init_app(app):
    """Bind /metrics when METRICS_TOKEN is set, and count every request."""
    if app.config.get("METRICS_TOKEN"):
        app.add_url_rule("/metrics", "metrics", operational(_metrics), methods=["GET"])

    @app.after_request
    def _observe(response):
        started = g.get("request_clock")
        if started is not None:
            observe(response, perf_counter() - started)
        return response
