"""Roster's SCIM 2.0 service provider (RFC 7643, RFC 7644) at /scim/v2."""

from web.errors import register_renderer


def init_app(app):
    """Register the SCIM blueprint, and SCIM error JSON for every error under /scim/ (routing 404/405 too)."""
    from .endpoints import bp
    from .responses import scim_error_response
    app.register_blueprint(bp)
    register_renderer(app, "/scim/", scim_error_response)
    return bp
