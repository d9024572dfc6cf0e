"""OIDC test sign-ins end to end against a real OpenID provider on 127.0.0.1: discovery, PKCE, ID token."""

from urllib.parse import parse_qs, urlsplit

import pytest

from models.db import db
from models.directory import Member
from models.sso import SsoTestRun

from .helpers import (allow_private_network, checks_by_id, complete_oidc_login, connections_url, create_oidc,
                      failed_ids, get_run, start_test)


@pytest.fixture
def oidc_setup(app, workspace_setup, oidc_provider):
    s = workspace_setup
    allow_private_network(app)
    return s, create_oidc(s.admin_client, s.workspace, oidc_provider)


def test_round_trip_passes(app, client, oidc_setup, oidc_provider):
    s, connection = oidc_setup
    run = start_test(s.admin_client, s.workspace, connection)
    assert run["status"] == "pending_login"
    query = parse_qs(urlsplit(run["login_url"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert query["redirect_uri"] == [f"http://roster.test/sso/{connection['id']}/callback"]
    assert checks_by_id(run)["oidc.discovery.issuer"] == ["pass"]
    with app.app_context(), db.connection_context():
        row = SsoTestRun.get_by_id(run["id"])
        assert row.nonce == query["nonce"][0]
        assert row.code_verifier and len(row.code_verifier) > 100  # sealed, not the raw verifier

    page = complete_oidc_login(client, oidc_provider, run)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-status="passed"' in html and "alice@example.com" in html
    assert "Set-Cookie" not in page.headers
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "passed", failed_ids(result)
    assert result["profile"]["email"] == "alice@example.com"
    assert result["profile"]["claims"]["iss"] == oidc_provider.issuer
    with app.app_context(), db.connection_context():
        assert SsoTestRun.get_by_id(run["id"]).code_verifier is None  # secrets dropped once finished
        assert Member.select().where(Member.email_ci == "alice@example.com").count() == 0


def test_private_issuer_refused_without_the_setting(app, oidc_setup):
    s, connection = oidc_setup
    allow_private_network(app, False)
    run = start_test(s.admin_client, s.workspace, connection)
    assert run["status"] == "failed" and run["login_url"] is None
    fetch = [c for c in run["checks"] if c["id"] == "oidc.discovery.fetch"][0]
    assert fetch["status"] == "fail" and "loopback" in fetch["message"]


@pytest.mark.parametrize("attack,expected", [
    ("alg_none", ["oidc.id_token.algorithm"]),
    ("hs256_public_key", ["oidc.id_token.algorithm"]),
    ("unknown_kid", ["oidc.id_token.kid"]),
    ("embedded_jwk", ["oidc.id_token.signature"]),
    ("embedded_x5c", ["oidc.id_token.signature"]),
    ("other_key", ["oidc.id_token.signature"]),
    ("tamper", ["oidc.id_token.signature"]),
    ("wrong_issuer", ["oidc.id_token.issuer"]),
    ("wrong_audience", ["oidc.id_token.audience"]),
    ("wrong_nonce", ["oidc.id_token.nonce"]),
    ("expired", ["oidc.id_token.expiry", "oidc.id_token.issued_at"]),
    ("future_iat", ["oidc.id_token.issued_at"]),
    ("no_email", ["oidc.profile.email"]),
])
def test_attack_tokens_fail_the_run(client, oidc_setup, oidc_provider, attack, expected):
    s, connection = oidc_setup
    run = start_test(s.admin_client, s.workspace, connection)
    oidc_provider.attack = attack
    page = complete_oidc_login(client, oidc_provider, run)
    assert page.status_code == 200 and 'data-status="failed"' in page.get_data(as_text=True)
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed"
    assert failed_ids(result) == sorted(expected)
    assert "mallory@evil.example" not in str(result["profile"])


def test_unknown_kid_has_a_hint(client, oidc_setup, oidc_provider):
    s, connection = oidc_setup
    run = start_test(s.admin_client, s.workspace, connection)
    oidc_provider.attack = "unknown_kid"
    complete_oidc_login(client, oidc_provider, run)
    kid = [c for c in get_run(s.admin_client, s.workspace, connection, run)["checks"]
           if c["id"] == "oidc.id_token.kid"][0]
    assert "rotated" in kid["fix"]


def test_email_outside_the_domains_fails(client, oidc_setup, oidc_provider):
    s, connection = oidc_setup
    run = start_test(s.admin_client, s.workspace, connection)
    complete_oidc_login(client, oidc_provider, run, email="bob@elsewhere.test")
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed" and failed_ids(result) == ["oidc.profile.email_domain"]


def test_wrong_client_secret_fails_at_the_token_endpoint(client, oidc_setup, oidc_provider):
    s, connection = oidc_setup
    s.admin_client.patch(f"{connections_url(s.workspace)}/{connection['id']}",
                         json={"config": {"client_secret": "wrong-secret"}})
    run = start_test(s.admin_client, s.workspace, connection)
    complete_oidc_login(client, oidc_provider, run)
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert failed_ids(result) == ["oidc.token.exchange"]
    assert "invalid_client" in [c for c in result["checks"] if c["id"] == "oidc.token.exchange"][0]["message"]


def test_issuer_mismatch_in_discovery(client, oidc_setup, oidc_provider):
    s, connection = oidc_setup
    oidc_provider.issuer_override = "https://someone-else.example.test"
    run = start_test(s.admin_client, s.workspace, connection)
    assert run["status"] == "failed" and checks_by_id(run)["oidc.discovery.issuer"] == ["fail"]


def test_provider_error_and_bad_state(client, oidc_setup, oidc_provider):
    s, connection = oidc_setup
    run = start_test(s.admin_client, s.workspace, connection)
    state = parse_qs(urlsplit(run["login_url"]).query)["state"][0]
    base = f"/sso/{connection['id']}/callback"
    assert client.get(f"{base}?code=abc").status_code == 404  # no state: not tied to any run
    assert client.get(f"{base}?code=abc&state=forged").status_code == 404
    page = client.get(f"{base}?error=access_denied&error_description=User+not+assigned&state={state}")
    assert page.status_code == 200 and "access_denied" in page.get_data(as_text=True)
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed" and failed_ids(result) == ["oidc.authorize"]


def test_callback_replay_refused(client, oidc_setup, oidc_provider):
    s, connection = oidc_setup
    run = start_test(s.admin_client, s.workspace, connection)
    callback = oidc_provider.login(run["login_url"])
    parts = urlsplit(callback)
    assert client.get(f"{parts.path}?{parts.query}").status_code == 200
    again = client.get(f"{parts.path}?{parts.query}")
    assert again.status_code == 409
    assert get_run(s.admin_client, s.workspace, connection, run)["status"] == "passed"


def test_saml_endpoint_refuses_oidc_connection(client, oidc_setup):
    _, connection = oidc_setup
    assert client.post(f"/sso/{connection['id']}/acs", data={"SAMLResponse": "x"}).status_code == 404


@pytest.mark.parametrize("claims,expected", [
    ({"exp": 10**13, "iat": 10**13}, ["oidc.id_token.expiry", "oidc.id_token.issued_at"]),
    ({"exp": 10**13}, ["oidc.id_token.expiry"]),
    ({"exp": float("inf")}, ["oidc.id_token.signature"]),
])
def test_token_times_past_any_calendar_date_fail_cleanly(client, oidc_setup, oidc_provider, claims, expected):
    s, connection = oidc_setup
    run = start_test(s.admin_client, s.workspace, connection)
    oidc_provider.extra_claims = claims
    page = complete_oidc_login(client, oidc_provider, run)
    assert page.status_code == 200 and 'data-status="failed"' in page.get_data(as_text=True)
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed" and failed_ids(result) == expected


@pytest.mark.parametrize("changes", [
    {"response_types_supported": 1},
    {"id_token_signing_alg_values_supported": 5},
    {"authorization_endpoint": 123},
    {"jwks_uri": ["x"]},
])
def test_malformed_discovery_fails_the_test(oidc_setup, oidc_provider, monkeypatch, changes):
    s, connection = oidc_setup
    document = {**oidc_provider.discovery(), **changes}
    monkeypatch.setattr(oidc_provider, "discovery", lambda: document)
    run = start_test(s.admin_client, s.workspace, connection)
    assert run["status"] == "failed" and run["login_url"] is None
    assert failed_ids(run) == ["oidc.discovery.required_fields"]


def _ids_unique(run):
    ids = [c["id"] for c in run["checks"]]
    return len(ids) == len(set(ids))


def test_check_ids_are_unique_per_run(client, oidc_setup, oidc_provider):
    """Finding 9: the keys fetched again for the ID token no longer repeat oidc.jwks.keys."""
    s, connection = oidc_setup
    run = start_test(s.admin_client, s.workspace, connection)
    complete_oidc_login(client, oidc_provider, run)
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "passed" and _ids_unique(result), [c["id"] for c in result["checks"]]


@pytest.mark.parametrize("answer", ["json", "jwt"])
def test_claims_missing_from_the_id_token_come_from_userinfo(client, oidc_setup, oidc_provider, answer):
    """Finding 7: an ID token with only sub (node-oidc-provider's default) is completed from UserInfo."""
    s, connection = oidc_setup
    oidc_provider.id_token_claims = "minimal"
    oidc_provider.userinfo_format = answer
    run = start_test(s.admin_client, s.workspace, connection)
    page = complete_oidc_login(client, oidc_provider, run)
    assert 'data-status="passed"' in page.get_data(as_text=True)
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "passed", failed_ids(result)
    assert len(oidc_provider.userinfo_calls) == 1 and oidc_provider.userinfo_calls[0].startswith("Bearer ")
    by_id = {c["id"]: c for c in result["checks"]}
    assert by_id["oidc.userinfo.fetch"]["status"] == "pass"
    assert by_id["oidc.userinfo.subject"]["status"] == "pass"
    assert by_id["oidc.profile.sources"]["detail"] == {
        "email": "userinfo", "name": "userinfo", "given_name": "userinfo", "family_name": "userinfo"}
    assert by_id["oidc.profile.email"]["status"] == "pass"
    if answer == "jwt":
        assert by_id["oidc.userinfo.signature"]["status"] == "pass"
    assert _ids_unique(result)


def test_claims_in_the_id_token_need_no_userinfo_call(client, oidc_setup, oidc_provider):
    s, connection = oidc_setup
    run = start_test(s.admin_client, s.workspace, connection)
    complete_oidc_login(client, oidc_provider, run)
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "passed" and oidc_provider.userinfo_calls == []
    sources = {c["id"]: c for c in result["checks"]}["oidc.profile.sources"]["detail"]
    assert sources["email"] == "id_token"


def test_userinfo_about_another_subject_is_refused(client, oidc_setup, oidc_provider):
    """OIDC Core §5.3.4: the UserInfo sub must equal the ID token's, or its claims are not used."""
    s, connection = oidc_setup
    oidc_provider.id_token_claims = "minimal"
    oidc_provider.userinfo_sub = "someone-else"
    run = start_test(s.admin_client, s.workspace, connection)
    complete_oidc_login(client, oidc_provider, run)
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed"
    assert failed_ids(result) == ["oidc.profile.email", "oidc.userinfo.subject"]
    assert result["profile"]["email"] is None
