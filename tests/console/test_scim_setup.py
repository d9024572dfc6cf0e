"""SCIM setup: a `scim` token is created (its secret on that answer only, stored hashed, working at /scim/v2),
listed and revoked; the base URL and the guide of each IdP carry this Roster's URL and workspace; the recent
requests panel shows each IdP's latest requests with status and quirks; Readonly members create nothing."""

import re

from models.access import Token
from models.db import db
from models.events import ProvisioningEvent as E
from tests import factories
from tests.conftest import AuthClient
from tests.console.helpers import csrf_of, sign_in

OWNER = "owner@acme.test"


def test_create_use_and_revoke_a_scim_token(app, client, workspace_setup, mailbox):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    page = client.get(f"/console/w/{ws}/scim")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f'value="{app.config["PUBLIC_URL"]}/scim/v2"' in html
    assert 'src="/console/static/console.js"' in html and "<script>" not in html
    r = client.post(f"/console/w/{ws}/scim/tokens", data={"label": "okta", "expires_in_days": "90",
                                                           "csrf_token": csrf_of(page)})
    html = r.get_data(as_text=True)
    assert r.status_code == 201 and 'id="created-token"' in html
    secret = re.search(r'id="token-secret" class="mono" type="text" readonly value="(rst_svc_[^"]+)"', html).group(1)
    assert r.headers["Cache-Control"] == "no-store"
    with app.app_context(), db.connection_context():
        token = Token.get(Token.label == "okta")
        assert token.scopes == ["scim"] and secret not in (token.token_hash, token.prefix)
        created = E.get(E.operation == "token.created", E.target_id == token.id)
        assert created.actor_kind == "console" and created.actor_email == OWNER
    scim = AuthClient(client, secret, "application/scim+json")
    assert scim.get("/scim/v2/Users").status_code == 200
    again = client.get(f"/console/w/{ws}/scim").get_data(as_text=True)
    assert secret not in again and 'data-token="okta"' in again  # shown once, listed after

    r = client.post(f"/console/w/{ws}/tokens/{token.id}/revoke", data={"back": "scim", "csrf_token": csrf_of(page)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/console/w/{ws}/scim?revoked=okta")
    assert scim.get("/scim/v2/Users").status_code == 401
    assert 'data-token="okta"' not in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.post(f"/console/w/{ws}/tokens/nope/revoke", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 404 and "text/html" in r.content_type


def test_token_form_errors_and_readonly_refusal(app, client, workspace_setup, mailbox):
    ws = workspace_setup.workspace.slug
    with app.app_context(), db.connection_context():
        factories.make_member(workspace_setup.workspace, "reader@acme.test", {"dev": "Readonly"})
    sign_in(client, mailbox, OWNER)
    page = client.get(f"/console/w/{ws}/scim")
    r = client.post(f"/console/w/{ws}/scim/tokens", data={"label": "x", "expires_in_days": "99999",
                                                           "csrf_token": csrf_of(page)})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "field-error" in html and 'value="x"' in html
    with app.app_context(), db.connection_context():
        before = Token.select().count()
    client.post("/console/signout", data={"csrf_token": csrf_of(page)})
    sign_in(client, mailbox, "reader@acme.test")
    page = client.get(f"/console/w/{ws}/scim")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="token-form"' not in html and "Revoke" not in html
    r = client.post(f"/console/w/{ws}/scim/tokens", data={"label": "sneaky", "csrf_token": csrf_of(page)})
    assert r.status_code == 403
    with app.app_context(), db.connection_context():
        assert Token.select().count() == before
        refused = E.get(E.operation == "token.created", E.status == 403)
        assert refused.actor_email == "reader@acme.test"


def test_guides_name_this_roster_and_workspace(app, client, workspace_setup, mailbox):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    for idp, heading in (("entra", "Microsoft Entra ID"), ("okta", "Okta"), ("onelogin", "OneLogin"),
                         ("jumpcloud", "JumpCloud"), ("google", "Google Workspace")):
        html = client.get(f"/console/w/{ws}/scim?idp={idp}").get_data(as_text=True)
        guide = html.split('id="guide"')[1].split("</article>")[0]
        assert f"<h1>Provisioning from {heading}</h1>" in guide, idp
        assert "roster.example.com" not in guide and "<script" not in guide
        assert idp == "google" or f"{app.config['PUBLIC_URL']}/scim/v2" in guide
        assert f'id="guide-{idp}" aria-current="page"' in html or f'aria-current="page" id="guide-{idp}"' in html


def test_recent_requests_panel_per_idp(app, client, workspace_setup, mailbox):
    s, ws = workspace_setup, workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    assert 'id="recent-empty"' in client.get(f"/console/w/{ws}/scim/recent").get_data(as_text=True)
    r = client.post("/scim/v2/Users", headers={"Authorization": f"Bearer {s.scim_token}",
                                                "User-Agent": "Okta SCIM Client 1.0.0",
                                                "Content-Type": "application/scim+json"},
                    json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "kim@acme.test"})
    assert r.status_code == 201, r.json
    kim = r.json["id"]
    r = client.post("/scim/v2/Users", headers={"Authorization": f"Bearer {s.scim_token}",
                                                "User-Agent": "Microsoft Azure AD SCIM provisioning",
                                                "Content-Type": "application/scim+json"},
                    json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "kim@acme.test"})
    assert r.status_code == 409
    r = client.patch(f"/scim/v2/Users/{kim}", headers={"Authorization": f"Bearer {s.scim_token}",
                                                       "User-Agent": "Microsoft Azure AD SCIM provisioning",
                                                       "Content-Type": "application/scim+json"},
                     json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                           "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    assert r.status_code == 200, r.json
    panel = client.get(f"/console/w/{ws}/scim/recent")
    html = panel.get_data(as_text=True)
    assert panel.status_code == 200 and "<html" not in html
    assert 'data-idp="okta"' in html and 'data-idp="entra"' in html and "Refused 409" in html
    assert "kim@acme.test" in html and "<li>entra.op_case</li>" in html and "<li>entra.boolean_as_string</li>" in html
    entra = html.split('data-idp="entra"')[1]
    assert entra.index("user.deactivated") < entra.index("Refused 409")  # newest first

