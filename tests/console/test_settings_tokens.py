"""Settings and tokens pages: settings from the catalogue saved through replace_settings (bad values beside
their field, nothing saved); service tokens with scopes created (secret shown once) and revoked; my personal
tokens created and revoked, another person's token not found; Readonly members change nothing."""

import re

from models.access import Token
from models.db import db
from models.events import ProvisioningEvent as E
from models.workspace import Workspace
from tests import factories
from tests.conftest import AuthClient
from tests.console.helpers import csrf_of, sign_in

OWNER = "owner@acme.test"


def _secret(html):
    return re.search(r'id="token-secret" class="mono" type="text" readonly value="(rst_[a-z]{3}_[^"]+)"', html).group(1)


def test_settings_saved_and_bad_values_beside_their_field(app, client, workspace_setup, mailbox):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    page = client.get(f"/console/w/{ws}/settings")
    html = page.get_data(as_text=True)
    assert 'id="s-scim-strict-rfc"' in html and 'id="s-audit-retention-days"' in html and "Default: 72" in html
    form = {"scim.strict_rfc": "on", "scim.default_idp": "okta", "audit.retention_days": "400",
            "invitations.expiry_hours": "48", "scim.rate_limit_per_second": "0", "csrf_token": csrf_of(page)}
    r = client.post(f"/console/w/{ws}/settings", data=form)
    assert r.status_code == 302
    with app.app_context(), db.connection_context():
        settings = Workspace.get_by_id(workspace_setup.workspace.id).settings
        assert settings["scim.strict_rfc"] is True and settings["audit.retention_days"] == 400
        assert "sso.allow_private_network" not in settings and settings["invitations.expiry_hours"] == 48
        event = E.get(E.operation == "workspace.settings_changed")
        assert event.actor_kind == "console" and event.after["scim.default_idp"] == "okta"
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Settings saved." in html and re.search(r'id="s-scim-strict-rfc" name="scim.strict_rfc" checked', html)
    r = client.post(f"/console/w/{ws}/settings", data=dict(form, **{"audit.retention_days": "forever",
                                                                  "scim.strict_rfc": ""}))
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="audit.retention_days-error"' in html and 'value="forever"' in html
    with app.app_context(), db.connection_context():
        assert Workspace.get_by_id(workspace_setup.workspace.id).settings["scim.strict_rfc"] is True


def test_service_tokens_with_scopes_created_and_revoked(app, client, workspace_setup, mailbox):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    page = client.get(f"/console/w/{ws}/tokens")
    r = client.post(f"/console/w/{ws}/tokens", data={"label": "collector", "expires_in_days": "30",
                                                     "scopes": ["audit:read"], "csrf_token": csrf_of(page)})
    html = r.get_data(as_text=True)
    assert r.status_code == 201 and "scopes audit:read" in html
    secret = _secret(html)
    reader = AuthClient(client, secret)
    assert reader.get(f"/api/v1/workspaces/{ws}/events").status_code == 200
    assert reader.get(f"/api/v1/workspaces/{ws}/members").status_code == 403
    listing = client.get(f"/console/w/{ws}/tokens").get_data(as_text=True)
    assert secret not in listing and 'data-token="collector"' in listing
    r = client.post(f"/console/w/{ws}/tokens", data={"label": "none", "csrf_token": csrf_of(page)})
    assert r.status_code == 400 and 'id="scopes-error"' in r.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        token = Token.get(Token.label == "collector")
    r = client.post(f"/console/w/{ws}/tokens/{token.id}/revoke", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/console/w/{ws}/tokens?revoked=collector")
    assert reader.get(f"/api/v1/workspaces/{ws}/events").status_code == 401


def test_personal_tokens_are_mine_only(app, client, workspace_setup, mailbox):
    with app.app_context(), db.connection_context():
        factories.make_member(workspace_setup.workspace, "reader@acme.test", {"dev": "Readonly"})
        theirs = Token.get(Token.kind == "personal", Token.person == workspace_setup.owner.id)  # the owner's
    sign_in(client, mailbox, "reader@acme.test")
    page = client.get("/console/tokens")
    assert page.status_code == 200 and 'id="no-tokens"' in page.get_data(as_text=True)
    r = client.post("/console/tokens", data={"label": "laptop", "expires_in_days": "90", "csrf_token": csrf_of(page)})
    assert r.status_code == 201
    mine = AuthClient(client, _secret(r.get_data(as_text=True)))
    assert mine.get(f"/api/v1/workspaces/{workspace_setup.workspace.slug}/members").status_code == 200
    listing = client.get("/console/tokens").get_data(as_text=True)
    assert 'data-token="laptop"' in listing and theirs.prefix not in listing
    r = client.post(f"/console/tokens/{theirs.id}/revoke", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 404
    with app.app_context(), db.connection_context():
        assert Token.get_by_id(theirs.id).revoked_at is None
        laptop = Token.get(Token.label == "laptop")
    r = client.post(f"/console/tokens/{laptop.id}/revoke", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 302
    assert mine.get(f"/api/v1/workspaces/{workspace_setup.workspace.slug}/members").status_code == 401


def test_readonly_changes_no_setting_and_no_token(app, client, workspace_setup, mailbox):
    ws = workspace_setup.workspace.slug
    with app.app_context(), db.connection_context():
        factories.make_member(workspace_setup.workspace, "reader@acme.test", {"dev": "Readonly"})
        count = Token.select().count()
        scim = next(t for t in Token.select().where(Token.kind == "service") if t.scopes == ["scim"])
    sign_in(client, mailbox, "reader@acme.test")
    page = client.get(f"/console/w/{ws}/settings")
    html = page.get_data(as_text=True)
    assert 'id="save-settings"' not in html and "<fieldset class=\"plain\" disabled>" in html
    tokens_html = client.get(f"/console/w/{ws}/tokens").get_data(as_text=True)
    assert 'id="token-form"' not in tokens_html and "Revoke" not in tokens_html
    token = csrf_of(page)
    assert client.post(f"/console/w/{ws}/settings", data={"scim.strict_rfc": "on", "csrf_token": token}
                       ).status_code == 403
    assert client.post(f"/console/w/{ws}/tokens", data={"scopes": ["admin"], "csrf_token": token}).status_code == 403
    assert client.post(f"/console/w/{ws}/tokens/{scim.id}/revoke", data={"csrf_token": token}).status_code == 403
    with app.app_context(), db.connection_context():
        assert Token.select().count() == count and Token.get_by_id(scim.id).revoked_at is None
        assert Workspace.get_by_id(workspace_setup.workspace.id).settings["scim.strict_rfc"] is False
        assert [e.operation for e in E.select().where(E.status == 403).order_by(E.seq)] == [
            "workspace.settings_changed", "token.created", "token.revoked"]
