"""Pinned IdP certificates: pinned at import, a changed certificate is not used until an admin approves it,
and the former one stays accepted during the rotation window the admin chose."""

from urllib.parse import urlsplit

from click.testing import CliRunner

import cli
from idp_fixtures.sso.saml_idp import SamlIdpServer
from sso import saml

from .helpers import connections_url, failed_ids, get_run, start_test

CHANGED = "certificate changed: approve the new fingerprint"


def _fingerprint(key):
    return saml.certificate_info(key.cert_b64).sha256


def _sign_in(client, server, run):
    posted = server.idp.login(run["login_url"], "alice@example.com")
    return client.post(urlsplit(posted.acs_url).path, data=posted.form)


def test_rotated_certificate_is_refused_until_approved(app, client, workspace_setup, monkeypatch):
    s = workspace_setup
    with SamlIdpServer() as server:
        old_key = server.idp.key
        created = s.admin_client.post(connections_url(s.workspace), json={
            "provider": "saml", "name": "By URL", "domains": ["example.com"],
            "config": {"metadata_url": f"{server.url}/metadata"}})
        assert created.status_code == 201, created.json
        connection = created.json
        url = f"{connections_url(s.workspace)}/{connection['id']}"
        assert connection["trust"]["pinned"] == [_fingerprint(old_key)] and connection["trust"]["pending"] == []

        before_rotation = start_test(s.admin_client, s.workspace, connection)
        assert before_rotation["status"] == "pending_login"
        assert {c["id"]: c["status"] for c in before_rotation["checks"]}["saml.metadata.pinned"] == "pass"

        # The IdP rotates: it signs with a new key and publishes metadata with the new certificate.
        server.idp.rotate_key()
        server.idp.refresh_metadata()
        new = _fingerprint(server.idp.key)

        # A response signed with the new key, for the run started before: refused (not pinned).
        _sign_in(client, server, before_rotation)
        refused = get_run(s.admin_client, s.workspace, connection, before_rotation)
        assert refused["status"] == "failed" and "saml.response.signature" in failed_ids(refused)

        # The next test re-fetches the metadata, finds the new certificate and does not use it.
        run = start_test(s.admin_client, s.workspace, connection)
        assert run["status"] == "failed" and run["login_url"] is None
        assert failed_ids(run) == ["saml.metadata.pinned"]
        pinned = [c for c in run["checks"] if c["id"] == "saml.metadata.pinned"][0]
        assert pinned["message"].startswith(CHANGED) and pinned["detail"]["new"] == [new]
        shown = s.admin_client.get(url).json
        assert shown["trust"]["message"] == CHANGED and shown["trust"]["pending"] == [new]
        assert shown["trust"]["pinned"] == [_fingerprint(old_key)]
        assert s.admin_client.post(f"{url}/tests").json["status"] == "failed"  # still refused

        # The command line refresh reports it too (exit 1: a connection needs attention).
        monkeypatch.setattr(cli, "make_app", lambda: app)
        result = CliRunner().invoke(cli.main, ["sso", "refresh"])
        assert result.exit_code == 1 and CHANGED in result.output

        # Approving needs sso:manage and exactly the pending fingerprints.
        wrong = s.admin_client.post(f"{url}/certificates/approve", json={"sha256": [_fingerprint(old_key)]})
        assert wrong.status_code == 409
        approved = s.admin_client.post(f"{url}/certificates/approve", json={"sha256": [new], "rotation_days": 1})
        assert approved.status_code == 200, approved.json
        assert approved.json["trust"]["pinned"] == [new] and approved.json["trust"]["pending"] == []
        assert [r["sha256"] for r in approved.json["trust"]["retiring"]] == [_fingerprint(old_key)]
        assert s.admin_client.post(f"{url}/certificates/approve", json={"sha256": [new]}).status_code == 409

        run = start_test(s.admin_client, s.workspace, connection)
        _sign_in(client, server, run)
        assert get_run(s.admin_client, s.workspace, connection, run)["status"] == "passed"

        # During the rotation window, a response still signed with the former key is accepted.
        server.idp.key, server.idp._server = old_key, None
        run = start_test(s.admin_client, s.workspace, connection)
        _sign_in(client, server, run)
        assert get_run(s.admin_client, s.workspace, connection, run)["status"] == "passed"

    events = s.admin_client.get(f"/api/v1/workspaces/{s.workspace.slug}/events?limit=200")
    operations = [e["operation"] for e in events.json["items"]]
    assert "sso.certificate.changed" in operations and "sso.certificate.approved" in operations


def test_without_a_rotation_window_the_former_certificate_stops_at_once(app, client, workspace_setup):
    s = workspace_setup
    with SamlIdpServer() as server:
        old_key = server.idp.key
        connection = s.admin_client.post(connections_url(s.workspace), json={
            "provider": "saml", "name": "By URL", "domains": ["example.com"],
            "config": {"metadata_url": f"{server.url}/metadata"}}).json
        url = f"{connections_url(s.workspace)}/{connection['id']}"
        server.idp.rotate_key()
        server.idp.refresh_metadata()
        refreshed = s.admin_client.post(f"{url}/refresh")
        assert refreshed.status_code == 200 and refreshed.json["trust"]["message"] == CHANGED
        new = refreshed.json["trust"]["pending"]
        approved = s.admin_client.post(f"{url}/certificates/approve", json={"sha256": new, "rotation_days": 0})
        assert approved.json["trust"]["retiring"] == []
        server.idp.key, server.idp._server = old_key, None
        run = start_test(s.admin_client, s.workspace, connection)
        _sign_in(client, server, run)
        assert "saml.response.signature" in failed_ids(get_run(s.admin_client, s.workspace, connection, run))


def test_approving_needs_sso_manage(app, client, workspace_setup):
    from models.db import db
    from tests import factories
    from tests.conftest import AuthClient

    s = workspace_setup
    with SamlIdpServer() as server:
        connection = s.admin_client.post(connections_url(s.workspace), json={
            "provider": "saml", "name": "By URL", "domains": ["example.com"],
            "config": {"metadata_url": f"{server.url}/metadata"}}).json
    url = f"{connections_url(s.workspace)}/{connection['id']}"
    with app.app_context(), db.connection_context():
        factories.make_role(s.workspace, "Tester", ["sso:read", "sso:test"])
        _, tester = factories.make_member(s.workspace, "tester@acme.test", {"dev": "Tester"})
        tester_client = AuthClient(client, factories.make_personal_token(tester))
    assert tester_client.post(f"{url}/certificates/approve", json={"sha256": ["x"]}).status_code == 403
    assert tester_client.post(f"{url}/refresh").status_code == 403
