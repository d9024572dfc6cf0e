"""SSO connections through the admin API: CRUD, validation, domain claims, secrets, isolation, privileges."""

import logging

import pytest

from idp_fixtures.sso.saml_idp import SamlIdpServer
from models.db import db
from models.db import utcnow
from models.sso import SsoConnection, SsoDomain
from models.workspace import Workspace
from tests import factories
from tests.conftest import AuthClient

from .helpers import (allow_private_network, complete_oidc_login, connections_url, create_oidc, create_saml,
                      start_test)

OIDC_CONFIG = {"issuer": "https://login.example.test", "client_id": "roster",
               "client_secret": "s3cret-value-123"}


def oidc_body(**overrides):
    body = {"provider": "oidc", "name": "Corp OIDC", "domains": ["example.com"], "config": dict(OIDC_CONFIG)}
    body.update(overrides)
    return body


def test_create_list_get_update_delete_saml(workspace_setup, saml_idp):
    s = workspace_setup
    created = create_saml(s.admin_client, s.workspace, saml_idp, domains=["Example.com", "@corp.example.com"])
    assert created["status"] == "draft"
    assert created["domains"] == ["corp.example.com", "example.com"]
    assert created["config"]["idp_entity_id"] == saml_idp.entity_id
    assert created["service_provider"]["acs_url"] == f"http://roster.test/sso/{created['id']}/acs"
    assert created["last_test"] is None and created["last_test_current"] is False
    url = f"{connections_url(s.workspace)}/{created['id']}"

    listed = s.owner_client.get(connections_url(s.workspace))
    assert listed.status_code == 200 and [c["id"] for c in listed.json] == [created["id"]]
    assert s.owner_client.get(url).json["name"] == "Okta"

    renamed = s.admin_client.patch(url, json={"name": "Okta production"})
    assert renamed.status_code == 200 and renamed.json["name"] == "Okta production"

    assert s.admin_client.delete(url).status_code == 204
    assert s.admin_client.get(url).status_code == 404
    # The domains are free again.
    create_saml(s.admin_client, s.workspace, saml_idp, domains=["example.com"])


def test_metadata_xml_accepted_as_pasted_with_declaration(workspace_setup, saml_idp):
    s = workspace_setup
    xml = saml_idp.metadata_xml
    if not xml.lstrip().startswith("<?xml"):
        xml = '<?xml version="1.0" encoding="UTF-8"?>\n' + xml
    r = s.admin_client.post(connections_url(s.workspace), json={
        "provider": "saml", "name": "Pasted", "domains": ["example.com"],
        "config": {"metadata_xml": "\n  " + xml}})
    assert r.status_code == 201, r.json


@pytest.mark.parametrize("body,field", [
    ({"provider": "ldap", "name": "x", "domains": ["example.com"], "config": {}}, "provider"),
    ({"provider": "saml", "name": "", "domains": ["example.com"], "config": {}}, "name"),
    ({"provider": "saml", "name": "   ", "domains": ["example.com"], "config": {}}, "name"),
    ({"provider": "saml", "name": "x", "domains": [], "config": {}}, "domains"),
    ({"provider": "saml", "name": "x", "domains": ["example.com"]}, "config"),
])
def test_schema_validation(workspace_setup, body, field):
    r = workspace_setup.admin_client.post(connections_url(workspace_setup.workspace), json=body)
    assert r.status_code == 422
    assert field in r.json["errors"]["json"]


@pytest.mark.parametrize("config,message", [
    ({}, "metadata_xml or metadata_url"),
    ({"metadata_xml": "<a", "metadata_url": "https://idp.example.test/md"}, "metadata_xml or metadata_url"),
    ({"metadata_xml": "not xml at all"}, "Invalid IdP metadata"),
    ({"metadata_xml": '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">'
                      '<md:SPSSODescriptor '
                      'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/>'
                      '</md:EntityDescriptor>'}, "service provider metadata"),
    ({"metadata_url": "ftp://idp.example.test/md"}, "Invalid metadata_url"),
    ({"metadata_xml": "x", "entity_id": "y"}, "Unknown saml config keys"),
])
def test_saml_config_validation(workspace_setup, config, message):
    r = workspace_setup.admin_client.post(connections_url(workspace_setup.workspace), json={
        "provider": "saml", "name": "Bad", "domains": ["example.com"], "config": config})
    assert r.status_code == 400, r.json
    assert message in r.json["message"]
    assert r.json["code"] == 400 and "config" in r.json["errors"]


def test_xxe_and_billion_laughs_metadata_refused(workspace_setup):
    from tests.sso.payloads import metadata_payload
    for kind in ("xxe_system", "billion_laughs"):
        r = workspace_setup.admin_client.post(connections_url(workspace_setup.workspace), json={
            "provider": "saml", "name": "Evil", "domains": ["example.com"],
            "config": {"metadata_xml": metadata_payload(kind)}})
        assert r.status_code == 400
        assert "DOCTYPE" in r.json["message"]


@pytest.mark.parametrize("domains", [["not a domain"], ["example"], ["a@b.com"], ["exa_mple.com"], [42]])
def test_bad_domains(workspace_setup, domains):
    s = workspace_setup
    r = s.admin_client.post(connections_url(s.workspace), json=oidc_body(domains=domains))
    assert r.status_code in (400, 422)


@pytest.mark.parametrize("config,field", [
    ({"issuer": "https://x.test", "client_id": "c"}, "client_secret"),
    ({"issuer": "https://x.test", "client_secret": "s"}, "client_id"),
    ({"issuer": "javascript:alert(1)", "client_id": "c", "client_secret": "s"}, "issuer"),
    ({"issuer": "https://x.test", "client_id": "c", "client_secret": "s", "scope": "x"}, "scope"),
])
def test_oidc_config_validation(workspace_setup, config, field):
    s = workspace_setup
    r = s.admin_client.post(connections_url(s.workspace), json=oidc_body(config=config))
    assert r.status_code == 400, r.json
    assert field in r.json["errors"]["config"]


def test_client_secret_is_write_only_and_stored_encrypted(app, workspace_setup, caplog):
    s = workspace_setup
    caplog.set_level(logging.DEBUG)
    created = s.admin_client.post(connections_url(s.workspace), json=oidc_body())
    assert created.status_code == 201
    url = f"{connections_url(s.workspace)}/{created.json['id']}"
    for response in (created, s.admin_client.get(url), s.admin_client.get(connections_url(s.workspace)),
                     s.admin_client.patch(url, json={"name": "Renamed"})):
        assert "s3cret-value-123" not in response.get_data(as_text=True)
    assert created.json["config"] == {"issuer": "https://login.example.test", "client_id": "roster",
                                      "client_secret_set": True}
    with app.app_context(), db.connection_context():
        row = SsoConnection.get_by_id(created.json["id"])
        assert "s3cret-value-123" not in row.secret and "s3cret" not in str(row.config)
    assert "s3cret-value-123" not in caplog.text

    # PATCH without client_secret keeps it; with one replaces it (still never shown).
    kept = s.admin_client.patch(url, json={"config": {"client_id": "roster-2"}})
    assert kept.status_code == 200 and kept.json["config"]["client_secret_set"] is True
    assert kept.json["config"]["client_id"] == "roster-2"
    replaced = s.admin_client.patch(url, json={"config": {"client_secret": "another-secret"}})
    assert "another-secret" not in replaced.get_data(as_text=True)


def test_provider_cannot_change(workspace_setup):
    s = workspace_setup
    created = s.admin_client.post(connections_url(s.workspace), json=oidc_body()).json
    r = s.admin_client.patch(f"{connections_url(s.workspace)}/{created['id']}", json={"provider": "saml"})
    assert r.status_code == 400 and "provider" in r.json["errors"]


def _mark_verified(app, domain):
    """Mark a claim verified (tests/api/sso/test_domains.py verifies through DNS)."""
    with app.app_context(), db.connection_context():
        SsoDomain.update(status="verified", verified_at=utcnow()).where(SsoDomain.domain == domain).execute()


def test_verified_domain_claimed_by_one_workspace_only(app, client, workspace_setup):
    s = workspace_setup
    create = s.admin_client.post
    assert create(connections_url(s.workspace), json=oidc_body(domains=["example.com"])).status_code == 201
    _mark_verified(app, "example.com")
    with app.app_context(), db.connection_context():
        other, _ = factories.make_workspace("Other", owner_email="owner@other.test")
        other_client = AuthClient(client, factories.make_service_token(other, ["admin"]))
    r = other_client.post(connections_url(other), json=oidc_body(domains=["other.test", "EXAMPLE.com"]))
    assert r.status_code == 409
    assert "example.com" in r.json["message"]
    # Nothing of the refused request stayed behind: other.test is still free.
    assert create(connections_url(s.workspace), json=oidc_body(domains=["other.test"])).status_code == 201
    # Within one workspace, two connections may share a domain (e.g. while moving from SAML to OIDC).
    assert create(connections_url(s.workspace), json=oidc_body(domains=["example.com"])).status_code == 201


def test_domain_released_by_update(app, client, workspace_setup):
    s = workspace_setup
    url = connections_url(s.workspace)
    created = s.admin_client.post(url, json=oidc_body(domains=["a.example.com"])).json
    s.admin_client.patch(f"{url}/{created['id']}", json={"domains": ["b.example.com"]})
    _mark_verified(app, "b.example.com")
    # The claim of a.example.com stays until released; unverified, it blocks no other workspace.
    assert s.admin_client.delete(f"/api/v1/workspaces/{s.workspace.slug}/sso/domains/a.example.com").status_code == 204
    with app.app_context(), db.connection_context():
        other, _ = factories.make_workspace("Other", owner_email="owner@other.test")
        other_client = AuthClient(client, factories.make_service_token(other, ["admin"]))
    other_url = connections_url(other)
    assert other_client.post(other_url, json=oidc_body(domains=["a.example.com"])).status_code == 201
    assert other_client.post(other_url, json=oidc_body(domains=["b.example.com"])).status_code == 409


def test_other_workspace_sees_nothing(app, client, workspace_setup):
    s = workspace_setup
    created = s.admin_client.post(connections_url(s.workspace), json=oidc_body()).json
    with app.app_context(), db.connection_context():
        other, _ = factories.make_workspace("Other", owner_email="owner@other.test")
        other_client = AuthClient(client, factories.make_service_token(other, ["admin"]))
    # Naming the first workspace: 404 (existence does not leak).
    assert other_client.get(connections_url(s.workspace)).status_code == 404
    # Naming its own workspace with the other's connection id: 404 too.
    for method in ("get", "patch", "delete"):
        r = getattr(other_client, method)(f"{connections_url(other)}/{created['id']}",
                                          **({"json": {"name": "x"}} if method == "patch" else {}))
        assert r.status_code == 404
    assert other_client.post(f"{connections_url(other)}/{created['id']}/tests").status_code == 404
    assert other_client.get(connections_url(other)).json == []


def test_privileges(app, client, workspace_setup):
    s = workspace_setup
    created = s.admin_client.post(connections_url(s.workspace), json=oidc_body()).json
    url = f"{connections_url(s.workspace)}/{created['id']}"
    with app.app_context(), db.connection_context():
        _, reader = factories.make_member(s.workspace, "reader@acme.test", {"dev": "Readonly"})
        factories.make_role(s.workspace, "Tester", ["sso:read", "sso:test"])
        _, tester = factories.make_member(s.workspace, "tester@acme.test", {"dev": "Tester"})
        reader_client = AuthClient(client, factories.make_personal_token(reader))
        tester_client = AuthClient(client, factories.make_personal_token(tester))
        scim_client = AuthClient(client, s.scim_token)
    assert reader_client.get(url).status_code == 200
    assert reader_client.patch(url, json={"name": "x"}).status_code == 403
    assert reader_client.delete(url).status_code == 403
    assert reader_client.post(connections_url(s.workspace), json=oidc_body()).status_code == 403
    assert reader_client.post(f"{url}/tests").status_code == 403
    assert tester_client.patch(url, json={"name": "x"}).status_code == 403
    # sso:test may start a test (the issuer is unreachable, so the run fails at discovery, but it starts).
    started = tester_client.post(f"{url}/tests")
    assert started.status_code == 201 and started.json["status"] == "failed"
    assert scim_client.get(url).status_code == 403
    assert client.get(url).status_code == 401


def test_activation_needs_a_passing_test_of_the_current_config(app, workspace_setup, oidc_provider):
    s = workspace_setup
    allow_private_network(app)
    connection = create_oidc(s.admin_client, s.workspace, oidc_provider)
    url = f"{connections_url(s.workspace)}/{connection['id']}"
    refused = s.admin_client.patch(url, json={"status": "active"})
    assert refused.status_code == 409 and "test" in refused.json["message"]

    run = start_test(s.admin_client, s.workspace, connection)
    complete_oidc_login(app.test_client(), oidc_provider, run)
    shown = s.admin_client.get(url).json
    assert shown["last_test"]["status"] == "passed" and shown["last_test_current"] is True
    active = s.admin_client.patch(url, json={"status": "active"})
    assert active.status_code == 200 and active.json["status"] == "active"

    # A new config makes the last test stale and the connection draft again.
    changed = s.admin_client.patch(url, json={"domains": ["example.com", "example.org"]})
    assert changed.json["status"] == "draft" and changed.json["last_test_current"] is False
    assert s.admin_client.patch(url, json={"status": "active"}).status_code == 409
    assert s.admin_client.patch(url, json={"status": "inactive"}).json["status"] == "inactive"


def test_new_connection_cannot_start_active(workspace_setup):
    r = workspace_setup.admin_client.post(connections_url(workspace_setup.workspace),
                                          json=oidc_body(status="active"))
    assert r.status_code == 422


def test_metadata_url_fetched_private_refused_unless_allowed(app, workspace_setup):
    s = workspace_setup
    allow_private_network(app, False)
    with SamlIdpServer() as server:
        body = {"provider": "saml", "name": "By URL", "domains": ["example.com"],
                "config": {"metadata_url": f"{server.url}/metadata"}}
        refused = s.admin_client.post(connections_url(s.workspace), json=body)
        assert refused.status_code == 400
        assert "https is required" in refused.json["message"]
        # Even an https URL naming a loopback address is refused without the operator switch.
        refused = s.admin_client.post(connections_url(s.workspace), json={
            **body, "config": {"metadata_url": f"https://127.0.0.1:{server.url.rsplit(':', 1)[1]}/metadata"}})
        assert refused.status_code == 400
        assert "loopback" in refused.json["message"]
        assert "SSO_ALLOW_PRIVATE_NETWORK" in refused.json["message"]
        allow_private_network(app)
        created = s.admin_client.post(connections_url(s.workspace), json=body)
        assert created.status_code == 201, created.json
        assert created.json["config"]["metadata_url"] == f"{server.url}/metadata"
        assert created.json["config"]["idp_entity_id"] == server.idp.entity_id
        # The test re-fetches the metadata; with the setting off again, the run fails at the fetch.
        allow_private_network(app, False)
        run = start_test(s.admin_client, s.workspace, created.json)
        assert run["status"] == "failed" and run["login_url"] is None
        assert run["checks"][0]["id"] == "saml.metadata.fetch" and run["checks"][0]["status"] == "fail"


def test_sp_metadata(client, workspace_setup, saml_idp):
    s = workspace_setup
    connection = create_saml(s.admin_client, s.workspace, saml_idp)
    r = client.get(f"/sso/{connection['id']}/metadata")
    assert r.status_code == 200 and r.mimetype == "application/samlmetadata+xml"
    xml = r.get_data(as_text=True)
    assert f'entityID="http://roster.test/sso/{connection["id"]}/metadata"' in xml
    assert f'Location="http://roster.test/sso/{connection["id"]}/acs"' in xml
    assert "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" in xml
    assert client.get("/sso/00000000-0000-0000-0000-000000000000/metadata").status_code == 404
    oidc = s.admin_client.post(connections_url(s.workspace), json=oidc_body(domains=["example.org"])).json
    assert client.get(f"/sso/{oidc['id']}/metadata").status_code == 404


def test_workspace_deletion_preview_counts_connections(workspace_setup, saml_idp):
    s = workspace_setup
    create_saml(s.admin_client, s.workspace, saml_idp)
    preview = s.owner_client.get(f"/api/v1/workspaces/{s.workspace.slug}/deletion-preview").json
    assert preview["will_delete"]["sso_connections"] == 1
    assert preview["will_delete"]["sso_domains"] == 1


def test_xmlsec_missing_is_logged_at_start_up(tmp_path, monkeypatch, caplog, database_url):
    from sso.saml import xmlsec
    from wsgi import create_app
    monkeypatch.setenv("XMLSEC1_BINARY", str(tmp_path / "no-such-xmlsec1"))
    monkeypatch.setattr(xmlsec, "_find_xmlsec1", lambda: None)
    xmlsec._backend.cache_clear()
    caplog.set_level(logging.INFO, logger="roster.sso")
    try:
        application = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x"})
    finally:
        xmlsec._backend.cache_clear()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "roster.sso"]
    assert errors and "xmlsec1 not found" in errors[0].getMessage()
    assert application.extensions["roster.xmlsec"] is False


def test_metadata_valid_until_before_the_calendar_is_not_a_500(workspace_setup):
    import re

    from idp_fixtures.sso import make_signing_key, render_metadata
    key = make_signing_key()
    xml = render_metadata("google", entity_id="https://google.example.test/entity",
                          sso_url="https://idp.example.test/sso", certificate_b64=key.cert_b64)
    xml = re.sub(r'validUntil="[^"]*"', 'validUntil="0001-01-01T00:00:00+05:00"', xml)
    r = workspace_setup.admin_client.post(connections_url(workspace_setup.workspace), json={
        "provider": "saml", "name": "Ancient", "domains": ["example.com"], "config": {"metadata_xml": xml}})
    assert r.status_code == 201, r.json


def activate_after_a_test(app, s, connection, oidc_provider):
    url = f"{connections_url(s.workspace)}/{connection['id']}"
    run = start_test(s.admin_client, s.workspace, connection)
    complete_oidc_login(app.test_client(), oidc_provider, run)
    active = s.admin_client.patch(url, json={"status": "active"})
    assert active.status_code == 200 and active.json["status"] == "active"
    return url


def test_resaving_the_same_oidc_config_keeps_the_connection_active(app, workspace_setup, oidc_provider):
    s = workspace_setup
    allow_private_network(app)
    connection = create_oidc(s.admin_client, s.workspace, oidc_provider)
    url = activate_after_a_test(app, s, connection, oidc_provider)
    same = {"issuer": oidc_provider.issuer, "client_id": oidc_provider.client_id,
            "client_secret": oidc_provider.client_secret}
    saved = s.admin_client.patch(url, json={"config": same, "domains": ["example.com"]})
    assert saved.status_code == 200 and saved.json["status"] == "active"
    assert saved.json["last_test_current"] is True
    changed = s.admin_client.patch(url, json={"config": {"client_secret": "another-secret"}})
    assert changed.json["status"] == "draft" and changed.json["last_test_current"] is False


def test_resaving_the_same_metadata_url_keeps_the_connection_active(app, workspace_setup):
    from models.db import utcnow
    from models.services import Actor
    from models.sso import SsoTestRun
    from sso import service as svc
    from sso.checks import PASS, Check
    s = workspace_setup
    allow_private_network(app)
    with SamlIdpServer() as server:
        body = {"provider": "saml", "name": "By URL", "domains": ["example.com"],
                "config": {"metadata_url": f"{server.url}/metadata"}}
        created = s.admin_client.post(connections_url(s.workspace), json=body)
        assert created.status_code == 201, created.json
        url = f"{connections_url(s.workspace)}/{created.json['id']}"
        with app.app_context(), db.connection_context():
            row = SsoConnection.get_by_id(created.json["id"])
            run = SsoTestRun.create(workspace=row.workspace_id, connection=row.id, provider="saml",
                                    state_hash="x" * 64, config_version=row.config_version,
                                    expires_at=utcnow() + svc.RUN_TTL)
            svc.finish_test(row.workspace, Actor(kind="public", idp="test"), row, run,
                            [Check("saml.test", "response", PASS, "ok")], None)
            fetched_earlier = {**row.config, "metadata_fetched_at": "2020-01-01T00:00:00Z"}
            SsoConnection.update(config=fetched_earlier).where(SsoConnection.id == row.id).execute()
        assert s.admin_client.patch(url, json={"status": "active"}).json["status"] == "active"
        saved = s.admin_client.patch(url, json={"config": {"metadata_url": f"{server.url}/metadata"}})
        assert saved.status_code == 200 and saved.json["status"] == "active"


def test_a_tenant_cannot_switch_the_ssrf_guard_off(app, workspace_setup):
    """Finding 1: the private-network switch is the operator's (SSO_ALLOW_PRIVATE_NETWORK), not a setting."""
    s = workspace_setup
    allow_private_network(app, False)
    put = s.owner_client.put(f"/api/v1/workspaces/{s.workspace.slug}/settings",
                             json={"settings": {"sso.allow_private_network": True}})
    assert put.status_code == 400 and "sso.allow_private_network" in put.json["errors"]
    with app.app_context(), db.connection_context():  # even a value stored before the upgrade does nothing
        ws = Workspace.get_by_id(s.workspace.id)
        ws.settings = {**(ws.settings or {}), "sso.allow_private_network": True}
        ws.save()
    with SamlIdpServer() as server:
        refused = s.admin_client.post(connections_url(s.workspace), json={
            "provider": "saml", "name": "Internal", "domains": ["example.com"],
            "config": {"metadata_url": f"https://127.0.0.1:{server.url.rsplit(':', 1)[1]}/metadata"}})
    assert refused.status_code == 400 and "loopback" in refused.json["message"]
