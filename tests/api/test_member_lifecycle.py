"""Member lifecycle: suspend and reactivate, display name, time zone and type (viewer = reads only); what an IdP
provisioned is refused; last_active_at."""

import datetime

import pytest

from models.db import db, utcnow
from models.directory import Member
from models.events import ProvisioningEvent
from models.privileges import READ_PRIVILEGES
from tests.admin_helpers import assert_error, assert_guarded, make_group, snapshot

OKTA = "Managed by okta: change it in the identity provider"


def _events(operation):
    with db.connection_context():
        return list(ProvisioningEvent.select().where(ProvisioningEvent.operation == operation)
                    .order_by(ProvisioningEvent.seq))


def _member(member_id):
    with db.connection_context():
        return Member.get_by_id(member_id)


def test_suspend_keeps_roles_and_groups_and_reactivates(world):
    path = f"{world.base}/members/{world.operator.id}"
    r = world.c.owner.patch(path, json={"status": "suspended"})
    assert r.status_code == 200 and r.json["status"] == "suspended"
    assert r.json["roles"]["dev"] == "Operator" and r.json["groups"][0]["display_name"] == "Engineering"
    assert world.c.operator.get(world.base + "/members").status_code == 403
    assert [e.after for e in _events("user.deactivated")] == [{"status": "suspended"}]
    r = world.c.admin.patch(path, json={"status": "active"})
    assert r.status_code == 200 and r.json["status"] == "active"
    assert world.c.operator.get(world.base + "/members").status_code == 200
    assert [e.before for e in _events("user.reactivated")] == [{"status": "suspended"}]


def test_display_name_time_zone_and_type(world):
    path = f"{world.base}/members/{world.member.id}"
    r = world.c.owner.patch(path, json={"display_name": "Mia", "time_zone": "Europe/Paris", "type": "viewer"})
    assert r.status_code == 200, r.json
    assert (r.json["display_name"], r.json["time_zone"], r.json["type"], r.json["source"]) == (
        "Mia", "Europe/Paris", "viewer", "admin")
    [event] = _events("member.updated")
    assert event.before == {"display_name": None, "time_zone": None, "type": "standard"}
    assert event.after == {"display_name": "Mia", "time_zone": "Europe/Paris", "type": "viewer"}
    # Nothing to change: nothing recorded.
    assert world.c.owner.patch(path, json={"type": "viewer"}).status_code == 200
    assert len(_events("member.updated")) == 1
    r = world.c.owner.patch(path, json={"time_zone": None, "type": "standard"})
    assert (r.json["time_zone"], r.json["type"]) == (None, "standard")


@pytest.mark.parametrize("body, status, message", [
    ({"time_zone": "Mars/Olympus"}, 400, "Unknown time zone Mars/Olympus"),
    ({"time_zone": "../../etc/passwd"}, 400, "Unknown time zone ../../etc/passwd"),
    ({"time_zone": " Europe/Paris"}, 400, "Unknown time zone  Europe/Paris"),
    ({"time_zone": "America"}, 400, "Unknown time zone America"),  # a directory of the zone database
    ({"type": "owner"}, 422, None),
    ({"status": "invited"}, 422, None),
    ({"status": None}, 422, None),
    ({"display_name": "x" * 321}, 422, None),
    ({"time_zone": "Europe/Paris", "type": "admin"}, 422, None),
])
def test_bad_updates_write_nothing(world, body, status, message):
    before = snapshot()
    error = assert_error(world.c.owner.patch(f"{world.base}/members/{world.member.id}", json=body), status)
    if message:
        assert error["message"] == message
    assert snapshot() == before
    assert _events("member.updated")[-1].status == status


def test_the_owner_cannot_be_suspended_nor_retyped(world):
    path = f"{world.base}/members/{world.owner_member.id}"
    before = snapshot()
    error = assert_error(world.c.admin.patch(path, json={"status": "suspended"}), 409)
    assert error["message"] == "The owner cannot be suspended; transfer ownership first"
    error = assert_error(world.c.admin.patch(path, json={"type": "viewer"}), 409)
    assert error["message"] == "The owner's type is owner; transfer ownership to change it"
    # A refused part refuses the whole call.
    assert_error(world.c.admin.patch(path, json={"time_zone": "UTC", "status": "suspended"}), 409)
    assert snapshot() == before


def test_what_an_idp_provisioned_is_refused_and_roles_stay_editable(world):
    with db.connection_context():
        Member.update(source="scim:okta").where(Member.id == world.member.id).execute()
    path = f"{world.base}/members/{world.member.id}"
    before = snapshot()
    for body in ({"status": "suspended"}, {"display_name": "Someone"}, {"time_zone": "UTC", "status": "suspended"}):
        assert assert_error(world.c.owner.patch(path, json=body), 409)["message"] == OKTA
    assert snapshot() == before
    r = world.c.owner.patch(path, json={"time_zone": "UTC", "type": "viewer", "status": "active"})
    assert r.status_code == 200 and (r.json["time_zone"], r.json["type"]) == ("UTC", "viewer")
    r = world.c.owner.put(path + "/roles", json={"env_roles": [{"environment_type": "dev", "name": "Admin"}]})
    assert r.status_code == 200


def test_a_viewer_reads_whatever_its_roles_and_groups_grant(world):
    # A contractor in an IdP group that grants Admin, with a direct Admin role too.
    with world.app.app_context(), db.connection_context():
        make_group(world.ws, "Admins", [world.noaccess], {"dev": "Admin"})
    world.c.owner.put(f"{world.base}/members/{world.noaccess.id}/roles",
                      json={"env_roles": [{"environment_type": "test", "name": "Admin"}]})
    assert world.c.noaccess.post(world.base + "/groups", json={"display_name": "Mine"}).status_code == 201
    world.c.owner.patch(f"{world.base}/members/{world.noaccess.id}", json={"type": "viewer"})
    before = snapshot()
    assert_error(world.c.noaccess.post(world.base + "/groups", json={"display_name": "Again"}), 403)
    assert_error(world.c.noaccess.patch(f"{world.base}/members/{world.member.id}", json={"type": "viewer"}), 403)
    assert snapshot() == before
    assert world.c.noaccess.get(world.base + "/members").status_code == 200
    report = {e["environment"]: e for e in world.c.owner.get(
        f"{world.base}/members/{world.noaccess.id}/privileges").json}
    assert set(report["dev"]["privileges"]) == READ_PRIVILEGES
    assert set(report["test"]["privileges"]) == READ_PRIVILEGES
    assert report["prod"]["privileges"] == []


@pytest.mark.parametrize("method, body", [("PATCH", {"type": "viewer"})])
def test_member_update_is_guarded(world, method, body):
    assert_guarded(world, method, f"{world.base}/members/{world.member.id}", json=body)


def test_foreign_member_is_404(world):
    before = snapshot()
    for member_id in (world.other_member.id, "nope"):
        assert_error(world.c.owner.patch(f"{world.base}/members/{member_id}", json={"type": "viewer"}), 404)
    assert snapshot() == before


def test_last_active_at_follows_the_person_at_most_once_a_minute(world):
    assert _member(world.member.id).last_active_at is None
    world.c.member.get(world.base + "/members")
    first = _member(world.member.id).last_active_at
    assert first is not None and utcnow() - first < datetime.timedelta(seconds=5)
    world.c.member.get(world.base + "/members")
    assert _member(world.member.id).last_active_at == first
    with db.connection_context():
        Member.update(last_active_at=first - datetime.timedelta(seconds=61)).where(
            Member.id == world.member.id).execute()
    world.c.member.get(world.base + "/groups")
    assert _member(world.member.id).last_active_at > first
    # Service tokens act as no person: nobody's activity moves, and SCIM pays no write for it.
    world.c.admin.get(world.base + "/members")
    assert _member(world.owner_member.id).last_active_at is None
    listed = {m["id"]: m for m in world.c.owner.get(world.base + "/members").json["items"]}
    assert listed[world.member.id]["last_active_at"] is not None
