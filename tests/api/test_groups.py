"""Groups: listing with member counts and grants, and the roles each group grants per environment."""

import pytest

from models.db import db
from models.privileges import SYSTEM_ROLES
from tests import factories
from tests.admin_helpers import assert_error, assert_guarded, make_group, snapshot
from tests.conftest import AuthClient

GROUP_KEYS = {"id", "display_name", "external_id", "source", "member_count", "grants", "created_at", "updated_at"}


def test_list_groups(world):
    r = world.c.readonly.get(world.base + "/groups")
    assert r.status_code == 200
    assert (r.json["total"], r.json["page"], r.json["page_size"]) == (1, 1, 50)
    [group] = r.json["items"]
    assert set(group) == GROUP_KEYS
    assert (group["id"], group["display_name"], group["external_id"]) == (world.group.id, "Engineering", None)
    assert group["member_count"] == 1
    assert group["grants"] == {"dev": "NoAccess", "test": "NoAccess", "prod": "Readonly"}


def test_groups_are_ordered_by_name_and_paginated(world):
    with world.app.app_context(), db.connection_context():
        make_group(world.ws, "sales", [world.member, world.readonly])
        make_group(world.ws, "Admins", [])
    path = world.base + "/groups"
    names = [g["display_name"] for g in world.c.owner.get(path).json["items"]]
    assert names == ["Admins", "Engineering", "sales"]
    pages = [world.c.owner.get(path, query_string={"page": n, "page_size": 2}).json for n in (1, 2, 3)]
    assert [[g["display_name"] for g in p["items"]] for p in pages] == [["Admins", "Engineering"], ["sales"], []]
    assert {p["total"] for p in pages} == {3}
    assert pages[1]["items"][0]["member_count"] == 2


@pytest.mark.parametrize("query", [{"page": 0}, {"page": "x"}, {"page_size": 0}, {"page_size": 201}])
def test_list_groups_bad_query(world, query):
    assert_error(world.c.owner.get(world.base + "/groups", query_string=query), 422)


def test_get_group_and_grants(world):
    r = world.c.member.get(f"{world.base}/groups/{world.group.id}")
    assert r.status_code == 200
    assert set(r.json) == GROUP_KEYS and r.json["display_name"] == "Engineering" and r.json["member_count"] == 1
    r = world.c.readonly.get(f"{world.base}/groups/{world.group.id}/grants")
    assert r.status_code == 200
    assert r.json == {"roles": {"dev": "NoAccess", "test": "NoAccess", "prod": "Readonly"}}


@pytest.mark.parametrize("group_id", ["nope", "0" * 36, "x" * 65, "other"])
def test_unknown_or_foreign_group_is_404(world, group_id):
    if group_id == "other":
        group_id = world.other_group.id
    before = snapshot()
    path = f"{world.base}/groups/{group_id}"
    for client in (world.c.owner, world.c.admin):
        assert_error(client.get(path), 404)
        assert_error(client.get(path + "/grants"), 404)
        assert_error(client.put(path + "/grants", json={"env_roles": []}), 404)
    assert snapshot() == before


@pytest.mark.parametrize("method, suffix, body, write", [
    ("GET", "/groups", None, False),
    ("GET", "/groups/{id}", None, False),
    ("GET", "/groups/{id}/grants", None, False),
    ("PUT", "/groups/{id}/grants", {"env_roles": [{"environment_type": "dev", "name": "Admin"}]}, True),
])
def test_group_endpoints_are_guarded(world, method, suffix, body, write):
    assert_guarded(world, method, world.base + suffix.format(id=world.group.id), json=body, write=write)


def test_replace_grants(world):
    path = f"{world.base}/groups/{world.group.id}/grants"
    r = world.c.owner.put(path, json={"env_roles": [{"environment_type": "test", "name": "member"},
                                                    {"environment_type": "dev", "name": "Operator"}]})
    assert r.status_code == 200, r.json
    # Left-out environments grant nothing: prod's Readonly is gone.
    assert r.json == {"roles": {"dev": "Operator", "test": "Member", "prod": "NoAccess"}}
    assert world.c.owner.get(path).json == r.json
    report = {e["environment"]: e for e in world.c.owner.get(
        f"{world.base}/members/{world.operator.id}/privileges").json}
    assert report["test"]["privileges"] == sorted(SYSTEM_ROLES["Member"][1])
    assert report["test"]["sources"][0]["group"] == "Engineering"
    assert report["prod"] == {"environment": "prod", "privileges": [], "sources": [], "resources": []}
    assert [s["type"] for s in report["dev"]["sources"]] == ["direct", "group"]
    cleared = world.c.admin.put(path, json={"env_roles": []})
    assert cleared.json == {"roles": {"dev": "NoAccess", "test": "NoAccess", "prod": "NoAccess"}}


@pytest.mark.parametrize("env_roles, status, message", [
    ([{"environment_type": "dev", "name": "Ghost"}], 400, "Role Ghost not found"),
    ([{"environment_type": "qa", "name": "Admin"}], 400, "Environment qa not found"),
    ([{"environment_type": "dev", "name": "Member"}, {"environment_type": "test", "name": "Ghost"}], 400,
     "Role Ghost not found"),
    ([{"environment_type": "dev", "name": "Member"}, {"environment_type": "dev", "name": "Member"}], 400,
     "Environment dev listed twice"),
    ([{"environment_type": "dev", "name": "Other\x00"}], 422, None),
    ([{"environment_type": "dev"}], 422, None),
    ([{"environment_type": "dev", "name": "x" * 101}], 422, None),
    ([["dev", "Member"]], 422, None),
    ({"dev": "Member"}, 422, None),
    (None, 422, None),
])
def test_replace_grants_bad_input_writes_nothing(world, env_roles, status, message):
    before = snapshot()
    error = assert_error(world.c.owner.put(f"{world.base}/groups/{world.group.id}/grants",
                                           json={"env_roles": env_roles}), status)
    if message:
        assert error["message"] == message
    assert snapshot() == before


def test_grant_rights_are_checked_per_environment_and_role(world):
    with world.app.app_context(), db.connection_context():
        factories.make_role(world.ws, "Group manager", ["groups:read", "groups:manage"])
        _, person = factories.make_member(world.ws, "gm@acme.test", {"dev": "Group manager"})
        manager = AuthClient(world.client, factories.make_personal_token(person))
    path = f"{world.base}/groups/{world.group.id}/grants"
    before = snapshot()
    # Changing prod (Readonly -> nothing) needs groups:manage in prod.
    error = assert_error(manager.put(path, json={"env_roles": []}), 403)
    assert error["message"] == "Missing privilege groups:manage in environment prod"
    # Granting Admin in dev would hand out privileges the manager lacks.
    error = assert_error(manager.put(path, json={"env_roles": [{"environment_type": "dev", "name": "Admin"},
                                                               {"environment_type": "prod",
                                                                "name": "Readonly"}]}), 403)
    assert error["message"].startswith("Cannot grant Admin in environment dev")
    assert snapshot() == before
    r = manager.put(path, json={"env_roles": [{"environment_type": "dev", "name": "Group manager"},
                                              {"environment_type": "prod", "name": "Readonly"}]})
    assert r.status_code == 200 and r.json["roles"]["dev"] == "Group manager"
