"""Logs: the request id, one line per request, and the format (JSON in production, plain text for `make run`).

A request line names the request id, the route template (never the raw path: an OIDC callback carries its
authorization code in the query string), the method, status and duration, the workspace, the token's shown
prefix (the first 12 characters every token starts with, also in the admin API's token listing) and the IdP.
It never carries a header, a body, a query string or a token beyond that prefix.
"""

import json
import logging
import re
import time
import uuid

from flask import g, has_request_context, request

from .auth import authenticated_actor, bearer_token

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
TOKEN_PREFIX_LENGTH = 12  # models/services/tokens.py stores raw[:12] as the token's shown prefix

request_log = logging.getLogger("roster.request")


def request_id_from(header):
    """Return the client's X-Request-ID when it is 1-64 characters of [A-Za-z0-9._-], else a new one."""
    if header and _VALID_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, process id, the request id, and extra fields."""

    FIELDS = ("method", "route", "status", "duration_ms", "workspace", "token_prefix", "idp", "client_ip")

    def format(self, record):
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "pid": record.process}
        request_id = getattr(record, "request_id", None)
        if request_id is None and has_request_context():
            request_id = g.get("request_id")
        if request_id:
            entry["request_id"] = request_id
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


JsonFormatter.converter = time.gmtime


def configure(log_format):
    """Send the root logger's records to stderr as JSON lines (`json`) or plain text (`text`)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "roster_handler", False)]:
        root.removeHandler(old)
    handler.roster_handler = True
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def request_fields(status, duration):
    """Return what a request line says about the request being answered."""
    actor = authenticated_actor()
    workspace = g.get("workspace")
    workspace_id = getattr(workspace, "id", None) or getattr(actor, "workspace_id", None)
    raw = bearer_token() if actor is not None else None  # the prefix of a token that authenticated only
    rule = request.url_rule
    return {"method": request.method, "route": rule.rule if rule is not None else None, "status": status,
            "duration_ms": round(duration * 1000, 2),
            "workspace": workspace_id or (request.view_args or {}).get("ws"),
            "token_prefix": raw[:TOKEN_PREFIX_LENGTH] if raw else None,
            "idp": getattr(actor, "idp", None), "client_ip": request.remote_addr}


def log_request(response, duration):
    """Write the request's line."""
    fields = request_fields(response.status_code, duration)
    request_log.info("%s %s %s %.1fms", fields["method"], fields["route"] or "(no route)", fields["status"],
                     fields["duration_ms"], extra=fields)


def init_app(app):
    """Configure the log format, take or make the request id, answer it, and log one line per request."""
    configure(app.config.get("LOG_FORMAT", "text"))

    @app.before_request
    def _request_id():
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_clock = time.perf_counter()

    @app.after_request
    def _answer_request_id(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
            started = g.get("request_clock")
            duration = time.perf_counter() - started if started is not None else 0.0
            g.request_duration = duration
            try:
                log_request(response, duration)
            except Exception:
                request_log.exception("could not log the request")
        return response

