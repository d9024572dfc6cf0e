"""Drive headless Chromium through both test IdPs' login pages to a local result page (the engines alone,
without Roster's views)."""

import html
from functools import partial

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.wrappers import Request, Response

from idp_fixtures.sso import OidcProvider, SamlIdpServer
from idp_fixtures.sso.http import LocalServer
from sso import oidc, saml
from sso.checks import summarize
from sso.fetch import fetch_url

from .pages import sign_in

pytestmark = pytest.mark.browser


def result_page(checks, profile):
    status, summary = summarize(checks)
    return Response(
        f"<!doctype html><h1 id='status'>{status}</h1><p>{html.escape(summary)}</p>"
        f"<p id='email'>{html.escape(profile.get('email') or '')}</p>",
        mimetype="text/html",
    )


def wait_for_status(driver):
    WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.ID, "status")))
    return driver.find_element(By.ID, "status").text, driver.find_element(By.ID, "email").text


def test_saml_round_trip_in_chromium(browser):
    pending = {}

    def acs(environ, start_response):
        request = Request(environ)
        run = pending[request.form["RelayState"]]
        checks, profile, _ = saml.verify_response(
            request.form["SAMLResponse"],
            idp_metadata_xml=run["metadata"],
            sp_entity_id=run["sp"],
            acs_url=run["acs"],
            expected_request_id=run["request_id"],
            allowed_domains=["example.com"],
        )
        return result_page(checks, profile)(environ, start_response)

    sp = LocalServer(acs)
    sp.start()
    try:
        with SamlIdpServer() as idp:
            acs_url, sp_entity_id = f"{sp.url}/acs", f"{sp.url}/metadata"
            request_id, login_url = saml.start_login(idp.metadata_xml, sp_entity_id, acs_url, "run-b1")
            pending["run-b1"] = {
                "metadata": idp.metadata_xml,
                "sp": sp_entity_id,
                "acs": acs_url,
                "request_id": request_id,
            }
            sign_in(browser, login_url, "erin@example.com")
            assert wait_for_status(browser) == ("passed", "erin@example.com")
    finally:
        sp.close()


def test_oidc_round_trip_in_chromium(browser):
    fetch = partial(fetch_url, allow_private_network=True)
    pending = {}

    with OidcProvider() as provider:
        _, metadata = oidc.discover(provider.issuer, fetch, allow_loopback_http=True)

        def callback(environ, start_response):
            request = Request(environ)
            run = pending[request.args["state"]]
            checks, profile = oidc.finish_login(
                metadata,
                code=request.args["code"],
                code_verifier=run.code_verifier,
                nonce=run.nonce,
                client_id=provider.client_id,
                client_secret=provider.client_secret,
                redirect_uri=run.redirect_uri,
                fetch=fetch,
                allowed_domains=["example.com"],
            )
            return result_page(checks, profile)(environ, start_response)

        rp = LocalServer(callback)
        rp.start()
        try:
            redirect_uri = f"{rp.url}/callback"
            run = oidc.authorization_request(
                metadata, client_id=provider.client_id, redirect_uri=redirect_uri, state="run-b2"
            )
            run.redirect_uri = redirect_uri
            pending["run-b2"] = run
            sign_in(browser, run.url, "frank@example.com")
            assert wait_for_status(browser) == ("passed", "frank@example.com")
        finally:
            rp.close()
