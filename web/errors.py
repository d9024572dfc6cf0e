"""Error rendering for every route: a refusal (`ServiceError`) or a crash answers in the format of the part
of the API the request addressed — the admin API's error JSON by default, another format for the path
prefixes a blueprint registered (`/scim/` renders SCIM error JSON, RFC 7644 §3.12)."""

import logging
from http import HTTPStatus

from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from models.db import unavailable
from models.errors import ServiceError, UnavailableError

log = logging.getLogger("roster")

_RENDERERS = "roster.error_renderers"
# Seconds a client is asked to wait when the database cannot be reached (a restart takes a few).
DB_RETRY_AFTER = 5


def register_renderer(app, path_prefix, render):
    """Answer errors of requests under `path_prefix` with `render(ServiceError) -> response`."""
    app.extensions.setdefault(_RENDERERS, {})[path_prefix] = render


def renderer_for(path):
    """Return the renderer registered for the request path, or None for the admin API's format."""
    for prefix, render in current_app.extensions.get(_RENDERERS, {}).items():
        if path.startswith(prefix):
            return render
    return None


def reason(status):
    """Return the HTTP reason phrase of `status`."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def admin_error_response(error):
    """Render a ServiceError in the admin API's format: {"code", "status", "message", "errors"?}."""
    body = {"code": error.status, "status": reason(error.status), "message": error.message}
    if error.errors:
        body["errors"] = error.errors
    response = jsonify(body)
    response.status_code = error.status
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def render_service_error(error):
    """Render a refusal in the format of the request's path."""
    render = renderer_for(request.path) or admin_error_response
    return render(error)


def render_http_exception(error):
    """Render a routing or HTTP error (404, 405, 413…) for a path with its own format; None otherwise."""
    render = renderer_for(request.path)
    if render is None:
        return None
    return render(ServiceError(error.description or error.name, status=error.code))


def _internal_error(error):
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, HTTPException) and not isinstance(original, InternalServerError):
        return original
    if unavailable(original):
        log.warning("database unavailable on %s %s: %s", request.method, request.path, original)
        return render_service_error(UnavailableError(
            "The database is unavailable; try again shortly", headers={"Retry-After": str(DB_RETRY_AFTER)}))
    log.error("internal error on %s %s", request.method, request.path, exc_info=original)
    render = renderer_for(request.path)
    if render is not None:
        return render(ServiceError("Internal error", status=500))
    return jsonify({"code": 500, "status": "Internal Server Error", "message": "Internal error"}), 500


def init_app(app):
    """Render refusals and crashes for every blueprint."""
    app.register_error_handler(ServiceError, render_service_error)
    app.register_error_handler(InternalServerError, _internal_error)
