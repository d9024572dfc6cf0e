"""Roster's SCIM 2.0 service provider (RFC 7643, RFC 7644) at /scim/v2."""

from web.errors import register_renderer
from web.metrics import count_operations_of


def init_app(app):
    """Register the SCIM blueprint, SCIM error JSON for every error under /scim/ (routing 404/405 too), and
    its requests as the SCIM operations the metrics count per IdP."""
    from .endpoints import bp
    from .responses import scim_error_response
    app.register_blueprint(bp)
    register_renderer(app, "/scim/", scim_error_response)
    count_operations_of(app, bp.name)
    return bp
