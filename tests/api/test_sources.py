"""Where members and groups came from (`source`), and the migration that backfilled it."""

from models.db import db
from models.directory import Group, Member
from tests import factories

OKTA = {"User-Agent": "Okta SCIM Client 1.0.0"}


def test_scim_creations_belong_to_the_idp_that_pushed_them(workspace_setup):
    s = workspace_setup
    user = s.scim_client.post("/scim/v2/Users", json={"userName": "ann@acme.test"}, headers=OKTA)
    group = s.scim_client.post("/scim/v2/Groups", json={"displayName": "Eng"})
    assert user.status_code == 201 and group.status_code == 201
    members = {m["user_name"]: m for m in s.owner_client.get("/api/v1/workspaces/acme/members").json["items"]}
    assert members["owner@acme.test"]["source"] == "owner" and members["owner@acme.test"]["type"] == "owner"
    assert members["ann@acme.test"]["source"] == "scim:okta" and members["ann@acme.test"]["type"] == "standard"
    [listed] = s.owner_client.get("/api/v1/workspaces/acme/groups").json["items"]
    assert listed["source"] == "scim:unknown"
    r = s.owner_client.patch(f"/api/v1/workspaces/acme/groups/{listed['id']}", json={"display_name": "x"})
    assert (r.status_code, r.json["message"]) == (409, "Managed by the SCIM client: change it in the identity "
                                                       "provider")


def test_backfill_names_the_idp_the_log_recorded(workspace_setup, app):
    import importlib
    backfill = importlib.import_module("models.migrations.0005_member_lifecycle").backfill
    s = workspace_setup
    s.scim_client.post("/scim/v2/Users", json={"userName": "ann@acme.test"}, headers=OKTA)
    s.scim_client.post("/scim/v2/Groups", json={"displayName": "Eng"}, headers=OKTA)
    with app.app_context(), db.connection_context():
        factories.make_member(s.workspace, "bob@acme.test")
        # As before the migration: every row at the column default.
        Member.update(source="admin", type="standard").execute()
        Group.update(source="admin").execute()
        backfill(db)
        got = dict(Member.select(Member.user_name, Member.source).tuples())
        types = dict(Member.select(Member.user_name, Member.type).tuples())
        assert got == {"owner@acme.test": "owner", "ann@acme.test": "scim:okta", "bob@acme.test": "scim:unknown"}
        assert types["owner@acme.test"] == "owner" and types["ann@acme.test"] == "standard"
        assert [g.source for g in Group.select()] == ["scim:okta"]
