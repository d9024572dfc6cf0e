"""Roles: the privilege catalogue, system roles, custom roles and their privileges, refusal to delete in use."""

import pytest

from models.db import db
from models.privileges import SYSTEM_ROLES, catalogue_listing
from tests import factories
from tests.admin_helpers import assert_error, assert_guarded, make_group, snapshot
from tests.conftest import AuthClient

ROLE_KEYS = {"id", "name", "description", "privileges", "is_system", "created_at", "updated_at"}


def _role_id(world, name):
    return {r["name"]: r["id"] for r in world.c.owner.get(world.base + "/roles").json}[name]


def test_privilege_catalogue(world):
    r = world.c.noaccess.get("/api/v1/privileges")
    assert r.status_code == 200
    assert r.json == catalogue_listing()
    members = next(e for e in r.json if e["resource"] == "members")
    assert members == {"resource": "members", "actions": ["read", "invite", "update", "remove"],
                       "privileges": ["members:read", "members:invite", "members:update", "members:remove"]}
    assert world.c.other_admin.get("/api/v1/privileges").json == r.json
    for name in ("anon", "invalid", "revoked", "expired"):
        assert_error(world.clients[name].get("/api/v1/privileges"), 401)
    assert_error(world.c.scim.get("/api/v1/privileges"), 403)


def test_list_roles_system_first(world):
    r = world.c.readonly.get(world.base + "/roles")
    assert r.status_code == 200
    assert [(x["name"], x["is_system"]) for x in r.json] == [
        ("Admin", True), ("Member", True), ("Readonly", True), ("Operator", False)]
    assert all(set(x) == ROLE_KEYS for x in r.json)
    by_name = {x["name"]: x for x in r.json}
    for name, (description, privileges) in SYSTEM_ROLES.items():
        assert by_name[name]["privileges"] == sorted(privileges)
        assert by_name[name]["description"] == description
    assert by_name["Operator"]["privileges"] == ["members:read", "members:update"]


def test_get_role(world):
    r = world.c.member.get(f"{world.base}/roles/{world.operator_role.id}")
    assert r.status_code == 200
    assert set(r.json) == ROLE_KEYS
    assert (r.json["id"], r.json["name"], r.json["is_system"]) == (world.operator_role.id, "Operator", False)


@pytest.mark.parametrize("role_id", ["nope", "0" * 36, "x" * 300, "other"])
def test_unknown_or_foreign_role_is_404(world, role_id):
    if role_id == "other":
        role_id = world.other_role.id
    before = snapshot()
    path = f"{world.base}/roles/{role_id}"
    for client in (world.c.owner, world.c.admin):
        assert_error(client.get(path), 404)
        assert_error(client.patch(path, json={"name": "X"}), 404)
        assert_error(client.delete(path), 404)
        assert_error(client.post(path + "/privileges", json={"privileges": ["members:read"]}), 404)
        assert_error(client.delete(path + "/privileges", json={"privileges": ["members:read"]}), 404)
    assert snapshot() == before


@pytest.mark.parametrize("method, suffix, body, write", [
    ("GET", "/roles", None, False),
    ("GET", "/roles/{id}", None, False),
    ("POST", "/roles", {"name": "New", "privileges": ["members:read"]}, True),
    ("PATCH", "/roles/{id}", {"name": "Renamed"}, True),
    ("DELETE", "/roles/{id}", None, True),
    ("POST", "/roles/{id}/privileges", {"privileges": ["members:remove"]}, True),
    ("DELETE", "/roles/{id}/privileges", {"privileges": ["members:read"]}, True),
])
def test_role_endpoints_are_guarded(world, method, suffix, body, write):
    with world.app.app_context(), db.connection_context():
        unused = factories.make_role(world.ws, "Unused", ["members:read"])
    assert_guarded(world, method, world.base + suffix.format(id=unused.id), json=body, write=write)


# -- create ----------------------------------------------------------------------------------------------------

def test_create_role(world):
    r = world.c.owner.post(world.base + "/roles", json={
        "name": " Auditor ", "description": "Reads the log",
        "privileges": ["audit:read", "audit:export", "audit:read", "members:read"]})
    assert r.status_code == 201, r.json
    assert set(r.json) == ROLE_KEYS
    assert (r.json["name"], r.json["description"], r.json["is_system"]) == ("Auditor", "Reads the log", False)
    assert r.json["privileges"] == ["audit:export", "audit:read", "members:read"]
    assert world.c.owner.get(f"{world.base}/roles/{r.json['id']}").json == r.json
    bare = world.c.admin.post(world.base + "/roles", json={"name": "Nothing"})
    assert bare.status_code == 201 and bare.json["privileges"] == [] and bare.json["description"] == ""
    # The new role can be granted at once.
    granted = world.c.owner.put(f"{world.base}/members/{world.noaccess.id}/roles", json={
        "env_roles": [{"environment_type": "test", "name": "auditor"}]})
    assert granted.json["roles"]["test"] == "Auditor"


@pytest.mark.parametrize("body, status, message", [
    ({"name": "operator"}, 409, "Role operator already exists"),
    ({"name": "ADMIN"}, 409, "Role ADMIN already exists"),
    ({"name": "NoAccess"}, 400, "NoAccess is reserved"),
    ({"name": "   "}, 400, "Invalid name"),
    ({"name": "Bad", "privileges": ["members:fly"]}, 400, "Unknown privileges"),
    ({"name": "Bad", "privileges": ["members"]}, 400, "Unknown privileges"),
    ({"name": "Bad", "privileges": "members:read"}, 422, None),
    ({"name": "Bad", "privileges": [1]}, 422, None),
    ({"name": "Bad", "privileges": ["p" * 65]}, 422, None),
    ({"name": "Bad", "privileges": ["members:read"] * 101}, 422, None),
    ({"name": "Bad", "description": "d" * 1001}, 422, None),
    ({"name": "r" * 101}, 422, None),
    ({"name": ""}, 422, None),
    ({"privileges": ["members:read"]}, 422, None),
    ({"name": "Bad", "is_system": True}, 422, None),
    ({"name": "Nul\x00"}, 422, None),
])
def test_create_role_bad_input_writes_nothing(world, body, status, message):
    before = snapshot()
    error = assert_error(world.c.owner.post(world.base + "/roles", json=body), status)
    if message:
        assert error["message"] == message
    assert snapshot() == before


def test_a_long_name_that_grows_when_lower_cased_is_not_a_500(world):
    name = "\u0130" * 100  # "İ" lower-cases to two characters
    before = snapshot()
    error = assert_error(world.c.owner.post(world.base + "/roles", json={"name": name}), 400)
    assert error["message"] == "Invalid name"
    assert_error(world.c.owner.patch(f"{world.base}/roles/{world.operator_role.id}", json={"name": name}), 400)
    assert snapshot() == before


# -- update ----------------------------------------------------------------------------------------------------

def test_patch_role(world):
    path = f"{world.base}/roles/{world.operator_role.id}"
    r = world.c.owner.patch(path, json={"name": "On-call", "description": "Pager duty",
                                        "privileges": ["members:read", "groups:read"]})
    assert r.status_code == 200, r.json
    assert (r.json["name"], r.json["description"]) == ("On-call", "Pager duty")
    assert r.json["privileges"] == ["groups:read", "members:read"]
    assert r.json["updated_at"] >= r.json["created_at"]
    # Members holding it see the new name and privileges.
    operator = world.c.owner.get(f"{world.base}/members/{world.operator.id}").json
    assert operator["roles"]["dev"] == "On-call"
    report = world.c.owner.get(f"{world.base}/members/{world.operator.id}/privileges").json
    assert report[0]["privileges"] == ["groups:read", "members:read"]
    # Renaming to its own name in another case is fine.
    assert world.c.owner.patch(path, json={"name": "ON-CALL"}).json["name"] == "ON-CALL"


@pytest.mark.parametrize("role, body, status, message", [
    ("Admin", {"name": "Boss"}, 400, "Admin is a system role and cannot be changed"),
    ("Readonly", {"privileges": ["members:read", "members:remove"]}, 400,
     "Readonly is a system role and cannot be changed"),
    ("Operator", {"name": "member"}, 409, "Role member already exists"),
    ("Operator", {"name": "NoAccess"}, 400, "NoAccess is reserved"),
    ("Operator", {"privileges": ["nope:nope"]}, 400, "Unknown privileges"),
    ("Operator", {"name": ""}, 422, None),
    ("Operator", {"name": None}, 422, None),
    ("Operator", {"privileges": None}, 422, None),
    ("Operator", {"description": 5}, 422, None),
    ("Operator", {"id": "x"}, 422, None),
])
def test_patch_role_refusals_write_nothing(world, role, body, status, message):
    role_id = _role_id(world, role)
    before = snapshot()
    error = assert_error(world.c.owner.patch(f"{world.base}/roles/{role_id}", json=body), status)
    if message:
        assert error["message"] == message
    assert snapshot() == before


def test_add_and_remove_privileges(world):
    path = f"{world.base}/roles/{world.operator_role.id}/privileges"
    r = world.c.owner.post(path, json={"privileges": ["members:invite", "members:read"]})
    assert r.status_code == 200, r.json
    assert set(r.json) == ROLE_KEYS
    assert r.json["privileges"] == ["members:invite", "members:read", "members:update"]
    r = world.c.admin.delete(path, json={"privileges": ["members:update", "sso:manage"]})
    assert r.status_code == 200
    assert r.json["privileges"] == ["members:invite", "members:read"]


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("role, body, status", [
    ("Operator", {"privileges": ["members:fly"]}, 400),
    ("Operator", {"privileges": []}, 422),
    ("Operator", {"privileges": "members:read"}, 422),
    ("Operator", {}, 422),
    ("Operator", None, 422),
    ("Admin", {"privileges": ["members:read"]}, 400),
    ("Member", {"privileges": ["members:read"]}, 400),
])
def test_privilege_change_refusals_write_nothing(world, method, role, body, status):
    role_id = _role_id(world, role)
    before = snapshot()
    assert_error(world.c.owner.open(method, f"{world.base}/roles/{role_id}/privileges", json=body), status)
    assert snapshot() == before


def test_nobody_adds_privileges_they_do_not_hold(world):
    with world.app.app_context(), db.connection_context():
        factories.make_role(world.ws, "Role manager", ["roles:read", "roles:manage", "members:read"])
        _, person = factories.make_member(world.ws, "rm@acme.test", {e: "Role manager"
                                                                    for e in ("dev", "test", "prod")})
        manager = AuthClient(world.client, factories.make_personal_token(person))
    mine = _role_id(world, "Role manager")
    before = snapshot()
    for method, path, body in [
        ("POST", f"/roles/{mine}/privileges", {"privileges": ["workspace:delete"]}),
        ("PATCH", f"/roles/{mine}", {"privileges": ["roles:read", "roles:manage", "members:read", "tokens:manage"]}),
        ("POST", "/roles", {"name": "Mine too", "privileges": ["members:remove"]}),
    ]:
        error = assert_error(manager.open(method, world.base + path, json=body), 403)
        assert error["message"].startswith("Cannot give")
    assert snapshot() == before
    r = manager.post(world.base + "/roles", json={"name": "Reader", "privileges": ["members:read"]})
    assert r.status_code == 201
    assert manager.delete(f"{world.base}/roles/{mine}/privileges", json={"privileges": ["members:read"]}) \
        .status_code == 200


# -- delete ----------------------------------------------------------------------------------------------------

def test_delete_an_unused_role(world):
    with world.app.app_context(), db.connection_context():
        unused = factories.make_role(world.ws, "Unused", [])
    assert world.c.owner.delete(f"{world.base}/roles/{unused.id}").status_code == 204
    assert_error(world.c.owner.get(f"{world.base}/roles/{unused.id}"), 404)
    assert "Unused" not in [r["name"] for r in world.c.owner.get(world.base + "/roles").json]


def test_a_role_in_use_cannot_be_deleted(world):
    path = f"{world.base}/roles/{world.operator_role.id}"
    before = snapshot()
    error = assert_error(world.c.owner.delete(path), 409)
    assert error["message"] == "Role Operator is in use (1 assignments or grants); reassign them first"
    assert snapshot() == before
    # Held through a group grant only: still in use.
    world.c.owner.put(f"{world.base}/members/{world.operator.id}/roles", json={
        "env_roles": [{"environment_type": "dev", "name": "NoAccess"}]})
    with world.app.app_context(), db.connection_context():
        make_group(world.ws, "Ops", [], {"test": "Operator"})
    assert_error(world.c.owner.delete(path), 409)
    ops = next(g for g in world.c.owner.get(world.base + "/groups").json["items"] if g["display_name"] == "Ops")
    world.c.owner.put(f"{world.base}/groups/{ops['id']}/grants", json={"env_roles": []})
    assert world.c.owner.delete(path).status_code == 204


@pytest.mark.parametrize("name", ["Admin", "Member", "Readonly"])
def test_system_roles_cannot_be_deleted(world, name):
    before = snapshot()
    error = assert_error(world.c.owner.delete(f"{world.base}/roles/{_role_id(world, name)}"), 400)
    assert error["message"] == f"{name} is a system role and cannot be changed"
    assert snapshot() == before
