"""Members: listing with filters and pagination, roles per environment, privileges, removal, leave, ownership."""

import pytest

from models.db import db
from models.directory import GroupMember, Member, MemberRole, Person
from models.privileges import ALL_PRIVILEGES, SYSTEM_ROLES
from tests import factories
from tests.admin_helpers import assert_error, assert_guarded, snapshot
from tests.conftest import AuthClient

MEMBER_KEYS = {"id", "email", "user_name", "display_name", "external_id", "status", "is_owner", "type", "source",
               "time_zone", "last_active_at", "roles", "groups", "created_at",
               "updated_at"}
READONLY = sorted(SYSTEM_ROLES["Readonly"][1])


def _emails(response):
    assert response.status_code == 200, response.get_json()
    return [m["email"] for m in response.json["items"]]


def _add(world, email, roles=None, status="active"):
    with world.app.app_context(), db.connection_context():
        member, person = factories.make_member(world.ws, email, roles or {}, status=status)
        token = factories.make_personal_token(person)
    return member, AuthClient(world.client, token)


def _set_status(world, member, status):
    with world.app.app_context(), db.connection_context():
        Member.update(status=status).where(Member.id == member.id).execute()


# -- listing ---------------------------------------------------------------------------------------------------

def test_list_members(world):
    r = world.c.readonly.get(world.base + "/members")
    assert r.status_code == 200
    assert (r.json["total"], r.json["page"], r.json["page_size"]) == (5, 1, 50)
    assert [m["email"] for m in r.json["items"]] == ["owner@acme.test", "ro@acme.test", "member@acme.test",
                                                     "none@acme.test", "op@acme.test"]
    owner, readonly, _, noaccess, operator = r.json["items"]
    assert set(owner) == MEMBER_KEYS
    assert owner["id"] == world.owner_member.id and owner["is_owner"] is True and owner["status"] == "active"
    assert owner["user_name"] == "owner@acme.test"
    assert owner["roles"] == {"dev": "Admin", "test": "Admin", "prod": "Admin"}
    assert readonly["roles"] == {"dev": "Readonly", "test": "Readonly", "prod": "Readonly"}
    assert readonly["is_owner"] is False and readonly["groups"] == []
    assert noaccess["roles"] == {"dev": "NoAccess", "test": "NoAccess", "prod": "NoAccess"}
    assert operator["roles"] == {"dev": "Operator", "test": "NoAccess", "prod": "NoAccess"}
    assert operator["groups"] == [{"id": world.group.id, "display_name": "Engineering"}]


def test_email_filter_is_a_case_insensitive_contains_with_literal_wildcards(world):
    for email in ("per%cent@x.test", "under_score@x.test", "underXscore@x.test", "back\\slash@x.test"):
        _add(world, email)
    path = world.base + "/members"
    assert _emails(world.c.owner.get(path, query_string={"email": "ACME.TEST"})) == [
        "owner@acme.test", "ro@acme.test", "member@acme.test", "none@acme.test", "op@acme.test"]
    assert _emails(world.c.owner.get(path, query_string={"email": "%"})) == ["per%cent@x.test"]
    assert _emails(world.c.owner.get(path, query_string={"email": "r_s"})) == ["under_score@x.test"]
    assert _emails(world.c.owner.get(path, query_string={"email": "_"})) == ["under_score@x.test"]
    assert _emails(world.c.owner.get(path, query_string={"email": "\\"})) == ["back\\slash@x.test"]
    assert _emails(world.c.owner.get(path, query_string={"email": "nobody"})) == []
    assert world.c.owner.get(path + "/count", query_string={"email": "%"}).json == {"count": 1}


def test_status_role_and_environment_filters(world):
    _set_status(world, world.noaccess, "suspended")
    path = world.base + "/members"
    assert _emails(world.c.owner.get(path, query_string={"status": "suspended"})) == ["none@acme.test"]
    assert len(_emails(world.c.owner.get(path, query_string={"status": "active"}))) == 4
    assert _emails(world.c.owner.get(path, query_string={"status": "invited"})) == []
    # The operator holds Readonly in prod through the Engineering group.
    assert _emails(world.c.owner.get(path, query_string={"role": "readonly"})) == ["ro@acme.test", "op@acme.test"]
    assert _emails(world.c.owner.get(path, query_string={"role": "Readonly", "environment": "dev"})) == [
        "ro@acme.test"]
    assert _emails(world.c.owner.get(path, query_string={"role": "Operator"})) == ["op@acme.test"]
    assert _emails(world.c.owner.get(path, query_string={"role": "Ghost"})) == []
    assert _emails(world.c.owner.get(path, query_string={"environment": "prod"})) == [
        "owner@acme.test", "ro@acme.test", "member@acme.test", "op@acme.test"]
    assert _emails(world.c.owner.get(path, query_string={"environment": "test", "email": "ro@"})) == ["ro@acme.test"]
    assert world.c.owner.get(path + "/count", query_string={"environment": "prod"}).json == {"count": 4}
    assert world.c.owner.get(path + "/count").json == {"count": 5}


def test_pagination_keeps_the_total(world):
    path = world.base + "/members"
    pages = [world.c.owner.get(path, query_string={"page": n, "page_size": 2}).json for n in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    ids = [m["id"] for p in pages for m in p["items"]]
    assert len(set(ids)) == 5
    assert [(p["page"], p["page_size"]) for p in pages] == [(1, 2), (2, 2), (3, 2), (4, 2)]


@pytest.mark.parametrize("query", [
    {"page": 0}, {"page": "abc"}, {"page_size": 0}, {"page_size": 201}, {"page": 100001},
    {"status": "gone"}, {"environment": "qa"}, {"email": "x" * 321}, {"role": "r" * 101}, {"email": "a\x00"},
])
def test_list_members_bad_query(world, query):
    assert_error(world.c.owner.get(world.base + "/members", query_string=query), 422)
    assert_error(world.c.owner.get(world.base + "/members/count", query_string=query), 422)


@pytest.mark.parametrize("suffix", ["/members", "/members/count", "/members/{member}",
                                    "/members/{member}/privileges"])
def test_member_reads_are_guarded(world, suffix):
    assert_guarded(world, "GET", world.base + suffix.format(member=world.readonly.id), write=False)


@pytest.mark.parametrize("method, suffix, body", [
    ("DELETE", "/members/{member}", None),
    ("PUT", "/members/{member}/roles", {"env_roles": [{"environment_type": "dev", "name": "Admin"}]}),
    ("POST", "/transfer-ownership", {"member_id": "{member}"}),
])
def test_member_writes_are_guarded(world, method, suffix, body):
    if body and "member_id" in body:
        body = {"member_id": world.readonly.id}
    assert_guarded(world, method, world.base + suffix.format(member=world.readonly.id), json=body)


# -- one member ------------------------------------------------------------------------------------------------

def test_get_member(world):
    r = world.c.member.get(f"{world.base}/members/{world.operator.id}")
    assert r.status_code == 200
    assert set(r.json) == MEMBER_KEYS
    assert r.json["email"] == "op@acme.test" and r.json["roles"]["dev"] == "Operator"
    assert r.json["groups"] == [{"id": world.group.id, "display_name": "Engineering"}]


@pytest.mark.parametrize("member_id", ["nope", "0" * 36, "x" * 65, "a\x00b"])
def test_unknown_member_is_404(world, member_id):
    for method in ("GET", "DELETE"):
        assert_error(world.c.owner.open(method, f"{world.base}/members/{member_id}"), 404)
    assert_error(world.c.owner.get(f"{world.base}/members/{member_id}/privileges"), 404)
    before = snapshot()
    assert_error(world.c.owner.put(f"{world.base}/members/{member_id}/roles", json={"env_roles": []}), 404)
    assert snapshot() == before


def test_another_workspaces_member_is_404(world):
    before = snapshot()
    path = f"{world.base}/members/{world.other_member.id}"
    for client in (world.c.owner, world.c.admin):
        assert_error(client.get(path), 404)
        assert_error(client.get(path + "/privileges"), 404)
        assert_error(client.delete(path), 404)
        assert_error(client.put(path + "/roles", json={"env_roles": [{"environment_type": "dev",
                                                                      "name": "Admin"}]}), 404)
        assert_error(client.post(world.base + "/transfer-ownership", json={"member_id": world.other_member.id}),
                     404 if client is world.c.owner else 403)
    assert snapshot() == before


def test_remove_member(world):
    r = world.c.admin.delete(f"{world.base}/members/{world.operator.id}")
    assert r.status_code == 204 and r.data == b""
    assert_error(world.c.owner.get(f"{world.base}/members/{world.operator.id}"), 404)
    assert world.c.owner.get(world.base + "/members").json["total"] == 4
    with world.app.app_context(), db.connection_context():
        assert Person.select().where(Person.email == "op@acme.test").exists()
        assert not GroupMember.select().where(GroupMember.member == world.operator.id).exists()
        assert not MemberRole.select().where(MemberRole.member == world.operator.id).exists()
    assert world.c.owner.get(f"{world.base}/groups/{world.group.id}").json["member_count"] == 0


def test_owner_cannot_be_removed(world):
    before = snapshot()
    for client in (world.c.owner, world.c.admin):
        body = assert_error(client.delete(f"{world.base}/members/{world.owner_member.id}"), 409)
        assert body["message"] == "The owner cannot be removed; transfer ownership first"
    assert snapshot() == before


# -- roles per environment -------------------------------------------------------------------------------------

def test_set_roles(world):
    path = f"{world.base}/members/{world.readonly.id}/roles"
    r = world.c.owner.put(path, json={"env_roles": [{"environment_type": "prod", "name": "operator"},
                                                    {"environment_type": "dev", "name": "Member"}]})
    assert r.status_code == 200, r.json
    assert r.json == {"roles": {"dev": "Member", "test": "Readonly", "prod": "Operator"}}
    assert world.c.owner.get(f"{world.base}/members/{world.readonly.id}").json["roles"] == r.json["roles"]
    # An empty list changes nothing.
    assert world.c.owner.put(path, json={"env_roles": []}).json == r.json


def test_no_access_removes_access(world):
    path = f"{world.base}/members/{world.readonly.id}"
    r = world.c.admin.put(path + "/roles", json={"env_roles": [{"environment_type": "dev", "name": "NoAccess"},
                                                               {"environment_type": "test", "name": "NoAccess"}]})
    assert r.json == {"roles": {"dev": "NoAccess", "test": "NoAccess", "prod": "Readonly"}}
    privileges = {e["environment"]: e["privileges"] for e in world.c.owner.get(path + "/privileges").json}
    assert privileges == {"dev": [], "test": [], "prod": READONLY}
    assert _emails(world.c.owner.get(world.base + "/members", query_string={"environment": "dev",
                                                                            "email": "ro@"})) == []
    world.c.admin.put(path + "/roles", json={"env_roles": [{"environment_type": "prod", "name": "NoAccess"}]})
    # No access anywhere: the member still belongs to the workspace but may read nothing.
    assert_error(world.c.readonly.get(world.base), 403)


@pytest.mark.parametrize("env_roles, status, message", [
    ([{"environment_type": "dev", "name": "Ghost"}], 400, "Role Ghost not found"),
    ([{"environment_type": "qa", "name": "Admin"}], 400, "Environment qa not found"),
    ([{"environment_type": "dev", "name": "Member"}, {"environment_type": "prod", "name": "Ghost"}], 400,
     "Role Ghost not found"),
    ([{"environment_type": "dev", "name": "Member"}, {"environment_type": "dev", "name": "Admin"}], 400,
     "Environment dev listed twice"),
    ([{"environment_type": "dev"}], 422, None),
    ([{"name": "Admin"}], 422, None),
    ([{"environment_type": "dev", "name": ""}], 422, None),
    ([{"environment_type": "dev", "name": 7}], 422, None),
    ([{"environment_type": "dev", "name": "x" * 101}], 422, None),
    ([{"environment_type": "d" * 17, "name": "Admin"}], 400, "Environment " + "d" * 17 + " not found"),
    ([{"environment_type": e, "name": "Member"} for e in ("dev", "test", "prod", "dev")], 422, None),
    ("dev=Admin", 422, None),
    (None, 422, None),
])
def test_set_roles_bad_input_writes_nothing(world, env_roles, status, message):
    before = snapshot()
    body = assert_error(world.c.owner.put(f"{world.base}/members/{world.readonly.id}/roles",
                                          json={"env_roles": env_roles}), status)
    if message:
        assert body["message"] == message
    assert snapshot() == before


def test_set_roles_in_a_disabled_environment(world):
    world.c.owner.patch(world.base, json={"environments": ["dev"]})
    body = assert_error(world.c.owner.put(f"{world.base}/members/{world.readonly.id}/roles", json={
        "env_roles": [{"environment_type": "prod", "name": "Admin"}]}), 400)
    assert body["message"] == "Environment prod not found"


def test_owner_cannot_be_demoted(world):
    path = f"{world.base}/members/{world.owner_member.id}/roles"
    before = snapshot()
    for role in ("Member", "NoAccess"):
        body = assert_error(world.c.admin.put(path, json={"env_roles": [{"environment_type": "prod",
                                                                         "name": role}]}), 409)
        assert body["message"] == "The owner cannot be demoted; transfer ownership first"
    assert snapshot() == before
    assert world.c.admin.put(path, json={"env_roles": [{"environment_type": "prod", "name": "Admin"}]}).json[
        "roles"]["prod"] == "Admin"


def test_roles_are_checked_per_environment(world):
    path = f"{world.base}/members/{world.member.id}/roles"
    r = world.c.operator.put(path, json={"env_roles": [{"environment_type": "dev", "name": "NoAccess"}]})
    assert r.status_code == 200 and r.json["roles"] == {"dev": "NoAccess", "test": "Member", "prod": "Member"}
    before = snapshot()
    body = assert_error(world.c.operator.put(path, json={"env_roles": [
        {"environment_type": "dev", "name": "Operator"}, {"environment_type": "prod", "name": "NoAccess"}]}), 403)
    assert body["message"] == "Missing privilege members:update in environment prod"
    assert snapshot() == before


def test_nobody_grants_more_than_they_hold(world):
    before = snapshot()
    # The operator may update members in dev, but Admin carries privileges the operator lacks.
    for target in (world.operator, world.member):
        body = assert_error(world.c.operator.put(f"{world.base}/members/{target.id}/roles", json={
            "env_roles": [{"environment_type": "dev", "name": "Admin"}]}), 403)
        assert body["message"].startswith("Cannot grant Admin in environment dev")
    assert snapshot() == before
    r = world.c.operator.put(f"{world.base}/members/{world.noaccess.id}/roles", json={
        "env_roles": [{"environment_type": "dev", "name": "Operator"}]})
    assert r.status_code == 200 and r.json["roles"]["dev"] == "Operator"


# -- privileges ------------------------------------------------------------------------------------------------

def test_privileges_per_environment_with_sources(world):
    r = world.c.readonly.get(f"{world.base}/members/{world.operator.id}/privileges")
    assert r.status_code == 200
    by_env = {e["environment"]: e for e in r.json}
    assert [e["environment"] for e in r.json] == ["dev", "test", "prod"]
    assert by_env["dev"]["privileges"] == ["members:read", "members:update"]
    assert by_env["dev"]["sources"] == [{"type": "direct", "role": "Operator", "role_id": world.operator_role.id}]
    assert by_env["test"] == {"environment": "test", "privileges": [], "sources": [], "resources": []}
    assert by_env["prod"]["privileges"] == READONLY
    [source] = by_env["prod"]["sources"]
    assert source["type"] == "group" and source["role"] == "Readonly"
    assert (source["group_id"], source["group"]) == (world.group.id, "Engineering")
    owner = world.c.owner.get(f"{world.base}/members/{world.owner_member.id}/privileges").json
    assert all(e["privileges"] == sorted(ALL_PRIVILEGES) for e in owner)


def test_a_suspended_member_has_no_privileges(world):
    _set_status(world, world.operator, "suspended")
    report = world.c.owner.get(f"{world.base}/members/{world.operator.id}/privileges").json
    assert [e["privileges"] for e in report] == [[], [], []]
    assert report[0]["sources"][0]["role"] == "Operator"  # kept for reactivation
    assert_error(world.c.operator.get(world.base + "/members"), 403)


# -- leave and ownership ---------------------------------------------------------------------------------------

def test_leave(world):
    r = world.c.readonly.post(world.base + "/leave")
    assert r.status_code == 204
    assert_error(world.c.readonly.get(world.base), 404)
    assert world.c.readonly.get("/api/v1/workspaces").json == {"items": [], "total": 0}
    assert world.c.owner.get(world.base + "/members").json["total"] == 4


def test_owner_cannot_leave(world):
    before = snapshot()
    body = assert_error(world.c.owner.post(world.base + "/leave"), 409)
    assert body["message"] == "The owner cannot leave; transfer ownership first"
    assert snapshot() == before


def test_the_last_admin_cannot_leave(world):
    admin, admin_client = _add(world, "admin2@acme.test", {"dev": "Admin"})
    _set_status(world, world.owner_member, "suspended")
    before = snapshot()
    body = assert_error(admin_client.post(world.base + "/leave"), 409)
    assert body["message"] == "The last admin cannot leave"
    assert snapshot() == before
    _set_status(world, world.owner_member, "active")
    assert admin_client.post(world.base + "/leave").status_code == 204


def test_leave_needs_a_membership(world):
    before = snapshot()
    assert_error(world.c.admin.post(world.base + "/leave"), 403)
    assert_error(world.c.other_owner.post(world.base + "/leave"), 404)
    assert_error(world.c.other_admin.post(world.base + "/leave"), 404)
    assert_error(world.c.anon.open("POST", world.base + "/leave"), 401)
    assert_error(world.c.revoked.post(world.base + "/leave"), 401)
    assert snapshot() == before


def test_transfer_ownership(world):
    r = world.c.owner.post(world.base + "/transfer-ownership", json={"member_id": world.readonly.id})
    assert r.status_code == 200, r.json
    assert set(r.json) == MEMBER_KEYS
    assert r.json["id"] == world.readonly.id and r.json["is_owner"] is True
    assert r.json["roles"] == {"dev": "Admin", "test": "Admin", "prod": "Admin"}
    old = world.c.owner.get(f"{world.base}/members/{world.owner_member.id}").json
    assert old["is_owner"] is False and old["roles"] == {"dev": "Admin", "test": "Admin", "prod": "Admin"}
    # Now the former owner can be demoted and can leave; the new owner is protected.
    demoted = world.c.readonly.put(f"{world.base}/members/{world.owner_member.id}/roles", json={
        "env_roles": [{"environment_type": "dev", "name": "Member"}]})
    assert demoted.status_code == 200
    assert_error(world.c.owner.delete(f"{world.base}/members/{world.readonly.id}"), 409)
    assert world.c.owner.post(world.base + "/leave").status_code == 204
    assert_error(world.c.readonly.post(world.base + "/leave"), 409)


@pytest.mark.parametrize("who, target, status", [
    ("admin", "readonly", 403),
    ("readonly", "member", 403),
    ("owner", "owner", 400),
    ("owner", "unknown", 404),
    ("owner", "other", 404),
    ("owner", "suspended", 409),
    ("owner", "invited", 409),
])
def test_transfer_ownership_refusals(world, who, target, status):
    suspended, _ = _add(world, "sus@acme.test", {"dev": "Member"}, status="suspended")
    invited, _ = _add(world, "inv@acme.test", {"dev": "Member"}, status="invited")
    ids = {"readonly": world.readonly.id, "member": world.member.id, "owner": world.owner_member.id,
           "unknown": "0" * 36, "other": world.other_member.id, "suspended": suspended.id, "invited": invited.id}
    before = snapshot()
    assert_error(world.clients[who].post(world.base + "/transfer-ownership", json={"member_id": ids[target]}),
                 status)
    assert snapshot() == before


@pytest.mark.parametrize("body", [{}, {"member_id": ""}, {"member_id": 5}, {"member_id": "x" * 65}, None])
def test_transfer_ownership_bad_input(world, body):
    before = snapshot()
    assert_error(world.c.owner.post(world.base + "/transfer-ownership", json=body), 422)
    assert snapshot() == before
