"""The whole SSO test sign-in in headless Chromium: start via the API, IdP login page, Roster's result."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from idp_fixtures.sso.oidc_provider import OidcProvider
from idp_fixtures.sso.saml_idp import SamlIdpServer
from tests.api.sso.helpers import allow_private_network, connections_url, get_run, start_test

from .pages import sign_in

pytestmark = pytest.mark.browser


def sign_in_and_read_result(browser, login_url, roster_url, email):
    """Open the IdP's login page, submit it, and wait for Roster's result page; return its status element."""
    sign_in(browser, login_url, email)
    status = WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "status")))
    assert browser.current_url.startswith(roster_url + "/sso/")
    return status


def test_saml_round_trip_in_chromium(app, workspace_setup, roster_server, browser):
    s = workspace_setup
    with SamlIdpServer(default_email="someone@example.com") as idp:
        r = s.admin_client.post(connections_url(s.workspace), json={
            "provider": "saml", "name": "Test IdP", "domains": ["example.com"],
            "config": {"metadata_xml": idp.metadata_xml}})
        assert r.status_code == 201, r.json
        connection = r.json
        assert connection["service_provider"]["acs_url"] == f"{roster_server.url}/sso/{connection['id']}/acs"
        run = start_test(s.admin_client, s.workspace, connection)
        assert run["login_url"].startswith(idp.url + "/sso?")
        status = sign_in_and_read_result(browser, run["login_url"], roster_server.url, "alice@example.com")
        assert browser.current_url == f"{roster_server.url}/sso/{connection['id']}/acs"
        assert status.get_attribute("data-status") == "passed"
        assert status.text == "Passed"
        assert "alice@example.com" in browser.find_element(By.ID, "profile").text
        assert browser.find_elements(By.CSS_SELECTOR, 'tr[data-status="fail"]') == []
        assert get_run(s.admin_client, s.workspace, connection, run)["status"] == "passed"


def test_oidc_round_trip_in_chromium(app, workspace_setup, roster_server, browser):
    s = workspace_setup
    allow_private_network(app)
    with OidcProvider(default_email="someone@example.com") as provider:
        r = s.admin_client.post(connections_url(s.workspace), json={
            "provider": "oidc", "name": "Test OP", "domains": ["example.com"],
            "config": {"issuer": provider.issuer, "client_id": provider.client_id,
                       "client_secret": provider.client_secret}})
        assert r.status_code == 201, r.json
        connection = r.json
        run = start_test(s.admin_client, s.workspace, connection)
        assert run["status"] == "pending_login"
        status = sign_in_and_read_result(browser, run["login_url"], roster_server.url, "alice@example.com")
        assert browser.current_url.startswith(f"{roster_server.url}/sso/{connection['id']}/callback?")
        assert status.get_attribute("data-status") == "passed"
        assert "alice@example.com" in browser.find_element(By.ID, "profile").text
        assert get_run(s.admin_client, s.workspace, connection, run)["status"] == "passed"


def test_failed_sign_in_is_readable_in_chromium(app, workspace_setup, roster_server, browser):
    s = workspace_setup
    with SamlIdpServer() as idp:
        connection = s.admin_client.post(connections_url(s.workspace), json={
            "provider": "saml", "name": "Test IdP", "domains": ["example.com"],
            "config": {"metadata_xml": idp.metadata_xml}}).json
        run = start_test(s.admin_client, s.workspace, connection)
        status = sign_in_and_read_result(browser, run["login_url"], roster_server.url, "bob@elsewhere.test")
        assert status.get_attribute("data-status") == "failed"
        row = browser.find_element(By.CSS_SELECTOR, 'tr[data-check="saml.profile.email_domain"]')
        assert row.get_attribute("data-status") == "fail" and "How to fix" in row.text
