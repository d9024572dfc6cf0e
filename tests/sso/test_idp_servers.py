import html
import re
from urllib.parse import parse_qs, urlsplit

import requests

from idp_fixtures.sso import OidcProvider, SamlIdpServer
from sso import saml

from .helpers import ACS_URL, SP_ENTITY_ID, failures, verify


def hidden_fields(page):
    return {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def test_saml_http_front_round_trip():
    with SamlIdpServer(shape="onelogin") as server:
        metadata = requests.get(f"{server.url}/metadata", timeout=5).text
        assert metadata == server.metadata_xml
        request_id, login_url = saml.start_login(metadata, SP_ENTITY_ID, ACS_URL, "run-9")
        page = requests.get(login_url, timeout=5)
        assert page.status_code == 200
        assert '<form method="post" action="/login"' in page.text and 'id="sign-in"' in page.text
        form = hidden_fields(page.text)
        form["email"] = "carol@example.com"
        posted = requests.post(f"{server.url}/login", data=form, timeout=5)
        assert "document.forms[0].submit()" in posted.text
        assert f'action="{ACS_URL}"' in posted.text
        fields = hidden_fields(posted.text)
        assert fields["RelayState"] == "run-9"
        checks, profile, _ = verify(server, fields["SAMLResponse"], request_id, idp_metadata_xml=metadata)
        assert failures(checks) == []
        assert profile["email"] == "carol@example.com"


def test_saml_http_front_attack_switch():
    with SamlIdpServer() as server:
        server.idp.response_options = {"attack": "wrong_audience"}
        request_id, login_url = saml.start_login(server.metadata_xml, SP_ENTITY_ID, ACS_URL, "r")
        form = hidden_fields(requests.get(login_url, timeout=5).text)
        form["email"] = "alice@example.com"
        fields = hidden_fields(requests.post(f"{server.url}/login", data=form, timeout=5).text)
        checks, _, _ = verify(server, fields["SAMLResponse"], request_id)
        assert failures(checks) == ["saml.assertion.audience"]


def test_saml_http_front_rejects_garbage():
    with SamlIdpServer() as server:
        assert requests.get(f"{server.url}/sso?SAMLRequest=!!!", timeout=5).status_code == 400
        assert requests.get(f"{server.url}/sso", timeout=5).status_code == 400
        assert requests.get(f"{server.url}/nope", timeout=5).status_code == 404


def test_oidc_login_page_and_errors():
    with OidcProvider() as provider:
        assert requests.get(f"{provider.issuer}/authorize?client_id=x", timeout=5).status_code == 400
        url = (
            f"{provider.issuer}/authorize?response_type=code&client_id={provider.client_id}"
            "&redirect_uri=https://rp.example.test/cb&scope=openid&state=s&nonce=n"
            "&code_challenge=abc&code_challenge_method=S256"
        )
        page = requests.get(url, timeout=5)
        assert page.status_code == 200 and 'id="sign-in"' in page.text
        callback = provider.login(url, "dave@example.com")
        assert parse_qs(urlsplit(callback).query)["state"] == ["s"]
        no_pkce = url.replace("&code_challenge=abc&code_challenge_method=S256", "")
        assert requests.get(no_pkce, timeout=5).status_code == 400
        token = requests.post(
            f"{provider.issuer}/token", data={"grant_type": "authorization_code"}, timeout=5
        )
        assert token.status_code == 401 and token.json()["error"] == "invalid_client"
