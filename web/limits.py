"""Request-rate limits (flask-limiter): per token, per client address, and per workspace where a view asks.

- **Per token**, every authenticated request: RATE_LIMIT_SCIM (flask-limiter notation, default `50/second`) is
  the sustained rate, enforced over a window twice as long with twice the count (`50/second` -> 100 requests
  in any 2 seconds, a moving window): a client may send a burst of 100 at once and 50 per second on average.
  A workspace may lower the rate of its own tokens (setting `scim.rate_limit_per_second`); the operator's rate
  is also the ceiling, so a tenant never raises the load it may put on the operator.
- **Per client address**: requests without a bearer token (ANONYMOUS), and failed authentications (every 401
  counts against AUTH_FAILURES; once over it, requests from that address without a valid token get 429 before
  any token is looked up).
- **Per workspace**, for views declaring `@limited(...)` (SSO test runs): only the requests that succeed count.

Refusals answer 429 with `Retry-After` (seconds until the window frees a request), in the format of the path
(SCIM error JSON under /scim/, the admin error JSON elsewhere), and are counted in
`roster_rate_limit_refusals_total`. Counters live in memory (one process, `make run`) or in Redis
(RATE_LIMIT_STORAGE_URL) so that every worker and node shares them. RATE_LIMITS=off switches every limit here
off; the invitation throttle and one-time-code attempt limits are product rules of the services and stay.
"""

import dataclasses
import logging
import math
import time

from flask import current_app, g, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from limits import parse_many

from models.services import NotFoundError, TooManyRequestsError
from models.services.workspaces import find_workspace

from . import metrics
from .auth import bearer_token, request_actor
from .errors import render_service_error
from .views import is_operational, view_declaration

log = logging.getLogger("roster.limits")

ANONYMOUS = "40 per 2 seconds"  # per client address, requests without a bearer token
AUTH_FAILURES = "30 per minute"  # per client address, each 401 counts
SSO_TESTS = "20 per minute"  # per workspace, SSO test runs started
BURST_FACTOR = 2
_CONFIG = "roster.limits"


@dataclasses.dataclass(frozen=True)
class Declared:
    """A view's own limit: `limit` per value of the view argument `per_arg`, counting successful requests."""

    name: str
    limit: str
    per_arg: str


def limited(name, limit, per_arg="ws"):
    """Declare a view's own rate limit (`@limited("sso_test", SSO_TESTS)`: per workspace of the path)."""
    declared = Declared(name, limit, per_arg)

    def declare(view):
        view.rate_limit = declared
        return view

    return declare


def with_burst(limit_text):
    """Return a limit in flask-limiter notation enforced with bursts: `50/second` -> `100 per 2 seconds`."""
    return "; ".join(f"{item.amount * BURST_FACTOR} per {item.get_expiry() * BURST_FACTOR} seconds"
                     for item in parse_many(limit_text))


def per_second(limit_text):
    """Return the sustained requests per second a limit allows (the strictest of its parts)."""
    return min(item.amount / item.get_expiry() for item in parse_many(limit_text))


def check_limit(limit_text):
    """Return `limit_text` when flask-limiter can parse it; raise RuntimeError naming the problem otherwise."""
    try:
        if parse_many(limit_text):
            return limit_text
    except ValueError:
        pass
    raise RuntimeError(f"RATE_LIMIT_SCIM must be a rate in flask-limiter notation, e.g. 50/second, "
                       f"not {limit_text!r}")


def _token_limit():
    actor = request_actor()
    if actor is None or actor.token_id is None:
        return ""
    config = current_app.extensions[_CONFIG]
    workspace = actor.workspace
    chosen = workspace.setting("scim.rate_limit_per_second") if workspace is not None else 0
    if chosen and chosen < config["per_second"]:
        return f"{chosen * BURST_FACTOR} per {BURST_FACTOR} seconds"
    return config["token"]


def _token_key():
    return request_actor().token_id


def _anonymous_limit():
    return "" if bearer_token() is not None else ANONYMOUS


def _auth_failures_limit():
    return "" if request_actor() is not None else AUTH_FAILURES


def client_address():
    return request.remote_addr or "unknown"


def _declared():
    return view_declaration(request.endpoint, request.method, "rate_limit")


def _declared_limit():
    declared = _declared()
    return declared.limit if declared is not None else ""


def _declared_key():
    declared = _declared()
    ref = (request.view_args or {}).get(declared.per_arg)
    if declared.per_arg == "ws" and isinstance(ref, str):
        try:
            ref = find_workspace(ref).id  # a slug and an id name the same workspace: one counter
        except NotFoundError:
            pass
    return f"{declared.name}:{ref}"


def refuse(request_limit, name):
    """Answer a breached limit: 429 with Retry-After, in the format of the path; count it."""
    g.rate_limited = name
    metrics.rate_limited(name)
    window = request_limit.limit.get_expiry()
    retry_after = min(window, max(1, math.ceil(request_limit.reset_at - time.time())))
    error = TooManyRequestsError(f"Too many requests ({name} limit: {request_limit.limit}); retry after "
                                 f"{retry_after} s", retry_after=retry_after)
    return render_service_error(error)


def _limit(name, provider, key, deduct_when=None):
    return ApplicationLimit(provider, key_function=key, scope=name, deduct_when=deduct_when,
                            on_breach=lambda request_limit: refuse(request_limit, name))


def build_limiter(app):
    """Return the app's Limiter (not yet initialised) with Roster's limits."""
    return Limiter(
        client_address,
        application_limits=[
            _limit("token", _token_limit, _token_key),
            _limit("anonymous", _anonymous_limit, client_address),
            _limit("auth_failures", _auth_failures_limit, client_address,
                   deduct_when=lambda response: response.status_code == 401),
            _limit("declared", _declared_limit, _declared_key,
                   deduct_when=lambda response: response.status_code < 400),
        ],
        strategy="moving-window",
        storage_uri=app.config.get("RATE_LIMIT_STORAGE_URL") or "memory://",
        key_prefix=app.config.get("RATE_LIMIT_KEY_PREFIX", "roster"),
        swallow_errors=True,  # counters unreachable: serve (in memory meanwhile) rather than refuse everything
        in_memory_fallback_enabled=True,
        enabled=bool(app.config.get("RATE_LIMITS", True)),
        headers_enabled=False,
    )


def _rate_limit_exceeded(error):
    return error.get_response()


def init_app(app):
    """Enforce the limits on every request (after the request id and database connection are set up)."""
    operator = check_limit(app.config.get("RATE_LIMIT_SCIM") or "50/second")
    app.extensions[_CONFIG] = {"token": with_burst(operator), "per_second": per_second(operator)}
    limiter = build_limiter(app)
    limiter.request_filter(is_operational)
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)  # each refusal is counted in the metrics
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _rate_limit_exceeded)
    app.extensions["roster.limiter"] = limiter
    if limiter.enabled:
        log.info("rate limits on: %s per token, storage %s", app.extensions[_CONFIG]["token"],
                 "redis" if app.config.get("RATE_LIMIT_STORAGE_URL") else "memory (this process only)")
    return limiter
