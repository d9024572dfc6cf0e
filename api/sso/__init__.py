"""SSO over HTTP: the admin API (connections, test runs) and the public endpoints (SP metadata, ACS, callback).

The engines and the service live in the top-level package sso/ (sso.service, sso.saml, sso.oidc).
"""

import logging

from sso.service import xmlsec_available, xmlsec_status

from . import views

log = logging.getLogger("roster.sso")


def init_sso(api, app):
    """Register the SSO admin API and public endpoints; say at start-up whether xmlsec1 can verify SAML."""
    api.register_blueprint(views.blp)
    app.register_blueprint(views.public_bp)
    available = xmlsec_available()
    if available:
        log.info("SAML: %s", xmlsec_status())
    else:
        log.error("SAML sign-in tests are unavailable: %s", xmlsec_status())
    app.extensions["roster.xmlsec"] = available
