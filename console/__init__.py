"""The web console: server-rendered pages for people (sign-in, the invitation page, a workspace's overview and
members), in the same app and over the same services as the admin API, so the same privilege rules hold and
every change is a provisioning event with the console as its channel (actor kind "console").

No Node build and no inline script: templates are Jinja2 (console/templates/), the one stylesheet is
console/static/console.css, and every page is served with a strict Content-Security-Policy.
"""

from flask import Blueprint, redirect, request, url_for

from models.errors import NotFoundError
from web.errors import register_renderer

from .errors import render_error_page
from . import session
from .session import security_headers

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")
@bp.before_request
def _no_nul_in_ids():
    # No id or slug holds NUL (and PostgreSQL cannot even compare one): nothing by that name exists, as in the
    # admin API (api/auth.py::workspace_access).
    if any("\x00" in value for value in (request.view_args or {}).values() if isinstance(value, str)):
        raise NotFoundError("Not found")


bp.before_request(session.load)
bp.before_request(session.check_csrf)
bp.after_request(session.store_cookies)
bp.app_context_processor(lambda: {"csrf_token": session.csrf_token})

# The console answers under these paths; its errors are pages there, never JSON.
PATH_PREFIXES = ("/console", "/invitations/")


def init_app(app):
    """Register the console's pages, its error pages and the security headers of every console answer."""
    from . import groups_roles, invitations, log, members, overview, scim_setup, settings, signin  # noqa: F401  (their routes register on `bp`)
    app.register_blueprint(bp)
    for prefix in PATH_PREFIXES:
        register_renderer(app, prefix, render_error_page)

    @app.route("/")
    def root():
        return redirect(url_for("console.home"))

    @app.after_request
    def _headers(response):
        if request.path.startswith(PATH_PREFIXES) or request.path == "/":
            security_headers(response)
        return response
