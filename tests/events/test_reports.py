"""Auditors' reports: counts per day and operation, deprovisioning latency, who can reach prod and how."""

import dataclasses
import datetime

import time_machine

from models.db import utcnow
from models.directory import Group, GroupGrant, GroupMember, Member, Role
from models.services import Actor, mutation
from tests import factories

from .conftest import connected

REPORTS = "/api/v1/workspaces/acme/events/reports"
OKTA = Actor(kind="service", token_id="tok-okta", token_label="okta", scopes=frozenset({"scim"}), idp="okta")


def test_daily_operation_counts_split_by_outcome(setup):
    yesterday = utcnow() - datetime.timedelta(days=1)
    with connected(), time_machine.travel(yesterday.replace(hour=12), tick=False):
        for _ in range(2):
            with mutation(setup.workspace, OKTA) as change:
                change.record("user.created", "user", "u", "u@acme.test")
    setup.admin_client.delete("/api/v1/workspaces/acme/members/nobody")
    r = setup.audit_client.get(f"{REPORTS}/daily-operations")
    assert r.status_code == 200, r.json
    items = {(i["day"], i["operation"]): i for i in r.json["items"]}
    assert items[(yesterday.date().isoformat(), "user.created")] == {
        "day": yesterday.date().isoformat(), "operation": "user.created", "total": 2, "success": 2,
        "failure": 0}
    today = utcnow().date().isoformat()
    assert items[(today, "member.removed")]["failure"] == 1
    r = setup.audit_client.get(f"{REPORTS}/daily-operations", query_string={"from": today + "T00:00:00"})
    assert {i["day"] for i in r.json["items"]} == {today}


def test_deprovisioning_measures_request_to_access_gone(setup, app):
    with connected():
        jane, _ = factories.make_member(setup.workspace, "jane@acme.test", {"prod": "Readonly"})
        bob, _ = factories.make_member(setup.workspace, "bob@acme.test", {"prod": "Readonly"})
    okta = dataclasses.replace(OKTA, received_at=utcnow() - datetime.timedelta(seconds=2))  # 2 s ago
    with app.test_request_context("/scim/v2/Users/x", method="PATCH"), connected():
        with mutation(setup.workspace, okta, "user.updated") as change:
            Member.update(status="suspended").where(Member.id == jane.id).execute()
            change.record("user.deactivated", "user", jane.id, jane.user_name, before={"active": True},
                          after={"active": False})
    assert setup.admin_client.delete(f"/api/v1/workspaces/acme/members/{bob.id}").status_code == 204
    r = setup.audit_client.get(f"{REPORTS}/deprovisioning")
    assert r.status_code == 200, r.json
    by_member = {i["member_id"]: i for i in r.json["items"]}
    assert by_member[jane.id]["operation"] == "user.deactivated" and by_member[jane.id]["idp"] == "okta"
    assert 2.0 <= by_member[jane.id]["seconds"] < 30
    assert by_member[bob.id]["operation"] == "member.removed" and 0 <= by_member[bob.id]["seconds"] < 30
    assert by_member[bob.id]["requested_at"] <= by_member[bob.id]["access_removed_at"]
    assert r.json["summary"]["count"] == 2 and r.json["summary"]["max_seconds"] >= 2.0


def test_prod_access_lists_direct_roles_and_groups_with_the_granting_event(setup):
    with connected():
        jane, _ = factories.make_member(setup.workspace, "jane@acme.test", {"dev": "Member"})
        bob, _ = factories.make_member(setup.workspace, "bob@acme.test", {"dev": "Member"})
        gone, _ = factories.make_member(setup.workspace, "gone@acme.test", {"prod": "Admin"},
                                        status="suspended")
        readonly = Role.get(Role.workspace == setup.workspace.id, Role.name == "Readonly")
        with mutation(setup.workspace, OKTA) as change:
            eng = Group.create(workspace=setup.workspace.id, display_name="Engineering",
                               display_name_ci="engineering")
            GroupGrant.create(workspace=setup.workspace.id, group=eng.id, environment="prod",
                              role=readonly.id)
            GroupMember.create(workspace=setup.workspace.id, group=eng.id, member=bob.id)
            change.record("group.created", "group", eng.id, "Engineering",
                          after={"members": [{"value": bob.id}]})
    r = setup.owner_client.put(f"/api/v1/workspaces/acme/members/{jane.id}/roles", json={"env_roles": [
        {"environment_type": "prod", "name": "Admin"}]})
    assert r.status_code == 200
    r = setup.audit_client.get(f"{REPORTS}/access")
    assert r.status_code == 200, r.json
    items = {i["user_name"]: i for i in r.json["items"]}
    assert set(items) == {"owner@acme.test", "jane@acme.test", "bob@acme.test"}  # not the suspended one
    (jane_src,) = items["jane@acme.test"]["sources"]
    assert jane_src["type"] == "direct" and jane_src["role"] == "Admin"
    assert jane_src["granted_by"]["operation"] == "role.granted"
    assert jane_src["granted_by"]["actor_email"] == "owner@acme.test"
    (bob_src,) = items["bob@acme.test"]["sources"]
    assert (bob_src["type"], bob_src["group"], bob_src["role"]) == ("group", "Engineering", "Readonly")
    assert bob_src["member_since"]["idp"] == "okta"
    assert "audit:read" not in items["bob@acme.test"]["privileges"]
    assert gone.id not in {i["member_id"] for i in r.json["items"]}


def test_unknown_report_and_disabled_environment(setup):
    r = setup.audit_client.get(f"{REPORTS}/everything")
    assert r.status_code == 404 and "daily-operations" in r.json["message"]
    r = setup.audit_client.get(f"{REPORTS}/access", query_string={"environment": "staging"})
    assert r.status_code == 200 and r.json["items"] == [] and "not enabled" in r.json["note"]
