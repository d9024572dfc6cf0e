"""SSO engine test helpers: the test SP's settings and SAML Response verification against a test IdP."""

from sso import saml

SP_ENTITY_ID = "https://roster.example.test/sso/conn-1/metadata"
ACS_URL = "https://roster.example.test/sso/conn-1/acs"
DOMAINS = ["example.com"]


def verify(idp, saml_response, request_id, **kwargs):
    """Verify a response against the IdP's metadata with the test SP settings."""
    options = dict(
        idp_metadata_xml=idp.metadata_xml,
        sp_entity_id=SP_ENTITY_ID,
        acs_url=ACS_URL,
        expected_request_id=request_id,
        allowed_domains=DOMAINS,
    )
    options.update(kwargs)
    return saml.verify_response(saml_response, **options)


def by_id(checks):
    """Return {check id: worst status} for asserting on checks."""
    order = {"fail": 3, "warn": 2, "pass": 1, "info": 0}
    result = {}
    for check in checks:
        if order[check.status] >= order.get(result.get(check.id), -1):
            result[check.id] = check.status
    return result


def failures(checks):
    """Return the ids of failed checks."""
    return [c.id for c in checks if c.status == "fail"]
