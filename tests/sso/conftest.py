import pytest

from sso import saml
from idp_fixtures.sso import OidcProvider, SamlIdp

SP_ENTITY_ID = "https://roster.example.test/sso/conn-1/metadata"
ACS_URL = "https://roster.example.test/sso/conn-1/acs"
DOMAINS = ["example.com"]


@pytest.fixture(scope="session", autouse=True)
def require_xmlsec1():
    if not saml.xmlsec_available():
        pytest.fail(saml.xmlsec_status())


@pytest.fixture(scope="module")
def saml_idp():
    idp = SamlIdp(shape="okta")
    yield idp
    idp.close()


@pytest.fixture
def login(saml_idp):
    """Start a login at the module's IdP and return (request_id, redirect_url)."""
    return saml.start_login(saml_idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "run-1")


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


@pytest.fixture(scope="module")
def oidc_provider():
    with OidcProvider() as provider:
        yield provider
