"""The admin REST API (`/api/v1`, flask-smorest): app wiring, error rendering and authentication."""

import swagger_ui_bundle
from flask import send_from_directory
from flask_smorest import Api as SmorestApi

from web.errors import render_http_exception

API_TITLE = "Roster admin API"


class Api(SmorestApi):
    """flask-smorest's Api, leaving errors of paths with their own format (SCIM) to that format."""

    def handle_http_exception(self, error):
        return render_http_exception(error) or super().handle_http_exception(error)


def init_app(app):
    """Register the admin API and its docs (the request lifecycle is `web.init_app`'s)."""
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

    from . import events, groups, invitations, members, roles, tokens, workspaces
    for module in (workspaces, members, invitations, roles, groups, tokens, events):
        api.register_blueprint(module.blp)
    from .sso import init_sso
    init_sso(api, app)
    app.extensions["roster.api"] = api
    return api


__all__ = ["Api", "init_app"]
