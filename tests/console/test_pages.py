"""Console pages over the same services and privileges as the admin API: a Readonly member sees no write
controls and a forged POST is refused (403, nothing changes, the refusal is logged); other workspaces are 404
pages; form errors come back beside their field; every invitation state has its page."""

import datetime
import re

import pytest

from models.access import Invitation
from models.db import db
from models.directory import Member
from models.events import ProvisioningEvent
from models.services import members as members_svc
from tests import factories
from tests.console.helpers import csrf_of, sign_in

OWNER = "owner@acme.test"


@pytest.fixture
def readonly(app, workspace_setup):
    with app.app_context(), db.connection_context():
        member, person = factories.make_member(workspace_setup.workspace, "reader@acme.test", {"dev": "Readonly"})
    return member


def test_readonly_sees_no_write_controls_and_forged_posts_change_nothing(app, client, workspace_setup, readonly,
                                                                         mailbox):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, "reader@acme.test")
    page = client.get(f"/console/w/{ws}/members")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "reader@acme.test" in html
    assert 'id="invite-button"' not in html and "method=\"post\"" not in html.split("</header>")[1]
    owner = [m for m in re.findall(r'/console/w/[^/]+/members/([0-9a-f-]{36})', html)]
    member_page = client.get(f"/console/w/{ws}/members/{readonly.id}")
    assert 'id="roles-form"' not in member_page.get_data(as_text=True)
    assert 'id="remove-button"' not in member_page.get_data(as_text=True)
    assert client.get(f"/console/w/{ws}/members/invite").status_code == 403
    token = csrf_of(page)
    r = client.post(f"/console/w/{ws}/members/invite",
                    data={"email": "x@example.test", "role-dev": "Admin", "csrf_token": token})
    assert r.status_code == 403 and "members:invite" in r.get_data(as_text=True)
    r = client.post(f"/console/w/{ws}/members/{readonly.id}/roles", data={"role-dev": "Admin", "csrf_token": token})
    assert r.status_code == 403
    r = client.post(f"/console/w/{ws}/members/{owner[0]}/remove", data={"csrf_token": token})
    assert r.status_code == 403
    with app.app_context(), db.connection_context():
        assert Invitation.select().count() == 0
        assert members_svc.env_role_map(workspace_setup.workspace, readonly) == {"dev": "Readonly"}
        assert Member.select().count() == 2
        refused = list(ProvisioningEvent.select().where(ProvisioningEvent.status == 403)
                       .order_by(ProvisioningEvent.seq))
        assert [(e.operation, e.actor_kind, e.actor_email) for e in refused] == [
            ("invitation.sent", "console", "reader@acme.test"),
            ("member.roles_changed", "console", "reader@acme.test"),
            ("member.removed", "console", "reader@acme.test")]


def test_other_workspaces_and_unknown_ids_are_404_pages(app, client, workspace_setup, mailbox):
    with app.app_context(), db.connection_context():
        other, _ = factories.make_workspace("Other", owner_email="boss@other.test")
        stranger, _ = factories.make_member(other, "someone@other.test")
    sign_in(client, mailbox, OWNER)
    ws = workspace_setup.workspace.slug
    for path in (f"/console/w/{other.slug}/", f"/console/w/{other.id}/members", "/console/w/nope/",
                 f"/console/w/{ws}/members/{stranger.id}", f"/console/w/{ws}/members/x%00y",
                 f"/console/w/{ws}/members/{'a' * 300}"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "text/html" in r.content_type and "Page not found" in r.get_data(as_text=True)


def test_invite_form_errors_stay_beside_their_field(app, client, workspace_setup, mailbox):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    page = client.get(f"/console/w/{ws}/members/invite")
    token = csrf_of(page)
    r = client.post(f"/console/w/{ws}/members/invite",
                    data={"email": "bad", "name": "Zed", "role-dev": "Member", "csrf_token": token})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="email-error"' in html and 'value="bad"' in html and 'value="Zed"' in html
    assert re.search(r'<option selected>Member</option>', html)
    r = client.post(f"/console/w/{ws}/members/invite",
                    data={"email": "zed@example.test", "role-dev": "Nonexistent", "csrf_token": token})
    assert r.status_code == 400 and "Role Nonexistent not found" in r.get_data(as_text=True)
    r = client.post(f"/console/w/{ws}/members/invite", data={"email": OWNER, "csrf_token": token})
    assert r.status_code == 409 and 'id="email-error"' in r.get_data(as_text=True)
    r = client.post(f"/console/w/{ws}/members/invite",
                    data={"email": "zed@example.test", "role-dev": "Member", "csrf_token": token})
    assert r.status_code == 302
    mail = mailbox.last_to("zed@example.test")["body"]
    assert "/invitations/accept?token=" in mail and "curl" not in mail and "POST" not in mail
    assert "Member in dev" in mail
    r = client.post(f"/console/w/{ws}/members/invite",
                    data={"email": "zed@example.test", "role-dev": "Member", "csrf_token": token})
    assert r.status_code == 429 and "less than 20 minutes ago" in r.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        sent = ProvisioningEvent.get(ProvisioningEvent.operation == "invitation.sent", ProvisioningEvent.status == 200)
        assert sent.actor_kind == "console" and sent.actor_email == OWNER
        assert sent.actor_token_label == "console session"


def _invite(app, workspace_setup, mailbox, email="zoe@example.test"):
    r = workspace_setup.owner_client.post(f"/api/v1/workspaces/{workspace_setup.workspace.slug}/invitations",
                                          json={"email": email, "env_roles": [
                                              {"environment_type": "dev", "name": "Member"}]})
    assert r.status_code == 201, r.json
    body = mailbox.last_to(email)["body"]
    return re.search(r"/invitations/accept\?token=([A-Za-z0-9_-]+)", body).group(1), r.json["id"]


def test_invitation_page_states(app, client, workspace_setup, mailbox):
    token, inv_id = _invite(app, workspace_setup, mailbox)
    page = client.get(f"/invitations/accept?token={token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Acme" in html and OWNER in html and "Member" in html
    assert client.get("/invitations/accept?token=nonsense").status_code == 404
    assert client.get("/invitations/accept").status_code == 404
    with app.app_context(), db.connection_context():
        Invitation.update(expires_at=datetime.datetime(2000, 1, 1)).execute()
    r = client.get(f"/invitations/accept?token={token}")
    assert r.status_code == 410 and "expired" in r.get_data(as_text=True)
    r = client.post("/invitations/accept", data={"token": token, "csrf_token": csrf_of(page)})
    assert r.status_code == 410
    with app.app_context(), db.connection_context():
        Invitation.update(expires_at=datetime.datetime(2100, 1, 1), status="revoked").execute()
    r = client.get(f"/invitations/accept?token={token}")
    assert r.status_code == 410 and "withdrawn" in r.get_data(as_text=True)


def test_accept_signs_a_newcomer_in_and_lands_in_the_workspace(app, client, workspace_setup, mailbox):
    token, _ = _invite(app, workspace_setup, mailbox)
    page = client.get(f"/invitations/accept?token={token}")
    r = client.post("/invitations/accept", data={"token": token, "csrf_token": csrf_of(page)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/console/w/{workspace_setup.workspace.slug}/"
                                                                   "?welcome=1")
    assert "Welcome to Acme" in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.get(f"/invitations/accept?token={token}")
    assert r.status_code == 409 and "already accepted" in r.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        event = ProvisioningEvent.get(ProvisioningEvent.operation == "invitation.accepted")
        assert event.actor_kind == "console"


def test_accept_by_someone_with_other_workspaces_asks_for_the_code(app, client, workspace_setup, mailbox):
    with app.app_context(), db.connection_context():
        factories.make_workspace("Elsewhere", owner_email="zoe@example.test")
    token, _ = _invite(app, workspace_setup, mailbox)
    page = client.get(f"/invitations/accept?token={token}")
    r = client.post("/invitations/accept", data={"token": token, "csrf_token": csrf_of(page)})
    assert r.status_code == 302 and r.headers["Location"].startswith("/console/signin/code?email=zoe")
    assert not any(h.startswith("roster_session=") and "Expires=Thu, 01 Jan 1970" not in h
                   for h in r.headers.getlist("Set-Cookie"))
    assert "sign-in code" in mailbox.last_to("zoe@example.test")["body"]


def test_members_search_filters_and_paging(app, client, workspace_setup, mailbox):
    ws = workspace_setup.workspace
    with app.app_context(), db.connection_context():
        for i in range(30):
            factories.make_member(ws, f"user{i:02d}@acme.test", {"dev": "Member"},
                                  status="suspended" if i % 10 == 0 else "active")
    sign_in(client, mailbox, OWNER)
    html = client.get(f"/console/w/{ws.slug}/members").get_data(as_text=True)
    assert "1–25 of 31 members" in html and "Page 1 of 2" in html
    html = client.get(f"/console/w/{ws.slug}/members?page=2").get_data(as_text=True)
    assert "26–31 of 31 members" in html
    html = client.get(f"/console/w/{ws.slug}/members?email=USER1&status=active").get_data(as_text=True)
    assert "of 9 members" in html and 'data-member="user10@acme.test"' not in html
    html = client.get(f"/console/w/{ws.slug}/members?role=Admin&environment=dev").get_data(as_text=True)
    assert "1–1 of 1 member" in html
    assert client.get(f"/console/w/{ws.slug}/members?page=-3&status=bogus").status_code == 200


def test_change_roles_and_remove(app, client, workspace_setup, mailbox):
    ws = workspace_setup.workspace
    with app.app_context(), db.connection_context():
        member, _ = factories.make_member(ws, "ann@acme.test", {"dev": "Member"})
    sign_in(client, mailbox, OWNER)
    page = client.get(f"/console/w/{ws.slug}/members/{member.id}")
    assert "member.added" in page.get_data(as_text=True)
    r = client.post(f"/console/w/{ws.slug}/members/{member.id}/roles",
                    data={"role-dev": "Readonly", "csrf_token": csrf_of(page)})
    assert r.status_code == 302
    assert "Roles saved." in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.post(f"/console/w/{ws.slug}/members/{member.id}/remove", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 302
    with app.app_context(), db.connection_context():
        assert Member.get_or_none(Member.id == member.id) is None
        ops = [e.operation for e in ProvisioningEvent.select().where(ProvisioningEvent.actor_kind == "console")
               .order_by(ProvisioningEvent.seq)]
        assert ops == ["role.revoked", "role.granted", "member.removed"]
        owner = members_svc.find_owner(ws)
    r = client.post(f"/console/w/{ws.slug}/members/{owner.id}/remove", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 409 and "transfer ownership first" in r.get_data(as_text=True)


def test_overview_draws_activity(app, client, workspace_setup, mailbox):
    r = workspace_setup.scim_client.post("/scim/v2/Users", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "sc@acme.test"})
    assert r.status_code == 201
    sign_in(client, mailbox, OWNER)
    html = client.get(f"/console/w/{workspace_setup.workspace.slug}/").get_data(as_text=True)
    assert '<svg class="chart"' in html and 'class="bar created"' in html
    assert 'id="stat-members">2<' in html
