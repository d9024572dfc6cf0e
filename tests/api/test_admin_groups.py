"""Groups managed by an admin: create, rename, delete, fill and empty them; groups an IdP pushed are refused."""

import threading

import pytest

from models.db import db
from models.directory import GroupMember
from models.events import ProvisioningEvent
from tests import factories
from tests.admin_helpers import assert_error, assert_guarded, snapshot

MANAGED = "Managed by okta: change it in the identity provider"


def _events(operation):
    with db.connection_context():
        return list(ProvisioningEvent.select().where(ProvisioningEvent.operation == operation)
                    .order_by(ProvisioningEvent.seq))


def _create(world, name="Contractors", **extra):
    r = world.c.owner.post(world.base + "/groups", json={"display_name": name, **extra})
    assert r.status_code == 201, r.json
    return r.json


def test_create_rename_fill_and_delete_a_group(world):
    group = _create(world, external_id="hr-42")
    assert (group["display_name"], group["external_id"], group["source"]) == ("Contractors", "hr-42", "admin")
    assert group["member_count"] == 0 and group["grants"] == {"dev": "NoAccess", "test": "NoAccess",
                                                              "prod": "NoAccess"}
    path = f"{world.base}/groups/{group['id']}"
    assert world.c.owner.get(world.base + "/groups/count").json == {"count": 2}

    r = world.c.admin.patch(path, json={"display_name": "Vendors"})
    assert r.status_code == 200 and r.json["display_name"] == "Vendors" and r.json["external_id"] == "hr-42"
    r = world.c.admin.patch(path, json={"external_id": None})
    assert r.status_code == 200 and r.json["external_id"] is None

    r = world.c.owner.post(path + "/members", json={"member_ids": [world.member.id, world.readonly.id]})
    assert r.status_code == 200
    assert sorted(r.json["added"]) == sorted([world.member.id, world.readonly.id])
    assert (r.json["removed"], r.json["member_count"]) == ([], 2)
    # Adding again changes nothing and records nothing new.
    again = world.c.owner.post(path + "/members", json={"member_ids": [world.member.id]})
    assert again.json == {"added": [], "removed": [], "member_count": 2}
    assert len(_events("group.members_added")) == 1

    listing = world.c.readonly.get(path + "/members", query_string={"page_size": 1})
    assert listing.status_code == 200
    assert (listing.json["total"], listing.json["page"], listing.json["page_size"]) == (2, 1, 1)
    assert [m["email"] for m in listing.json["items"]] == ["member@acme.test"]
    assert listing.json["items"][0]["groups"] == [{"id": group["id"], "display_name": "Vendors"}]

    r = world.c.owner.delete(path + "/members", json={"member_ids": [world.member.id, world.noaccess.id]})
    assert r.json == {"added": [], "removed": [world.member.id], "member_count": 1}
    assert world.c.owner.delete(path).status_code == 204
    assert_error(world.c.owner.get(path), 404)
    assert world.c.owner.get(world.base + "/groups/count").json == {"count": 1}

    # Same events as SCIM's group writes.
    assert [e.after for e in _events("group.created")] == [{"displayName": "Contractors", "externalId": "hr-42"}]
    assert [(e.before, e.after) for e in _events("group.renamed")] == [
        ({"displayName": "Contractors"}, {"displayName": "Vendors"})]
    assert [e.before for e in _events("group.members_removed")] == [{"members": [world.member.id]}]
    assert [e.before for e in _events("group.deleted")] == [{"displayName": "Vendors"}]


def test_a_grant_of_an_admin_group_reaches_its_members(world):
    group = _create(world)
    path = f"{world.base}/groups/{group['id']}"
    assert world.c.owner.put(path + "/grants", json={"env_roles": [{"environment_type": "dev",
                                                                     "name": "Admin"}]}).status_code == 200
    assert world.c.noaccess.get(world.base + "/groups").status_code == 403
    world.c.owner.post(path + "/members", json={"member_ids": [world.noaccess.id]})
    assert world.c.noaccess.get(world.base + "/groups").status_code == 200


@pytest.mark.parametrize("body, status, message", [
    ({"display_name": "engineering"}, 409, "A Group with displayName engineering already exists"),
    ({"display_name": "   "}, 400, "A group needs a display_name"),
    ({"display_name": ""}, 422, None),
    ({"display_name": "x" * 321}, 422, None),
    ({"display_name": "a\x00b"}, 422, None),
    ({}, 422, None),
    ({"display_name": 7}, 422, None),
    ({"display_name": "ok", "external_id": "y" * 321}, 422, None),
])
def test_create_group_bad_input(world, body, status, message):
    before = snapshot()
    error = assert_error(world.c.owner.post(world.base + "/groups", json=body), status)
    if message:
        assert error["message"] == message
    assert snapshot() == before
    assert _events("group.created")[-1].status == status


@pytest.mark.parametrize("ids, message", [
    (["nope"], "Members must be Users of this workspace; not found: nope"),
    (["other"], None),
    (["group"], None),
])
def test_member_ids_must_be_members_of_this_workspace(world, ids, message):
    group = _create(world)
    ids = [{"other": world.other_member.id, "group": world.group.id}.get(i, i) for i in ids]
    before = snapshot()
    error = assert_error(world.c.owner.post(f"{world.base}/groups/{group['id']}/members",
                                            json={"member_ids": [world.member.id] + ids}), 400)
    if message:
        assert error["message"] == message
    assert snapshot() == before
    assert _events("group.members_added")[-1].status == 400


@pytest.mark.parametrize("body", [{}, {"member_ids": []}, {"member_ids": "x"}, {"member_ids": [""]},
                                  {"member_ids": ["a" * 65]}, {"member_ids": ["a"] * 10001}])
def test_member_ids_body_is_validated(world, body):
    group = _create(world)
    before = snapshot()
    for method in ("post", "delete"):
        assert_error(getattr(world.c.owner, method)(f"{world.base}/groups/{group['id']}/members", json=body), 422)
    assert snapshot() == before


def test_groups_an_idp_pushed_are_managed_by_it(world):
    path = f"{world.base}/groups/{world.group.id}"
    before = snapshot()
    for response in (world.c.owner.patch(path, json={"display_name": "Renamed"}),
                     world.c.owner.patch(path, json={"external_id": "x"}),
                     world.c.admin.post(path + "/members", json={"member_ids": [world.member.id]}),
                     world.c.admin.delete(path + "/members", json={"member_ids": [world.operator.id]}),
                     world.c.owner.delete(path)):
        assert assert_error(response, 409)["message"] == MANAGED
    assert snapshot() == before
    assert [e.error.startswith(MANAGED) for e in _events("group.members_added")] == [True]
    # Its grants are Roster's; an unchanged name is no change.
    assert world.c.owner.put(path + "/grants", json={"env_roles": []}).status_code == 200
    assert world.c.owner.patch(path, json={"display_name": "Engineering"}).status_code == 200


def test_foreign_and_unknown_groups_are_404(world):
    before = snapshot()
    for group_id in (world.other_group.id, "nope", "0" * 36):
        path = f"{world.base}/groups/{group_id}"
        assert_error(world.c.owner.patch(path, json={"display_name": "x"}), 404)
        assert_error(world.c.owner.delete(path), 404)
        assert_error(world.c.owner.get(path + "/members"), 404)
        assert_error(world.c.owner.post(path + "/members", json={"member_ids": [world.member.id]}), 404)
        assert_error(world.c.owner.delete(path + "/members", json={"member_ids": [world.member.id]}), 404)
    assert snapshot() == before


@pytest.mark.parametrize("method, suffix, body, write", [
    ("POST", "/groups", {"display_name": "New"}, True),
    ("GET", "/groups/count", None, False),
    ("GET", "/groups/{id}/members", None, False),
    ("PATCH", "/groups/{id}", {"display_name": "New"}, True),
    ("DELETE", "/groups/{id}", None, True),
    ("POST", "/groups/{id}/members", {"member_ids": ["x"]}, True),
    ("DELETE", "/groups/{id}/members", {"member_ids": ["x"]}, True),
])
def test_admin_group_endpoints_are_guarded(world, method, suffix, body, write):
    assert_guarded(world, method, world.base + suffix.format(id=world.group.id), json=body, write=write)


def test_ten_thousand_members_in_one_call_and_concurrent_writers(world):
    with world.app.app_context(), db.connection_context(), db.atomic():
        ids = [factories.make_member(world.ws, f"bulk{i}@acme.test")[0].id for i in range(300)]
    group = _create(world)
    path = f"{world.base}/groups/{group['id']}/members"
    # Two writers adding overlapping halves at once: every id ends up in, each once.
    results = []

    def add(part):
        results.append(world.c.owner.post(path, json={"member_ids": part}))

    threads = [threading.Thread(target=add, args=(ids[:200],)), threading.Thread(target=add, args=(ids[100:],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200, 200]
    assert sorted(sum((r.json["added"] for r in results), [])) == sorted(ids)
    with db.connection_context():
        assert GroupMember.select().where(GroupMember.group == group["id"]).count() == 300
    r = world.c.owner.delete(path, json={"member_ids": ids + [f"missing-{i}" for i in range(9700)]})
    assert r.status_code == 200 and len(r.json["removed"]) == 300 and r.json["member_count"] == 0


def test_a_name_that_grows_when_lower_cased_is_400(world):
    before = snapshot()
    error = assert_error(world.c.owner.post(world.base + "/groups", json={"display_name": "\u0130" * 200}), 400)
    assert error["message"] == "Attribute 'displayName' is longer than 320 characters"
    assert snapshot() == before
