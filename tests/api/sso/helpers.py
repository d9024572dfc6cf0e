"""SSO API test helpers: connections and test runs through the admin API (the test IdPs are fixtures of
tests/conftest.py)."""

from urllib.parse import urlsplit


def allow_private_network(app, allowed=True):
    """Set the operator switch SSO_ALLOW_PRIVATE_NETWORK (the test IdPs listen on 127.0.0.1); tests/conftest.py
    turns it back on after each test."""
    app.config["SSO_ALLOW_PRIVATE_NETWORK"] = allowed


def connections_url(workspace):
    return f"/api/v1/workspaces/{workspace.slug}/sso/connections"


def create_saml(client, workspace, idp, domains=("example.com",), name="Okta"):
    r = client.post(connections_url(workspace), json={
        "provider": "saml", "name": name, "domains": list(domains),
        "config": {"metadata_xml": idp.metadata_xml}})
    assert r.status_code == 201, r.json
    return r.json


def create_oidc(client, workspace, provider, domains=("example.com",), name="OIDC"):
    r = client.post(connections_url(workspace), json={
        "provider": "oidc", "name": name, "domains": list(domains),
        "config": {"issuer": provider.issuer, "client_id": provider.client_id,
                   "client_secret": provider.client_secret}})
    assert r.status_code == 201, r.json
    return r.json


def start_test(client, workspace, connection):
    r = client.post(f"{connections_url(workspace)}/{connection['id']}/tests")
    assert r.status_code == 201, r.json
    return r.json


def get_run(client, workspace, connection, run):
    r = client.get(f"{connections_url(workspace)}/{connection['id']}/tests/{run['id']}")
    assert r.status_code == 200, r.json
    return r.json


def failed_ids(run):
    return sorted({c["id"] for c in run["checks"] if c["status"] == "fail"})


def checks_by_id(run):
    out = {}
    for check in run["checks"]:
        out.setdefault(check["id"], []).append(check["status"])
    return out


def complete_oidc_login(client, provider, run, email=None):
    """Sign in at the provider's login page and follow its redirect to Roster's callback; return the page."""
    callback = provider.login(run["login_url"], email)
    parts = urlsplit(callback)
    return client.get(f"{parts.path}?{parts.query}")
