"""Roster's SCIM 2.0 service provider (RFC 7643, RFC 7644) at /scim/v2."""


def init_app(app):
    """Register the SCIM blueprint on the app."""
    from .endpoints import bp
    app.register_blueprint(bp)
    return bp
