"""SSO: verification engines (saml, oidc, checks, fetch: no database, no routes) and the HTTP side (views)."""

import logging

log = logging.getLogger("roster.sso")


def init_sso(api, app):
    """Register the SSO admin API and public endpoints; say at start-up whether xmlsec1 can verify SAML."""
    from . import views
    from .saml import xmlsec_available, xmlsec_status
    api.register_blueprint(views.blp)
    app.register_blueprint(views.public_bp)
    available = xmlsec_available()
    if available:
        log.info("SAML: %s", xmlsec_status())
    else:
        log.error("SAML sign-in tests are unavailable: %s", xmlsec_status())
    app.extensions["roster.xmlsec"] = available
