"""Groups and roles pages: a group's grants are edited through replace_grants (an event with the console as
channel), its members listed read-only and paged; custom roles are created, edited and deleted, deleting one in
use is refused on the page; system roles are read-only; a Readonly member sees no forms and forged posts fail."""

import re

import pytest

from models.db import db
from models.directory import Role
from models.events import ProvisioningEvent as E
from models.services import groups as groups_svc
from tests import factories
from tests.console.helpers import csrf_of, sign_in

OWNER = "owner@acme.test"


@pytest.fixture
def engineering(app, workspace_setup):
    """A group pushed over SCIM with two members."""
    s = workspace_setup
    ids = []
    for email in ("ada@acme.test", "grace@acme.test"):
        r = s.scim_client.post("/scim/v2/Users", json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email})
        ids.append(r.json["id"])
    r = s.scim_client.post("/scim/v2/Groups", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering",
        "members": [{"value": i} for i in ids]})
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_group_grants_are_edited_and_members_listed(app, client, workspace_setup, engineering, mailbox,
                                                    monkeypatch):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    listing = client.get(f"/console/w/{ws}/groups").get_data(as_text=True)
    assert 'data-group="Engineering"' in listing and "1–1 of 1 group" in listing
    page = client.get(f"/console/w/{ws}/groups/{engineering}")
    html = page.get_data(as_text=True)
    assert 'id="grants-form"' in html and 'data-member="ada@acme.test"' in html and "2 members" in html
    r = client.post(f"/console/w/{ws}/groups/{engineering}/grants",
                    data={"role-dev": "Member", "csrf_token": csrf_of(page)})
    assert r.status_code == 302 and r.headers["Location"].endswith("saved=1")
    with app.app_context(), db.connection_context():
        group = groups_svc.get_group(workspace_setup.workspace, engineering)
        assert groups_svc.grants_of(workspace_setup.workspace, group) == {"dev": "Member"}
        event = E.get(E.operation == "group.grants_changed")
        assert event.actor_kind == "console" and event.after == {"dev": "Member"}
    assert '<option selected>Member</option>' in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.post(f"/console/w/{ws}/groups/{engineering}/grants",
                    data={"role-dev": "Ghost", "csrf_token": csrf_of(page)})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="grants-error"' in html and "Role Ghost not found" in html

    import console.groups_roles
    monkeypatch.setattr(console.groups_roles, "PAGE_SIZE", 1)
    second = client.get(f"/console/w/{ws}/groups/{engineering}?page=2").get_data(as_text=True)
    assert 'data-member="grace@acme.test"' in second and 'data-member="ada@acme.test"' not in second
    assert "2–2 of 2 members" in second
    assert client.get(f"/console/w/{ws}/groups/nope").status_code == 404


def test_custom_roles_created_edited_and_deletion_refused_in_use(app, client, workspace_setup, engineering,
                                                                  mailbox):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    page = client.get(f"/console/w/{ws}/roles/new")
    token = csrf_of(page)
    r = client.post(f"/console/w/{ws}/roles/new", data={"name": "", "privileges": ["audit:read"],
                                                        "csrf_token": token})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="name-error"' in html
    assert re.search(r'value="audit:read" id="p-audit-read" checked', html)  # refilled
    r = client.post(f"/console/w/{ws}/roles/new", data={"name": "Auditor", "description": "Reads the log",
                                                        "privileges": ["audit:read", "audit:export"],
                                                        "csrf_token": token})
    assert r.status_code == 302
    role_page = client.get(r.headers["Location"])
    assert "Role created." in role_page.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        role = Role.get(Role.name == "Auditor")
        assert sorted(role.privileges) == ["audit:export", "audit:read"]
    r = client.post(f"/console/w/{ws}/roles/new", data={"name": "auditor", "csrf_token": token})
    assert r.status_code == 409 and 'id="name-error"' in r.get_data(as_text=True)
    r = client.post(f"/console/w/{ws}/roles/{role.id}", data={"name": "Auditors", "privileges": ["audit:read"],
                                                             "csrf_token": token})
    assert r.status_code == 302
    with app.app_context(), db.connection_context():
        assert Role.get_by_id(role.id).privileges == ["audit:read"] and Role.get_by_id(role.id).name == "Auditors"

    r = client.post(f"/console/w/{ws}/groups/{engineering}/grants", data={"role-dev": "Auditors",
                                                                          "csrf_token": token})
    assert r.status_code == 302
    roles_html = client.get(f"/console/w/{ws}/roles").get_data(as_text=True)
    row = roles_html.split('data-role="Auditors"')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["0", "1"]
    r = client.post(f"/console/w/{ws}/roles/{role.id}/delete", data={"csrf_token": token})
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and 'id="delete-error"' in html and "is in use" in html
    client.post(f"/console/w/{ws}/groups/{engineering}/grants", data={"role-dev": "NoAccess", "csrf_token": token})
    r = client.post(f"/console/w/{ws}/roles/{role.id}/delete", data={"csrf_token": token})
    assert r.status_code == 302 and "deleted=Auditors" in r.headers["Location"]
    with app.app_context(), db.connection_context():
        assert Role.get_or_none(Role.id == role.id) is None
        done = E.select().where(E.operation.startswith("role."), E.status < 400).order_by(E.seq)
        assert [(e.operation, e.actor_kind) for e in done] == [
            ("role.created", "console"), ("role.updated", "console"), ("role.deleted", "console")]
        refused = E.select().where(E.operation.startswith("role."), E.status == 409).order_by(E.seq)
        assert [e.operation for e in refused] == ["role.created", "role.deleted"]

    admin = client.get(f"/console/w/{ws}/roles").get_data(as_text=True)
    admin_id = re.search(r'href="/console/w/[^/]+/roles/([0-9a-f-]{36})"><strong>Admin', admin).group(1)
    html = client.get(f"/console/w/{ws}/roles/{admin_id}").get_data(as_text=True)
    assert "system roles cannot be changed" in html and 'id="save-role"' not in html and " disabled" in html
    r = client.post(f"/console/w/{ws}/roles/{admin_id}", data={"name": "Boss", "csrf_token": token})
    assert r.status_code == 400 and "system role" in r.get_data(as_text=True)


def test_readonly_sees_no_forms_and_forged_posts_change_nothing(app, client, workspace_setup, engineering,
                                                                  mailbox):
    ws = workspace_setup.workspace.slug
    with app.app_context(), db.connection_context():
        factories.make_member(workspace_setup.workspace, "reader@acme.test", {"dev": "Readonly"})
        custom = factories.make_role(workspace_setup.workspace, "Custom", ["groups:read"])
    sign_in(client, mailbox, "reader@acme.test")
    page = client.get(f"/console/w/{ws}/groups/{engineering}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="grants-form"' not in html and 'id="grants-readonly"' in html
    html = client.get(f"/console/w/{ws}/roles").get_data(as_text=True)
    assert 'id="new-role"' not in html
    assert 'id="save-role"' not in client.get(f"/console/w/{ws}/roles/{custom.id}").get_data(as_text=True)
    assert client.get(f"/console/w/{ws}/roles/new").status_code == 403
    token = csrf_of(page)
    for path, data in ((f"groups/{engineering}/grants", {"role-dev": "Admin"}), ("roles/new", {"name": "X"}),
                       (f"roles/{custom.id}", {"name": "Y"}), (f"roles/{custom.id}/delete", {})):
        assert client.post(f"/console/w/{ws}/{path}", data=dict(data, csrf_token=token)).status_code == 403, path
    with app.app_context(), db.connection_context():
        assert Role.get_by_id(custom.id).name == "Custom" and Role.select().count() == 4
        refused = [e.operation for e in E.select().where(E.status == 403).order_by(E.seq)]
        assert refused == ["group.grants_changed", "role.created", "role.updated", "role.deleted"]
