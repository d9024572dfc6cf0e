"""/Groups and the group membership engine: row deltas, references, nested groups, concurrency."""

import threading

import pytest
import requests
from werkzeug.serving import make_server

from models.db import db
from models.directory import GroupMember
from tests import factories

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def make_users(client, n, prefix="u"):
    ids = []
    for i in range(n):
        r = client.post("/scim/v2/Users", json={"userName": f"{prefix}{i}"})
        assert r.status_code == 201, r.json
        ids.append(r.json["id"])
    return ids


def patch(client, path, *operations, **kwargs):
    return client.patch(path, json={"schemas": [PATCH], "Operations": list(operations)}, **kwargs)


def member_ids(group_id):
    with db.connection_context():
        return sorted(row[0] for row in GroupMember.select(GroupMember.member)
                      .where(GroupMember.group == group_id).tuples())


def assert_error(r, status, scim_type=None):
    assert r.status_code == status, (r.status_code, r.json)
    assert r.json["schemas"] == [ERROR] and r.json["status"] == str(status)
    if scim_type:
        assert r.json["scimType"] == scim_type


@pytest.fixture
def sql_log(app, monkeypatch):
    """Record every SQL statement the app runs."""
    statements = []
    database = db.obj
    original = database.execute_sql

    def recording(sql, params=None):
        statements.append(sql)
        return original(sql, params)

    monkeypatch.setattr(database, "execute_sql", recording)
    return statements


def test_create_group_entra_body_and_duplicate_name(workspace_setup):
    c = workspace_setup.scim_client
    body = {"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0", "displayName": "Group1DisplayName", "meta": {"resourceType": "Group"}}
    r = c.post("/scim/v2/Groups", json=body)
    assert r.status_code == 201, r.json
    assert r.json["displayName"] == "Group1DisplayName" and r.json["externalId"] == "8aa1a0c0"
    assert r.headers["Location"] == r.json["meta"]["location"] and r.headers["ETag"] == 'W/"1"'
    assert "members" not in r.json
    r = c.post("/scim/v2/Groups", json={"displayName": "group1displayname"})
    assert_error(r, 409, "uniqueness")
    other = c.post("/scim/v2/Groups", json={"displayName": "Other"}).json
    rename = {"op": "Replace", "path": "displayName", "value": "GROUP1DISPLAYNAME"}
    assert_error(patch(c, f"/scim/v2/Groups/{other['id']}", rename), 409, "uniqueness")


def test_member_display_is_returned_only_on_request(workspace_setup):
    c = workspace_setup.scim_client
    r = c.post("/scim/v2/Users", json={"userName": "shown", "displayName": "Shown Name"})
    uid = r.json["id"]
    ref = f"http://roster.test/scim/v2/Users/{uid}"
    group = c.post("/scim/v2/Groups", json={"displayName": "Shown", "members": [{"value": uid}]}).json
    # RFC 7643 §7 returned "request": the client gets back exactly the members it wrote.
    assert group["members"] == [{"value": uid, "$ref": ref, "type": "User"}]
    path = f"/scim/v2/Groups/{group['id']}"
    assert c.get(path).json["members"] == [{"value": uid, "$ref": ref, "type": "User"}]
    assert c.get(f"{path}?attributes=members").json["members"] == [
        {"value": uid, "$ref": ref, "type": "User"}]
    assert c.get(f"{path}?attributes=members.value,members.display").json["members"] == [
        {"value": uid, "display": "Shown Name"}]
    listed = c.get("/scim/v2/Groups?attributes=members.display").json["Resources"]
    assert listed[0]["members"] == [{"display": "Shown Name"}]
    # The attribute exists for filters whatever it returns.
    r = c.get('/scim/v2/Groups?filter=members.display eq "shown name"&attributes=displayName')
    assert [g["displayName"] for g in r.json["Resources"]] == ["Shown"]


def test_rfc_7644_members_add_and_remove(workspace_setup):
    c = workspace_setup.scim_client
    a, b, d = make_users(c, 3)
    group = c.post("/scim/v2/Groups", json={"displayName": "Tour Guides", "members": [{"value": a}]}).json
    path = f"/scim/v2/Groups/{group['id']}"
    # RFC 7644 §3.5.2.1: add members.
    r = patch(c, path, {"op": "add", "path": "members", "value": [
        {"display": "Babs Jensen", "$ref": f"https://example.com/v2/Users/{b}", "value": b}]})
    assert r.status_code == 204 and r.headers["ETag"] == 'W/"2"'
    assert member_ids(group["id"]) == sorted([a, b])
    # Adding an existing member changes nothing and writes no duplicate.
    assert patch(c, path, {"op": "add", "path": "members", "value": [{"value": a}]}).status_code == 204
    assert member_ids(group["id"]) == sorted([a, b])
    # RFC 7644 §3.5.2.2: remove one member by filter (Okta, flagged Entra) ...
    patch(c, path, {"op": "remove", "path": f'members[value eq "{a}"]'})
    assert member_ids(group["id"]) == [b]
    # ... Entra's default: remove by value list, only those ids.
    patch(c, path, {"op": "add", "path": "members", "value": [{"value": a}, {"value": d}]})
    patch(c, path, {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": a}]})
    assert member_ids(group["id"]) == sorted([b, d])
    # RFC 7644 §3.5.2.3: replace all members.
    patch(c, path, {"op": "replace", "path": "members", "value": [{"value": a}]})
    assert member_ids(group["id"]) == [a]
    # RFC 7644 §3.5.2.2: remove all members.
    patch(c, path, {"op": "remove", "path": "members"})
    assert member_ids(group["id"]) == []


def test_okta_push_rename_and_membership_in_one_patch(workspace_setup):
    c = workspace_setup.scim_client
    a, b = make_users(c, 2)
    group = c.post("/scim/v2/Groups", json={"displayName": "Test SCIMv2", "members": [{"value": a}]}).json
    path = f"/scim/v2/Groups/{group['id']}"
    r = patch(c, path, {"op": "replace", "value": {"id": group["id"], "displayName": "Renamed"}},
              {"op": "remove", "path": f'members[value eq "{a}"]'},
              {"op": "add", "path": "members", "value": [{"value": b, "display": "b"}]})
    assert r.status_code == 204
    got = c.get(path).json
    assert got["displayName"] == "Renamed" and [m["value"] for m in got["members"]] == [b]
    assert got["members"][0]["$ref"].endswith(f"/Users/{b}") and got["members"][0]["type"] == "User"


def test_patch_with_attributes_returns_200_with_resource(workspace_setup):
    c = workspace_setup.scim_client
    group = c.post("/scim/v2/Groups", json={"displayName": "G"}).json
    r = patch(c, f"/scim/v2/Groups/{group['id']}?excludedAttributes=members",
              {"op": "replace", "path": "displayName", "value": "G2"})
    assert r.status_code == 200 and r.json["displayName"] == "G2" and r.json["meta"]["version"] == 'W/"2"'


def test_member_references_must_be_users_of_this_workspace(workspace_setup, app):
    c = workspace_setup.scim_client
    with app.app_context(), db.connection_context():
        other_ws, _ = factories.make_workspace("Other", owner_email="boss@other.test")
        other_token = factories.make_service_token(other_ws, ["scim"])
    from tests.conftest import AuthClient
    other = AuthClient(c.client, other_token, "application/scim+json")
    stranger = other.post("/scim/v2/Users", json={"userName": "stranger"}).json["id"]
    mine = make_users(c, 1)[0]
    group = c.post("/scim/v2/Groups", json={"displayName": "G", "members": [{"value": mine}]}).json
    path = f"/scim/v2/Groups/{group['id']}"
    for bad in (stranger, "no-such-user"):
        r = patch(c, path, {"op": "add", "path": "members", "value": [{"value": mine}, {"value": bad}]})
        assert_error(r, 400, "invalidValue")
        assert bad in r.json["detail"]
        r = c.post("/scim/v2/Groups", json={"displayName": f"x{bad}", "members": [{"value": bad}]})
        assert_error(r, 400, "invalidValue")
    assert member_ids(group["id"]) == [mine]
    # Another workspace's token cannot see this group at all.
    assert_error(other.get(path), 404)


def test_nested_groups_are_refused(workspace_setup):
    c = workspace_setup.scim_client
    inner = c.post("/scim/v2/Groups", json={"displayName": "Inner"}).json
    outer = c.post("/scim/v2/Groups", json={"displayName": "Outer"}).json
    add = {"op": "add", "path": "members", "value": [{"value": inner["id"]}]}
    r = patch(c, f"/scim/v2/Groups/{outer['id']}", add)
    assert_error(r, 400, "invalidValue")
    assert "Nested groups are not supported" in r.json["detail"]


def test_put_group_replaces_membership(workspace_setup):
    c = workspace_setup.scim_client
    a, b, d = make_users(c, 3)
    group = c.post("/scim/v2/Groups", json={"displayName": "P", "members": [{"value": a}, {"value": b}]}).json
    r = c.put(f"/scim/v2/Groups/{group['id']}", json={"schemas": [GROUP], "displayName": "P2",
                                                      "members": [{"value": b}, {"value": d}]})
    assert r.status_code == 200 and r.json["displayName"] == "P2"
    assert sorted(m["value"] for m in r.json["members"]) == sorted([b, d])
    assert member_ids(group["id"]) == sorted([b, d])


def test_user_groups_are_derived_and_read_only(workspace_setup):
    c = workspace_setup.scim_client
    uid = make_users(c, 1)[0]
    group = c.post("/scim/v2/Groups", json={"displayName": "Derived", "members": [{"value": uid}]}).json
    user = c.get(f"/scim/v2/Users/{uid}").json
    assert user["groups"] == [{"value": group["id"], "display": "Derived", "type": "direct",
                               "$ref": f"http://roster.test/scim/v2/Groups/{group['id']}"}]
    c.delete(f"/scim/v2/Groups/{group['id']}")
    assert "groups" not in c.get(f"/scim/v2/Users/{uid}").json
    assert_error(c.get(f"/scim/v2/Groups/{group['id']}"), 404)


def test_excluded_members_never_touches_group_member(workspace_setup, sql_log):
    c = workspace_setup.scim_client
    uid = make_users(c, 1)[0]
    group = c.post("/scim/v2/Groups", json={"displayName": "Quiet", "members": [{"value": uid}]}).json
    sql_log.clear()
    r = c.get(f"/scim/v2/Groups/{group['id']}?excludedAttributes=members")
    assert r.status_code == 200 and "members" not in r.json
    r = c.get('/scim/v2/Groups?excludedAttributes=members&filter=displayName eq "quiet"')
    assert r.json["totalResults"] == 1 and "members" not in r.json["Resources"][0]
    assert sql_log and not [s for s in sql_log if "group_member" in s]


def test_membership_changes_write_only_the_changed_rows(workspace_setup, sql_log):
    c = workspace_setup.scim_client
    ids = make_users(c, 5)
    body = {"displayName": "Rows", "members": [{"value": i} for i in ids[:3]]}
    group = c.post("/scim/v2/Groups", json=body).json
    path = f"/scim/v2/Groups/{group['id']}"
    sql_log.clear()
    patch(c, path, {"op": "add", "path": "members", "value": [{"value": ids[3]}]})
    patch(c, path, {"op": "remove", "path": f'members[value eq "{ids[0]}"]'})
    touching = [s for s in sql_log if "group_member" in s]
    # One INSERT ... ON CONFLICT/OR IGNORE and one DELETE ... WHERE member IN (...): no membership read.
    assert len(touching) == 2, touching
    assert touching[0].startswith("INSERT") and ("IGNORE" in touching[0] or "ON CONFLICT" in touching[0])
    assert touching[1].startswith("DELETE") and "IN" in touching[1]
    assert not [s for s in touching if s.startswith("SELECT")]


def test_large_membership_lists(workspace_setup):
    """More ids than SQLite's bound-variable limit per statement go through one JSON parameter."""
    c = workspace_setup.scim_client
    ids = make_users(c, 250, prefix="big")
    group = c.post("/scim/v2/Groups", json={"displayName": "Big"}).json
    path = f"/scim/v2/Groups/{group['id']}"
    r = patch(c, path, {"op": "add", "path": "members", "value": [{"value": i} for i in ids]})
    assert r.status_code == 204
    assert member_ids(group["id"]) == sorted(ids)
    keep = ids[:220]
    patch(c, path, {"op": "replace", "path": "members", "value": [{"value": i} for i in keep]})
    assert member_ids(group["id"]) == sorted(keep)
    patch(c, path, {"op": "Remove", "path": "members", "value": [{"value": i} for i in keep[:210]]})
    assert member_ids(group["id"]) == sorted(keep[210:])


def test_remove_members_by_other_filters(workspace_setup):
    c = workspace_setup.scim_client
    ids = make_users(c, 3, prefix="flt")
    group = c.post("/scim/v2/Groups", json={"displayName": "F", "members": [{"value": i} for i in ids]}).json
    r = patch(c, f"/scim/v2/Groups/{group['id']}", {"op": "remove", "path": 'members[display sw "flt1"]'})
    assert r.status_code == 204
    assert member_ids(group["id"]) == sorted([ids[0], ids[2]])


def test_concurrent_patches_lose_and_duplicate_nothing(workspace_setup, app):
    """8 clients PATCH one group at once over real HTTP: every add lands once, every remove sticks."""
    c = workspace_setup.scim_client
    per_thread, threads = 6, 8
    ids = make_users(c, per_thread * threads + 4, prefix="conc")
    shared, own = ids[:4], ids[4:]
    group = c.post("/scim/v2/Groups", json={"displayName": "Busy"}).json
    server = make_server("127.0.0.1", 0, app, threaded=True)
    runner = threading.Thread(target=server.serve_forever, daemon=True)
    runner.start()
    url = f"http://127.0.0.1:{server.server_port}/scim/v2/Groups/{group['id']}"
    headers = {"Authorization": f"Bearer {workspace_setup.scim_token}",
               "Content-Type": "application/scim+json"}
    failures = []
    barrier = threading.Barrier(threads)

    def client(n):
        mine = own[n * per_thread:(n + 1) * per_thread]
        session = requests.Session()
        barrier.wait()
        for member in mine:
            body = {"schemas": [PATCH], "Operations": [
                {"op": "add", "path": "members",
                 "value": [{"value": member}] + [{"value": s} for s in shared]}]}
            r = session.patch(url, json=body, headers=headers, timeout=60)
            if r.status_code != 204:
                failures.append((r.status_code, r.text))
        # Each client then removes its first member again.
        body = {"schemas": [PATCH],
                "Operations": [{"op": "remove", "path": f'members[value eq "{mine[0]}"]'}]}
        r = session.patch(url, json=body, headers=headers, timeout=60)
        if r.status_code != 204:
            failures.append((r.status_code, r.text))

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
    finally:
        server.shutdown()
        runner.join(10)
    assert not failures, failures[:3]
    removed = {own[n * per_thread] for n in range(threads)}
    expected = sorted(set(shared) | (set(own) - removed))
    assert member_ids(group["id"]) == expected
    with db.connection_context():
        assert GroupMember.select().where(GroupMember.group == group["id"]).count() == len(expected)
    got = c.get(f"/scim/v2/Groups/{group['id']}").json
    assert sorted(m["value"] for m in got["members"]) == expected


def test_every_scim_update_and_delete_filters_on_the_workspace(workspace_setup, sql_log):
    """docs/architecture.md: every query filters on workspace_id (Citus routes on it), writes included."""
    c = workspace_setup.scim_client
    user = c.post("/scim/v2/Users", json={"userName": "w1", "roles": [{"value": "Readonly", "type": "dev"}]}).json
    group = c.post("/scim/v2/Groups", json={"displayName": "W"}).json
    del sql_log[:]
    user_path, group_path = f"/scim/v2/Users/{user['id']}", f"/scim/v2/Groups/{group['id']}"
    assert c.put(user_path, json={"userName": "w1b", "active": False,
                                  "roles": [{"value": "Admin", "type": "dev"}]}).status_code == 200
    assert patch(c, group_path, {"op": "replace", "path": "displayName", "value": "W2"},
                 {"op": "add", "path": "members", "value": [{"value": user["id"]}]}).status_code == 204
    assert c.put(group_path, json={"displayName": "W3"}).status_code == 200
    writes = [s for s in sql_log if s.lstrip().upper().startswith(("UPDATE", "DELETE"))]
    assert len(writes) >= 5, sql_log
    assert all('"workspace_id"' in s for s in writes), writes
    r = c.get(user_path).json
    assert r["userName"] == "w1b" and r["active"] is False and r["roles"] == [{"value": "Admin", "type": "dev"}]
    r = c.get(group_path)
    assert r.json["displayName"] == "W3" and "members" not in r.json and r.headers["ETag"] == 'W/"3"'


def test_patch_with_attributes_answers_what_a_get_reads(workspace_setup):
    c = workspace_setup.scim_client
    (user,) = make_users(c, 1, prefix="pa")
    group = c.post("/scim/v2/Groups", json={"displayName": "PA", "externalId": "e1"}).json
    path = f"/scim/v2/Groups/{group['id']}"
    r = patch(c, f"{path}?attributes=displayName,members,externalId,meta",
              {"op": "replace", "path": "displayName", "value": "PA2"},
              {"op": "add", "path": "members", "value": [{"value": user}]})
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"2"'
    assert r.json == c.get(f"{path}?attributes=displayName,members,externalId,meta").json
    r = patch(c, f"{path}?attributes=members,meta", {"op": "remove", "path": "members"})
    assert r.status_code == 200 and r.json["meta"]["version"] == 'W/"3"' and "members" not in r.json
    assert r.json == c.get(f"{path}?attributes=members,meta").json
