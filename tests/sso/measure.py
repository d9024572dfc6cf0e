"""Measure the time to verify one SAML response and one ID token: python -m tests.sso.measure."""

import statistics
import time

from idp_fixtures.sso import OidcProvider, SamlIdp
from sso import oidc, saml
from tests.sso.helpers import ACS_URL, SP_ENTITY_ID, verify


def _median_ms(function, rounds):
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(rounds=20):
    """Return median milliseconds to verify one SAML response and one ID token."""
    idp = SamlIdp()
    try:
        request_id, url = saml.start_login(idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "r")
        response = idp.login(url, "alice@example.com").saml_response

        def verify_saml():
            checks, _, _ = verify(idp, response, request_id)
            assert not [c for c in checks if c.status == "fail"]

        saml_ms = _median_ms(verify_saml, rounds)
    finally:
        idp.close()
    with OidcProvider() as provider:
        token, jwks = provider.mint_id_token(nonce="n"), provider.jwks()

        def verify_token():
            checks, _ = oidc.verify_id_token(
                token,
                jwks,
                issuer=provider.issuer,
                client_id=provider.client_id,
                nonce="n",
                allowed_domains=["example.com"],
            )
            assert not [c for c in checks if c.status == "fail"]

        token_ms = _median_ms(verify_token, rounds)
    return saml_ms, token_ms


if __name__ == "__main__":
    saml_ms, token_ms = measure()
    print(f"verify one SAML response (xmlsec1): {saml_ms:.1f} ms median")
    print(f"verify one ID token (RS256):        {token_ms:.2f} ms median")
