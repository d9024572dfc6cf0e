"""The admin REST API (`/api/v1`, flask-smorest): app wiring, error rendering and authentication."""

import logging
import uuid

import swagger_ui_bundle
from flask import g, jsonify, request, send_from_directory
from flask_smorest import Api as SmorestApi
from werkzeug.exceptions import HTTPException, InternalServerError

from models.db import db
from models.services import ServiceError

log = logging.getLogger("roster")

API_TITLE = "Roster admin API"


class Api(SmorestApi):
    """flask-smorest's Api, rendering errors of SCIM paths as SCIM error JSON."""

    def handle_http_exception(self, error):
        if request.path.startswith("/scim/"):
            from scim.errors import ScimError
            from scim.responses import scim_error_response
            return scim_error_response(ScimError(error.description or error.name, status=error.code))
        return super().handle_http_exception(error)


def _service_error(error):
    body = {"code": error.status, "status": _reason(error.status), "message": error.message}
    if error.errors:
        body["errors"] = error.errors
    response = jsonify(body)
    response.status_code = error.status
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def _reason(status):
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _internal_error(error):
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, HTTPException) and not isinstance(original, InternalServerError):
        return original
    log.error("internal error on %s %s", request.method, request.path, exc_info=original)
    if request.path.startswith("/scim/"):
        from scim.errors import ScimError
        from scim.responses import scim_error_response
        return scim_error_response(ScimError("Internal error", status=500))
    return jsonify({"code": 500, "status": "Internal Server Error", "message": "Internal error"}), 500


def init_app(app):
    """Register the admin API, its docs, error handlers and per-request database connections."""
    app.config.setdefault("API_TITLE", API_TITLE)
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", "/api/docs/static/")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Workspaces, members, invitations, roles, groups, tokens. Authenticate with "
                                "`Authorization: Bearer <token>`."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    })
    api = Api(app)

    @app.route("/api/docs/static/<path:filename>")
    def swagger_static(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    @app.before_request
    def _open_db():
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(exc):
        if not db.is_closed():
            db.close()

    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(InternalServerError, _internal_error)

    from web import audit
    audit.init_app(app)  # until web.init_app (main) calls it
    from . import events, groups, invitations, members, roles, tokens, workspaces
    for module in (workspaces, members, invitations, roles, groups, tokens, events):
        api.register_blueprint(module.blp)
    from .sso import init_sso
    init_sso(api, app)
    app.extensions["roster.api"] = api
    return api


__all__ = ["Api", "init_app"]
