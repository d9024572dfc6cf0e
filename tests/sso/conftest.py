import pytest

from sso import saml

from .helpers import ACS_URL, SP_ENTITY_ID


@pytest.fixture(scope="session", autouse=True)
def require_xmlsec1():
    if not saml.xmlsec_available():
        pytest.fail(saml.xmlsec_status())


@pytest.fixture
def login(saml_idp):
    """Start a login at the test's IdP and return (request_id, redirect_url)."""
    return saml.start_login(saml_idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "run-1")
