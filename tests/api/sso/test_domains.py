"""Verified domains: claimed, then verified by a DNS TXT record (a DNS server on 127.0.0.1 answers), a claim
lapses after 7 days, and a verified domain cannot be claimed by another workspace (finding 4)."""

import datetime

import pytest

from models.db import db
from models.sso import SsoDomain
from tests import factories
from tests.conftest import AuthClient

from .test_connections import oidc_body
from .helpers import connections_url


@pytest.fixture
def other(app, client):
    with app.app_context(), db.connection_context():
        workspace, _ = factories.make_workspace("Other", owner_email="owner@other.test")
        return workspace, AuthClient(client, factories.make_service_token(workspace, ["admin"]))


def domains_url(workspace):
    return f"/api/v1/workspaces/{workspace.slug}/sso/domains"


def test_claim_then_verify_by_dns_txt_record(workspace_setup, dns_server):
    s = workspace_setup
    claimed = s.admin_client.post(domains_url(s.workspace), json={"domain": "Customer.COM"})
    assert claimed.status_code == 201, claimed.json
    claim = claimed.json
    assert claim["domain"] == "customer.com" and claim["status"] == "claimed"
    assert claim["txt_record"].startswith("roster-verification=") and claim["expires_at"]

    dns_server.records["customer.com"] = ["v=spf1 -all"]
    checked = s.admin_client.post(f"{domains_url(s.workspace)}/customer.com/verify")
    assert checked.status_code == 200 and checked.json["status"] == "claimed"
    assert "No TXT record roster-verification=" in checked.json["check_error"]
    assert ("customer.com", "TXT") in dns_server.queries

    dns_server.records["customer.com"].append(claim["txt_record"])
    verified = s.admin_client.post(f"{domains_url(s.workspace)}/customer.com/verify")
    assert verified.json["status"] == "verified" and verified.json["verified_at"] and not verified.json["check_error"]
    assert s.admin_client.get(domains_url(s.workspace)).json[0]["status"] == "verified"


def test_a_domain_is_not_first_come_first_served(workspace_setup, dns_server, other):
    """Finding 4: an unverified claim blocks nobody; the workspace that proves the domain gets it."""
    s = workspace_setup
    other_ws, other_client = other
    squat = other_client.post(connections_url(other_ws), json=oidc_body(domains=["customer.com"]))
    assert squat.status_code == 201
    assert s.admin_client.post(connections_url(s.workspace), json=oidc_body(domains=["customer.com"])).status_code == 201
    mine = {d["domain"]: d for d in s.admin_client.get(domains_url(s.workspace)).json}["customer.com"]
    theirs = other_client.get(domains_url(other_ws)).json[0]
    assert mine["txt_record"] != theirs["txt_record"]

    dns_server.records["customer.com"] = [mine["txt_record"]]
    assert other_client.post(f"{domains_url(other_ws)}/customer.com/verify").json["status"] == "claimed"
    assert s.admin_client.post(f"{domains_url(s.workspace)}/customer.com/verify").json["status"] == "verified"
    # The squatter's claim is gone, and the verified domain cannot be claimed again elsewhere.
    assert other_client.get(domains_url(other_ws)).json == []
    refused = other_client.post(domains_url(other_ws), json={"domain": "customer.com"})
    assert refused.status_code == 409 and "verified by another workspace" in refused.json["message"]
    refused = other_client.post(connections_url(other_ws), json=oidc_body(domains=["customer.com"]))
    assert refused.status_code == 409
    assert other_client.post(f"{domains_url(other_ws)}/customer.com/verify").status_code == 404


def test_an_unverified_claim_lapses_after_7_days(app, workspace_setup, dns_server):
    s = workspace_setup
    first = s.admin_client.post(domains_url(s.workspace), json={"domain": "late.example"}).json
    with app.app_context(), db.connection_context():
        claim = SsoDomain.get(SsoDomain.domain == "late.example")
        SsoDomain.update(created_at=claim.created_at - datetime.timedelta(days=7, minutes=1)).where(
            SsoDomain.id == claim.id).execute()
    assert s.admin_client.get(domains_url(s.workspace)).json[0]["status"] == "lapsed"
    dns_server.records["late.example"] = [first["txt_record"]]
    lapsed = s.admin_client.post(f"{domains_url(s.workspace)}/late.example/verify")
    assert lapsed.status_code == 409 and "lapsed" in lapsed.json["message"]
    again = s.admin_client.post(domains_url(s.workspace), json={"domain": "late.example"}).json
    assert again["status"] == "claimed" and again["txt_record"] != first["txt_record"]


def test_unreachable_dns_is_a_check_error_not_a_500(app, workspace_setup):
    s = workspace_setup
    app.config["SSO_DNS_NAMESERVERS"] = ("127.0.0.1:9",)  # nothing answers there
    try:
        s.admin_client.post(domains_url(s.workspace), json={"domain": "quiet.example"})
        checked = s.admin_client.post(f"{domains_url(s.workspace)}/quiet.example/verify")
    finally:
        app.config["SSO_DNS_NAMESERVERS"] = ()
    assert checked.status_code == 200 and checked.json["status"] == "claimed" and checked.json["check_error"]


def test_domain_privileges_and_release(app, client, workspace_setup, other):
    s = workspace_setup
    other_ws, other_client = other
    with app.app_context(), db.connection_context():
        _, reader = factories.make_member(s.workspace, "reader@acme.test", {"dev": "Readonly"})
        reader_client = AuthClient(client, factories.make_personal_token(reader))
    s.admin_client.post(domains_url(s.workspace), json={"domain": "free.example"})
    assert reader_client.get(domains_url(s.workspace)).status_code == 200
    assert reader_client.post(domains_url(s.workspace), json={"domain": "x.example"}).status_code == 403
    assert reader_client.post(f"{domains_url(s.workspace)}/free.example/verify").status_code == 403
    assert other_client.get(domains_url(s.workspace)).status_code == 404
    assert s.admin_client.post(domains_url(s.workspace), json={"domain": "not a domain"}).status_code == 400
    s.admin_client.post(connections_url(s.workspace), json=oidc_body(domains=["used.example"]))
    assert s.admin_client.delete(f"{domains_url(s.workspace)}/used.example").status_code == 409
    assert s.admin_client.delete(f"{domains_url(s.workspace)}/free.example").status_code == 204
    assert [d["domain"] for d in s.admin_client.get(domains_url(s.workspace)).json] == ["used.example"]
