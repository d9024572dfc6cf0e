"""/Users: RFC 7644 §3.3-§3.6 bodies, Roster's member mapping and every error path."""

import pytest

from models.db import db
from models.directory import GroupMember, Member, MemberRole, Person

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def create(client, user_name, **extra):
    body = {"schemas": [USER], "userName": user_name,
            "emails": [{"value": f"{user_name}@example.com", "type": "work", "primary": True}]}
    body.update(extra)
    r = client.post("/scim/v2/Users", json=body)
    assert r.status_code == 201, r.json
    return r.json


def patch(client, path, *operations, headers=None):
    return client.patch(path, json={"schemas": [PATCH], "Operations": list(operations)}, headers=headers)


def assert_error(r, status, scim_type=None):
    assert r.status_code == status, (r.status_code, r.json)
    assert r.headers["Content-Type"].startswith("application/scim+json")
    assert r.json["schemas"] == [ERROR]
    assert r.json["status"] == str(status)
    assert r.json["detail"]
    if scim_type:
        assert r.json["scimType"] == scim_type


def test_create_rfc_7644_3_3_example(workspace_setup):
    c = workspace_setup.scim_client
    r = c.post("/scim/v2/Users", json={
        "schemas": [USER], "userName": "bjensen", "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"}})
    assert r.status_code == 201
    body = r.json
    assert r.headers["Content-Type"] == "application/scim+json"
    location = f"http://roster.test/scim/v2/Users/{body['id']}"
    assert r.headers["Location"] == body["meta"]["location"] == location
    assert r.headers["ETag"] == body["meta"]["version"] == 'W/"1"'
    assert body["userName"] == "bjensen" and body["externalId"] == "bjensen" and body["active"] is True
    assert body["name"]["familyName"] == "Jensen"
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["created"].endswith("Z") and body["meta"]["lastModified"].endswith("Z")
    # A person is keyed by email; with no email, by the userName.
    with db.connection_context():
        member = Member.get_by_id(body["id"])
        assert Person.get_by_id(member.person_id).email == "bjensen"
        assert member.status == "active"


def test_entra_create_body_and_okta_create_body(workspace_setup):
    c = workspace_setup.scim_client
    entra = {"schemas": [USER, ENTERPRISE], "externalId": "0a21f0f2", "userName": "Test_User_1",
             "active": True,
             "emails": [{"primary": True, "type": "work", "value": "Test_User_1@testuser.com"}],
             "meta": {"resourceType": "User"}, "addresses": None,
             "name": {"formatted": "givenName familyName", "familyName": "familyName",
                      "givenName": "givenName"},
             "roles": []}
    r = c.post("/scim/v2/Users", json=entra)
    assert r.status_code == 201, r.json
    assert "roles" not in r.json and "addresses" not in r.json
    okta = {"schemas": [USER], "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7", "groups": [],
            "password": "1mz050nq", "active": True}
    r = c.post("/scim/v2/Users", json=okta)
    assert r.status_code == 201, r.json
    assert "password" not in r.json
    with db.connection_context():
        stored = Member.get_by_id(r.json["id"]).attributes
        assert "password" not in stored and "1mz050nq" not in str(stored)
        assert Person.get_by_id(Member.get_by_id(r.json["id"]).person_id).email == "test.user@okta.local"
    # Okta's "Expect failure when recreating user with same values".
    assert_error(c.post("/scim/v2/Users", json=okta), 409, "uniqueness")


def test_username_unique_case_insensitively(workspace_setup):
    c = workspace_setup.scim_client
    create(c, "Alice")
    r = c.post("/scim/v2/Users", json={"schemas": [USER], "userName": "ALICE"})
    assert_error(r, 409, "uniqueness")


def test_same_email_twice_in_workspace_is_409(workspace_setup):
    c = workspace_setup.scim_client
    create(c, "a1", emails=[{"value": "same@example.com", "primary": True}])
    r = c.post("/scim/v2/Users", json={"userName": "a2", "emails": [{"value": "SAME@example.com"}]})
    assert_error(r, 409, "uniqueness")


def test_get_unknown_and_after_delete_is_404(workspace_setup):
    c = workspace_setup.scim_client
    assert_error(c.get("/scim/v2/Users/010101001010101011001010101011"), 404)
    user = create(c, "gone")
    r = c.delete(f"/scim/v2/Users/{user['id']}")
    assert r.status_code == 204 and r.data == b""
    path = f"/scim/v2/Users/{user['id']}"
    assert_error(c.get(path), 404)
    assert_error(c.put(path, json={"userName": "gone"}), 404)
    assert_error(patch(c, path, {"op": "replace", "path": "displayName", "value": "x"}), 404)
    assert_error(c.delete(path), 404)
    r = c.get('/scim/v2/Users?filter=userName eq "gone"')
    assert r.json["totalResults"] == 0


def test_delete_keeps_person_and_leaves_every_group(workspace_setup):
    c = workspace_setup.scim_client
    user = create(c, "leaver", roles=[{"value": "Member", "type": "dev"}])
    group = c.post("/scim/v2/Groups", json={"displayName": "G1", "members": [{"value": user["id"]}]}).json
    assert c.delete(f"/scim/v2/Users/{user['id']}").status_code == 204
    r = c.get(f"/scim/v2/Groups/{group['id']}")
    assert "members" not in r.json
    with db.connection_context():
        assert Person.get_or_none(Person.email == "leaver@example.com") is not None
        assert not GroupMember.select().where(GroupMember.member == user["id"]).exists()
        assert not MemberRole.select().where(MemberRole.member == user["id"]).exists()


def test_put_okta_whole_object(workspace_setup):
    c = workspace_setup.scim_client
    user = create(c, "okta.put", name={"givenName": "A", "familyName": "B"}, nickName="nick")
    body = dict(user)
    body["name"] = {"givenName": "Changed", "familyName": "B", "middleName": "M"}
    body["password"] = "secret"
    body["groups"] = [{"value": "whatever"}]
    body.pop("nickName")
    r = c.put(f"/scim/v2/Users/{user['id']}", json=body)
    assert r.status_code == 200, r.json
    assert r.json["name"]["givenName"] == "Changed" and "nickName" not in r.json
    assert r.json["id"] == user["id"] and r.json["meta"]["version"] == 'W/"2"'
    assert r.json["meta"]["created"] == user["meta"]["created"]


def test_put_username_clash_is_409(workspace_setup):
    c = workspace_setup.scim_client
    create(c, "first")
    second = create(c, "second")
    assert_error(c.put(f"/scim/v2/Users/{second['id']}", json={"userName": "FIRST"}), 409, "uniqueness")


def test_entra_patch_operations(workspace_setup):
    c = workspace_setup.scim_client
    user = create(c, "entra.user", name={"givenName": "G", "familyName": "F"})
    path = f"/scim/v2/Users/{user['id']}"
    r = patch(c, path,
              {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updated@microsoft.com"},
              {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
              {"op": "Add", "path": "nickName", "value": "Babs"})
    assert r.status_code == 200, r.json
    assert r.json["emails"][0]["value"] == "updated@microsoft.com"
    assert r.json["name"]["familyName"] == "updatedFamilyName" and r.json["nickName"] == "Babs"
    r = patch(c, path, {"op": "replace", "value": {"name.givenName": "Kkom",
                                                  f"{ENTERPRISE}:employeeNumber": "Aklq"}})
    assert r.status_code == 200, r.json
    assert r.json["name"]["givenName"] == "Kkom"
    assert r.json[ENTERPRISE]["employeeNumber"] == "Aklq" and ENTERPRISE in r.json["schemas"]
    with db.connection_context():
        assert Member.get_by_id(user["id"]).email_ci == "updated@microsoft.com"


def test_active_false_suspends_keeps_roles_and_groups(workspace_setup):
    c = workspace_setup.scim_client
    user = create(c, "sleepy", roles=[{"value": "Member", "type": "dev"}])
    c.post("/scim/v2/Groups", json={"displayName": "Keep", "members": [{"value": user["id"]}]})
    path = f"/scim/v2/Users/{user['id']}"
    r = patch(c, path, {"op": "Replace", "path": "active", "value": "False"})  # Entra's string boolean
    assert r.status_code == 200 and r.json["active"] is False
    assert r.json["roles"] == [{"value": "Member", "type": "dev"}]
    assert [g["display"] for g in r.json["groups"]] == ["Keep"]
    with db.connection_context():
        assert Member.get_by_id(user["id"]).status == "suspended"
    # Inactive users stay visible to filters (Okta re-matches them).
    assert c.get('/scim/v2/Users?filter=userName eq "SLEEPY"').json["totalResults"] == 1
    r = patch(c, path, {"op": "replace", "value": {"active": True}})  # Okta's no-path reactivation
    assert r.json["active"] is True
    with db.connection_context():
        assert Member.get_by_id(user["id"]).status == "active"


def test_roles_map_to_direct_roles(workspace_setup):
    c = workspace_setup.scim_client
    user = create(c, "roled", roles=[{"value": "readonly", "type": "dev"}])
    assert user["roles"] == [{"value": "Readonly", "type": "dev"}]
    path = f"/scim/v2/Users/{user['id']}"
    r = patch(c, path, {"op": "replace", "path": "roles", "value": [{"value": "Admin", "type": "dev"}]})
    assert r.status_code == 200 and r.json["roles"] == [{"value": "Admin", "type": "dev"}]
    r = patch(c, path, {"op": "remove", "path": "roles[type eq \"dev\"]"})
    assert r.status_code == 200 and "roles" not in r.json
    with db.connection_context():
        assert not MemberRole.select().where(MemberRole.member == user["id"]).exists()
    # A PUT without roles keeps them; roles: [] clears them.
    patch(c, path, {"op": "add", "path": "roles", "value": [{"value": "Member", "type": "dev"}]})
    assert c.put(path, json={"userName": "roled"}).json["roles"] == [{"value": "Member", "type": "dev"}]
    assert "roles" not in c.put(path, json={"userName": "roled", "roles": []}).json


def test_removing_active_leaves_it_unassigned(workspace_setup):
    c = workspace_setup.scim_client
    user = create(c, "unassigned", active=False)
    other = create(c, "assigned")
    path = f"/scim/v2/Users/{user['id']}"

    def listed(flt):
        return [u["userName"] for u in c.get(f"/scim/v2/Users?filter={flt}&sortBy=userName").json["Resources"]
                if u["userName"] in ("unassigned", "assigned")]

    # RFC 7644 §3.5.2.2: the attribute is removed and unassigned. Roster reads an unassigned active as "not
    # suspended", so removing it from a suspended user reactivates it.
    r = patch(c, path, {"op": "remove", "path": "active"})
    assert r.status_code == 200 and "active" not in r.json and r.json["meta"]["version"] == 'W/"2"'
    assert "active" not in c.get(path).json
    with db.connection_context():
        assert Member.get_by_id(user["id"]).status == "active"
    # Filters see what GET returns.
    assert listed("active pr") == ["assigned"]
    assert listed("active eq true") == ["assigned"]
    assert listed("not (active pr)") == ["unassigned"]
    assert listed("active eq false") == []
    # Removing it again, or a PUT without active, keeps it unassigned and changes nothing.
    assert patch(c, path, {"op": "remove", "path": "active"}).json["meta"]["version"] == 'W/"2"'
    r = c.put(path, json={"userName": "unassigned"})
    assert r.status_code == 200 and "active" not in r.json
    # Assigning it again returns it; suspension shows whatever the marker says.
    r = patch(c, path, {"op": "replace", "path": "active", "value": False})
    assert r.json["active"] is False and listed("active eq false") == ["unassigned"]
    r = patch(c, path, {"op": "remove", "path": "active"}, {"op": "add", "path": "active", "value": True})
    assert r.json["active"] is True and listed("active eq true") == ["assigned", "unassigned"]
    assert other["active"] is True


@pytest.mark.parametrize("roles, detail", [
    ([{"value": "Wizard", "type": "dev"}], "Role Wizard not found"),
    ([{"value": "Admin", "type": "prod"}], "Environment prod not found"),
    ([{"value": "Admin", "type": "dev"}, {"value": "Member", "type": "dev"}], "listed twice"),
])
def test_bad_roles_are_400_invalid_value(workspace_setup, roles, detail):
    r = workspace_setup.scim_client.post("/scim/v2/Users", json={"userName": "x", "roles": roles})
    assert_error(r, 400, "invalidValue")
    assert detail in r.json["detail"]


def test_owner_cannot_be_deleted_suspended_or_demoted(workspace_setup):
    c = workspace_setup.scim_client
    owner = c.get('/scim/v2/Users?filter=userName eq "owner@acme.test"').json["Resources"][0]
    path = f"/scim/v2/Users/{owner['id']}"
    r = c.delete(path)
    assert_error(r, 409)
    assert "owner" in r.json["detail"] and "transfer ownership" in r.json["detail"]
    r = patch(c, path, {"op": "replace", "path": "active", "value": False})
    assert_error(r, 409)
    assert "cannot be suspended" in r.json["detail"]
    demote = {"op": "replace", "path": "roles", "value": [{"value": "Member", "type": "dev"}]}
    assert_error(patch(c, path, demote), 409)
    assert c.get(path).json["active"] is True


def test_enterprise_manager(workspace_setup):
    c = workspace_setup.scim_client
    boss = create(c, "boss", displayName="The Boss")
    user = create(c, "worker")
    path = f"/scim/v2/Users/{user['id']}"
    # Entra sends the manager as a bare id string on the URN path.
    r = patch(c, path, {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]})
    assert r.status_code == 200, r.json
    boss_ref = f"http://roster.test/scim/v2/Users/{boss['id']}"
    # manager.displayName is returned "request" (RFC 7643 §7): by default the client gets back what it wrote.
    assert r.json[ENTERPRISE]["manager"] == {"value": boss["id"], "$ref": boss_ref}
    assert c.get(path).json[ENTERPRISE]["manager"] == {"value": boss["id"], "$ref": boss_ref}
    assert c.get(f"{path}?attributes={ENTERPRISE}:manager").json[ENTERPRISE]["manager"] == {
        "value": boss["id"], "$ref": boss_ref}
    r = c.get(f"{path}?attributes={ENTERPRISE}:manager.displayName,{ENTERPRISE}:manager.value")
    assert r.json[ENTERPRISE] == {"manager": {"value": boss["id"], "displayName": "The Boss"}}
    r = c.get(f"{path}?attributes=manager.displayName")
    assert r.json[ENTERPRISE] == {"manager": {"displayName": "The Boss"}}
    r = patch(c, path, {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": "nobody"}})
    assert_error(r, 400, "invalidValue")


def test_if_match_and_if_none_match(workspace_setup):
    c = workspace_setup.scim_client
    user = create(c, "etag")
    path = f"/scim/v2/Users/{user['id']}"
    r = c.get(path, headers={"If-None-Match": 'W/"1"'})
    assert r.status_code == 304 and r.data == b"" and r.headers["ETag"] == 'W/"1"'
    assert c.get(path, headers={"If-None-Match": 'W/"9"'}).status_code == 200
    r = patch(c, path, {"op": "replace", "path": "displayName", "value": "x"}, headers={"If-Match": 'W/"7"'})
    assert_error(r, 412)
    r = patch(c, path, {"op": "replace", "path": "displayName", "value": "x"}, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"2"'
    assert_error(c.put(path, json={"userName": "etag"}, headers={"If-Match": 'W/"1"'}), 412)
    assert_error(c.delete(path, headers={"If-Match": 'W/"1"'}), 412)
    assert c.delete(path, headers={"If-Match": "*"}).status_code == 204


@pytest.mark.parametrize("body, scim_type", [
    ({"userName": ""}, "invalidValue"),
    ({"name": {"givenName": "x"}}, "invalidValue"),
    ({"userName": "x", "emails": {"value": "a@b.c"}}, "invalidValue"),
    ({"userName": "x", "bogus": 1}, "invalidValue"),
    ({"userName": "x" * 400}, "invalidValue"),
    ([1, 2], "invalidSyntax"),
])
def test_bad_bodies_are_400(workspace_setup, body, scim_type):
    assert_error(workspace_setup.scim_client.post("/scim/v2/Users", json=body), 400, scim_type)


def test_bad_patches_are_400(workspace_setup):
    c = workspace_setup.scim_client
    user = create(c, "patchy")
    path = f"/scim/v2/Users/{user['id']}"
    assert_error(c.patch(path, json={"schemas": [PATCH]}), 400, "invalidSyntax")
    assert_error(patch(c, path, {"op": "jump", "path": "userName", "value": "x"}), 400)
    assert_error(patch(c, path, {"op": "replace", "path": "no[such", "value": "x"}), 400, "invalidPath")
    assert_error(patch(c, path, {"op": "remove", "path": "userName"}), 400)
    # A PATCH is atomic: the first operation is undone when the second fails.
    r = patch(c, path, {"op": "replace", "path": "displayName", "value": "kept?"},
              {"op": "replace", "path": "groups", "value": []})
    assert r.status_code == 400
    assert "displayName" not in c.get(path).json


def test_attributes_and_excluded_attributes_on_single_resources(workspace_setup):
    c = workspace_setup.scim_client
    user = create(c, "proj", name={"givenName": "G", "familyName": "F"})
    r = c.get(f"/scim/v2/Users/{user['id']}?attributes=userName,name.givenName")
    assert r.json == {"schemas": [USER], "id": user["id"], "userName": "proj", "name": {"givenName": "G"}}
    r = c.get(f"/scim/v2/Users/{user['id']}?excludedAttributes=emails,meta,name.familyName")
    assert "emails" not in r.json and "meta" not in r.json and r.json["name"] == {"givenName": "G"}
    r = c.post("/scim/v2/Users?attributes=userName", json={"userName": "proj2"})
    assert r.status_code == 201 and set(r.json) == {"schemas", "id", "userName"}


def test_nul_in_any_string_is_400_invalid_value(workspace_setup):
    """PostgreSQL cannot store NUL in text: every write refuses it before the database sees it."""
    c = workspace_setup.scim_client
    for body in ({"userName": "nul\u0000name"}, {"userName": "ok-nul", "name": {"givenName": "a\u0000"}},
                 {"userName": "ok-nul", "emails": [{"value": "a\u0000@x.com"}]}):
        r = c.post("/scim/v2/Users", json=body)
        assert r.status_code == 400 and r.json["scimType"] == "invalidValue", r.data[:300]
        assert "NUL" in r.json["detail"]
    user = c.post("/scim/v2/Users", json={"userName": "ok-nul"}).json
    r = c.patch(f"/scim/v2/Users/{user['id']}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "x\u0000"}]})
    assert r.status_code == 400 and r.json["scimType"] == "invalidValue", r.data[:300]
    r = c.post("/scim/v2/Groups", json={"displayName": "g\u0000"})
    assert r.status_code == 400 and r.json["scimType"] == "invalidValue", r.data[:300]
    r = c.post("/scim/v2/Groups", json={"displayName": "g", "members": [{"value": "\u0000"}]})
    assert r.status_code == 400 and r.json["scimType"] == "invalidValue", r.data[:300]
    assert c.get(f"/scim/v2/Users/{user['id']}").json["userName"] == "ok-nul"


def test_nul_in_ids_and_filters_is_not_a_500(workspace_setup):
    c = workspace_setup.scim_client
    assert c.get("/scim/v2/Users/a%00b").status_code == 404
    assert c.get("/scim/v2/Groups/a%00b").status_code == 404
    for text in ('userName eq "a\u0000"', 'userName eq "a\\u0000"', 'emails[value sw "\u0000"]'):
        r = c.get("/scim/v2/Users", query_string={"filter": text})
        assert r.status_code == 400 and r.json["scimType"] == "invalidFilter", r.data[:300]
    r = c.post("/scim/v2/.search", json={"filter": 'displayName eq "\u0000"'})
    assert r.status_code == 400 and r.json["scimType"] == "invalidFilter", r.data[:300]


def test_user_update_reads_roles_once_and_checks_the_manager_only_when_it_changes(workspace_setup,
                                                                                  monkeypatch):
    c = workspace_setup.scim_client
    boss = create(c, "boss2")
    user = create(c, "worker2", roles=[{"value": "Readonly", "type": "dev"}],
                  **{ENTERPRISE: {"manager": {"value": boss["id"]}}})
    path = f"/scim/v2/Users/{user['id']}"
    statements = []
    original = db.obj.execute_sql

    def recording(sql, params=None):
        statements.append(sql)
        return original(sql, params)

    monkeypatch.setattr(db.obj, "execute_sql", recording)
    body = {"userName": "worker2", "displayName": "W", "roles": [{"value": "Admin", "type": "dev"}],
            ENTERPRISE: {"manager": {"value": boss["id"]}}}
    r = c.put(path, json=body)
    assert r.status_code == 200 and r.json["roles"] == [{"value": "Admin", "type": "dev"}], r.json
    write = statements[:next(i for i, s in enumerate(statements) if s.lstrip().upper().startswith("UPDATE"))]
    role_reads = [s for s in write if s.lstrip().upper().startswith("SELECT") and '"member_role"' in s]
    assert len(role_reads) == 1, role_reads
    member_reads = [s for s in write if s.lstrip().upper().startswith("SELECT") and 'FROM "member"' in s]
    assert len(member_reads) == 1, member_reads  # the locked row only: the manager did not change
    del statements[:]
    body[ENTERPRISE] = {"manager": {"value": "nobody"}}
    assert_error(c.put(path, json=body), 400, "invalidValue")
