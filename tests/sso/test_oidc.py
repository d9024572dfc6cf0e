from datetime import datetime, timedelta, timezone
from functools import partial
from urllib.parse import parse_qs, urlsplit

import pytest

from idp_fixtures.sso import TOKEN_ATTACKS, OidcProvider
from sso import oidc
from sso.checks import summarize
from sso.fetch import FetchError, fetch_url

from .helpers import by_id, failures

REDIRECT_URI = "https://roster.example.test/sso/conn-2/callback"
fetch = partial(fetch_url, allow_private_network=True)


@pytest.fixture
def provider_metadata(oidc_provider):
    checks, provider = oidc.discover(oidc_provider.issuer, fetch, allow_loopback_http=True)
    assert failures(checks) == []
    return provider


def run_flow(oidc_provider, provider, email="alice@example.com", auth_method=None, **overrides):
    request = oidc.authorization_request(
        provider, client_id=oidc_provider.client_id, redirect_uri=REDIRECT_URI, state="run-7"
    )
    callback = parse_qs(urlsplit(oidc_provider.login(request.url, email)).query)
    assert callback["state"] == ["run-7"]
    options = dict(
        code=callback["code"][0],
        code_verifier=request.code_verifier,
        nonce=request.nonce,
        client_id=oidc_provider.client_id,
        client_secret=oidc_provider.client_secret,
        redirect_uri=REDIRECT_URI,
        fetch=fetch,
        allowed_domains=["example.com"],
        auth_method=auth_method,
    )
    options.update(overrides)
    return oidc.finish_login(provider, **options)


def test_discovery_checks(oidc_provider):
    checks, provider = oidc.discover(oidc_provider.issuer, fetch, allow_loopback_http=True)
    assert failures(checks) == []
    assert summarize(checks)[0] == "passed"
    assert provider.jwks_uri == f"{oidc_provider.issuer}/jwks"
    assert provider.code_challenge_methods == ["S256"]


def test_discovery_issuer_must_match_exactly(oidc_provider):
    checks, provider = oidc.discover(oidc_provider.issuer + "/", fetch, allow_loopback_http=True)
    assert failures(checks) == ["oidc.discovery.issuer"]
    assert provider is None


def test_discovery_refuses_loopback_by_default(oidc_provider):
    checks, provider = oidc.discover(oidc_provider.issuer, fetch_url)
    assert failures(checks) == ["oidc.discovery.fetch"]
    assert "SSO_ALLOW_PRIVATE_NETWORK" in checks[0].message
    assert provider is None


def static(document):
    def fake_fetch(url, **kwargs):
        if isinstance(document, Exception):
            raise document
        return document

    return fake_fetch


def good_document(**changes):
    document = {
        "issuer": "https://op.example.test",
        "authorization_endpoint": "https://op.example.test/a",
        "token_endpoint": "https://op.example.test/t",
        "jwks_uri": "https://op.example.test/k",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def test_discovery_missing_fields():
    import json

    checks, provider = oidc.discover(
        "https://op.example.test", static(json.dumps(good_document(jwks_uri=None)))
    )
    assert failures(checks) == ["oidc.discovery.required_fields"]
    assert checks[-1].detail == {"missing": ["jwks_uri"]}


def test_discovery_hmac_only_provider_fails():
    import json

    document = good_document(id_token_signing_alg_values_supported=["HS256", "none"])
    checks, _ = oidc.discover("https://op.example.test", static(json.dumps(document)))
    assert failures(checks) == ["oidc.discovery.signing_algorithms"]


def test_discovery_without_pkce_warns_and_defaults_basic_auth():
    import json

    checks, provider = oidc.discover("https://op.example.test", static(json.dumps(good_document())))
    assert by_id(checks)["oidc.discovery.pkce"] == "warn"
    assert provider.token_auth_methods == ["client_secret_basic"]


@pytest.mark.parametrize("answer", [b"<html>", b"[1, 2]", FetchError("boom")])
def test_discovery_unreadable(answer):
    checks, provider = oidc.discover("https://op.example.test", static(answer))
    assert failures(checks) == ["oidc.discovery.fetch"]


def test_authorization_url_has_pkce_nonce_state(provider_metadata, oidc_provider):
    request = oidc.authorization_request(
        provider_metadata, client_id="c1", redirect_uri=REDIRECT_URI, state="s1"
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == oidc.pkce_challenge(request.code_verifier)
    assert query["nonce"] == request.nonce and query["state"] == "s1"
    assert query["scope"] == "openid email profile" and query["response_type"] == "code"
    assert 43 <= len(request.code_verifier) <= 128


def test_pkce_challenge_rfc7636_appendix_b():
    assert (
        oidc.pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_full_code_flow_passes(oidc_provider, provider_metadata, auth_method):
    checks, profile = run_flow(oidc_provider, provider_metadata, auth_method=auth_method)
    assert failures(checks) == []
    assert summarize(checks)[0] == "passed"
    assert profile["email"] == "alice@example.com"
    assert profile["claims"]["iss"] == oidc_provider.issuer
    assert "nonce" not in profile["claims"]


def test_wrong_pkce_verifier_refused_by_provider(oidc_provider, provider_metadata):
    checks, profile = run_flow(oidc_provider, provider_metadata, code_verifier="x" * 50)
    assert failures(checks) == ["oidc.token.exchange"]
    assert "PKCE" in checks[0].message
    assert profile == {}


def test_wrong_client_secret_explained(oidc_provider, provider_metadata):
    checks, _ = run_flow(oidc_provider, provider_metadata, client_secret="wrong")
    assert failures(checks) == ["oidc.token.exchange"]
    assert "invalid_client" in checks[0].message and "client secret" in checks[0].fix


def test_code_is_single_use(oidc_provider, provider_metadata):
    request = oidc.authorization_request(
        provider_metadata, client_id=oidc_provider.client_id, redirect_uri=REDIRECT_URI
    )
    code = parse_qs(urlsplit(oidc_provider.login(request.url)).query)["code"][0]
    options = dict(
        code=code,
        code_verifier=request.code_verifier,
        client_id=oidc_provider.client_id,
        client_secret=oidc_provider.client_secret,
        redirect_uri=REDIRECT_URI,
        fetch=fetch,
    )
    assert failures(oidc.exchange_code(provider_metadata, **options)[0]) == []
    checks, tokens = oidc.exchange_code(provider_metadata, **options)
    assert failures(checks) == ["oidc.token.exchange"] and tokens is None


def test_email_outside_domains_fails(oidc_provider, provider_metadata):
    checks, profile = run_flow(oidc_provider, provider_metadata, email="bob@other.example")
    assert failures(checks) == ["oidc.profile.email_domain"]
    assert profile["email"] == "bob@other.example"


def test_provider_key_rotation_followed():
    with OidcProvider() as provider:
        _, metadata = oidc.discover(provider.issuer, fetch, allow_loopback_http=True)
        old_jwks = provider.jwks()
        provider.rotate_key()
        token = provider.mint_id_token(nonce="n")
        checks, _ = oidc.verify_id_token(
            token, old_jwks, issuer=provider.issuer, client_id=provider.client_id, nonce="n"
        )
        assert failures(checks) == ["oidc.id_token.kid"]
        assert "rotated" in [c for c in checks if c.status == "fail"][0].fix
        checks, _ = run_flow(provider, metadata)
        assert failures(checks) == []


def verify(provider, token, **kwargs):
    options = dict(
        issuer=provider.issuer, client_id=provider.client_id, nonce="n-1", allowed_domains=["example.com"]
    )
    options.update(kwargs)
    return oidc.verify_id_token(token, kwargs.pop("jwks", provider.jwks()), **options)


EXPECTED = {
    "alg_none": ["oidc.id_token.algorithm"],
    "hs256_public_key": ["oidc.id_token.algorithm"],
    "unknown_kid": ["oidc.id_token.kid"],
    "embedded_jwk": ["oidc.id_token.signature"],
    "embedded_jku": ["oidc.id_token.signature"],
    "embedded_x5u": ["oidc.id_token.signature"],
    "embedded_x5c": ["oidc.id_token.signature"],
    "wrong_issuer": ["oidc.id_token.issuer"],
    "wrong_audience": ["oidc.id_token.audience"],
    "wrong_nonce": ["oidc.id_token.nonce"],
    "expired": ["oidc.id_token.expiry", "oidc.id_token.issued_at"],
    "future_iat": ["oidc.id_token.issued_at"],
    "other_key": ["oidc.id_token.signature"],
    "no_email": ["oidc.profile.email"],
    "tamper": ["oidc.id_token.signature"],
}


def test_every_attack_has_an_expectation():
    assert set(EXPECTED) == set(TOKEN_ATTACKS)


@pytest.mark.parametrize("attack", TOKEN_ATTACKS)
def test_attack_tokens_refused(oidc_provider, attack):
    checks, profile = verify(oidc_provider, oidc_provider.mint_id_token(nonce="n-1", attack=attack))
    assert failures(checks) == EXPECTED[attack]
    assert summarize(checks)[0] == "failed"
    if EXPECTED[attack][0] in ("oidc.id_token.algorithm", "oidc.id_token.kid", "oidc.id_token.signature"):
        assert profile == {}


@pytest.mark.parametrize("attack", ["embedded_jwk", "embedded_jku", "embedded_x5u", "embedded_x5c"])
def test_embedded_header_keys_never_used(oidc_provider, attack):
    checks, _ = verify(oidc_provider, oidc_provider.mint_id_token(nonce="n-1", attack=attack))
    assert by_id(checks)["oidc.id_token.header_keys"] == "warn"


def test_genuine_token_passes(oidc_provider):
    checks, profile = verify(oidc_provider, oidc_provider.mint_id_token(nonce="n-1"))
    assert failures(checks) == []
    assert profile["sub"].startswith("user-")


def test_token_without_kid_uses_the_only_key(oidc_provider):
    import jwt

    token = jwt.encode(
        {
            "iss": oidc_provider.issuer,
            "aud": oidc_provider.client_id,
            "sub": "s",
            "nonce": "n-1",
            "iat": int(datetime.now(timezone.utc).timestamp()),
            "exp": int(datetime.now(timezone.utc).timestamp()) + 60,
            "email": "a@example.com",
        },
        oidc_provider.key,
        algorithm="RS256",
    )
    assert failures(verify(oidc_provider, token)[0]) == []
    two_keys = {"keys": oidc_provider.jwks()["keys"] * 2}
    assert failures(
        oidc.verify_id_token(
            token, two_keys, issuer=oidc_provider.issuer, client_id=oidc_provider.client_id, nonce="n-1"
        )[0]
    ) == ["oidc.id_token.kid"]


def test_multiple_audiences_need_matching_azp(oidc_provider):
    token = oidc_provider.mint_id_token(nonce="n-1", aud=[oidc_provider.client_id, "other"])
    assert failures(verify(oidc_provider, token)[0]) == ["oidc.id_token.audience"]
    token = oidc_provider.mint_id_token(
        nonce="n-1", aud=[oidc_provider.client_id, "other"], azp=oidc_provider.client_id
    )
    assert failures(verify(oidc_provider, token)[0]) == []


def test_unverified_email_warns(oidc_provider):
    checks, _ = verify(oidc_provider, oidc_provider.mint_id_token(nonce="n-1", email_verified=False))
    assert by_id(checks)["oidc.profile.email_verified"] == "warn"


def test_leeway_bounded_and_clock_injected(oidc_provider):
    token = oidc_provider.mint_id_token(nonce="n-1")
    with pytest.raises(ValueError, match="leeway"):
        verify(oidc_provider, token, leeway=3600)
    later = datetime.now(timezone.utc) + timedelta(minutes=6)
    assert "oidc.id_token.expiry" in failures(verify(oidc_provider, token, now=later)[0])


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_garbage_tokens_fail_cleanly(oidc_provider, token):
    checks, profile = verify(oidc_provider, token)
    assert len(failures(checks)) == 1 and profile == {}


@pytest.mark.parametrize("changes", [
    {"response_types_supported": 1},
    {"id_token_signing_alg_values_supported": 5},
    {"id_token_signing_alg_values_supported": ["RS256", 7]},
    {"authorization_endpoint": 123},
    {"jwks_uri": ["x"]},
    {"issuer": {"url": "https://op.example.test"}},
    {"token_endpoint_auth_methods_supported": 3},
    {"code_challenge_methods_supported": "S256"},
    {"userinfo_endpoint": 9},
])
def test_discovery_malformed_fields_fail_cleanly(changes):
    import json

    checks, provider = oidc.discover("https://op.example.test", static(json.dumps(good_document(**changes))))
    assert failures(checks) == ["oidc.discovery.required_fields"]
    assert checks[-1].detail == {"malformed": list(changes)}
    assert provider is None


@pytest.mark.parametrize("changes,named", [
    ({"issuer": "http://op.example.test", "authorization_endpoint": "http://op.example.test/a"}, "issuer"),
    ({"token_endpoint": "http://op.example.test/t"}, "token_endpoint"),
    ({"jwks_uri": "http://op.example.test/k"}, "jwks_uri"),
    ({"userinfo_endpoint": "http://op.example.test/u"}, "userinfo_endpoint"),
    ({"authorization_endpoint": "javascript:alert(document.domain)//"}, "authorization_endpoint"),
    ({"authorization_endpoint": "data:text/html,<script>1</script>"}, "authorization_endpoint"),
])
def test_discovery_requires_https_endpoints(changes, named):
    """Findings 2 and 6: http (not loopback) and non-http(s) endpoints fail; no provider, so no login link."""
    import json

    document = good_document(**changes)
    checks, provider = oidc.discover(document["issuer"], static(json.dumps(document)))
    assert failures(checks) == ["oidc.discovery.https"] and provider is None
    assert named in checks[-1].detail["endpoints"]


def test_loopback_http_endpoints_only_with_the_operator_switch():
    import json

    document = good_document(**{k: v.replace("https://op.example.test", "http://127.0.0.1:9") for k, v in
                                good_document().items() if isinstance(v, str)})
    assert failures(oidc.discover(document["issuer"], static(json.dumps(document)))[0]) == ["oidc.discovery.https"]
    checks, provider = oidc.discover(document["issuer"], static(json.dumps(document)), allow_loopback_http=True)
    assert failures(checks) == [] and provider is not None


def test_deeply_nested_discovery_document_is_a_failed_check_not_a_crash():
    checks, provider = oidc.discover("https://op.example.test", static(b"[" * 100_000 + b"]" * 100_000))
    assert failures(checks) == ["oidc.discovery.fetch"] and "nests deeper" in checks[0].message
    checks, jwks = oidc.fetch_jwks("https://op.example.test/k", static(b'{"keys": ' + b"[" * 50 + b"]" * 50 + b"}"))
    assert failures(checks) == ["oidc.jwks.fetch"] and jwks is None


def test_deeply_nested_id_token_claims_fail_a_check_not_a_crash(oidc_provider):
    deep = {"x": 1}
    for _ in range(100):  # parses, but nests deeper than Roster stores (sso.fetch.MAX_JSON_DEPTH)
        deep = {"x": deep}
    token = oidc_provider.mint_id_token(nonce="n1", deep=deep)
    checks, profile = oidc.verify_id_token(token, oidc_provider.jwks(), issuer=oidc_provider.issuer,
                                           client_id=oidc_provider.client_id, nonce="n1")
    # Refused when the token's segments are first read (models.untrusted bounds every untrusted JSON), before
    # any signature work.
    assert failures(checks) == ["oidc.id_token.format"] and profile == {}
    assert "nests deeper" in checks[-1].message
