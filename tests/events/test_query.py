"""Querying the log: filters, stable cursor pagination, histories, access and isolation."""

import datetime

import pytest

from models.directory import Group, GroupMember
from models.events import ProvisioningEvent as E
from models.services import Actor, audit, mutation
from tests import factories

from .conftest import connected, rows

EVENTS = "/api/v1/workspaces/acme/events"
OKTA = Actor(kind="service", token_id="tok-okta", token_label="okta", scopes=frozenset({"scim"}), idp="okta")


def _record(workspace, actor, operation, target_type="user", target_id="u1", name="jane@acme.test", **kw):
    with connected(), mutation(workspace, actor) as change:
        change.record(operation, target_type, target_id, name, **kw)


def test_filters_by_operation_target_actor_outcome_idp_and_time(setup):
    ws = setup.workspace
    _record(ws, OKTA, "user.created", after={"userName": "jane@acme.test"})
    _record(ws, OKTA, "user.deactivated", before={"active": True}, after={"active": False})
    _record(ws, factories.CLI, "group.created", "group", "g1", "Eng")
    setup.admin_client.delete("/api/v1/workspaces/acme/members/nobody")  # a refusal

    def get(**params):
        r = setup.audit_client.get(EVENTS, query_string=dict(params, order="asc"))
        assert r.status_code == 200, r.json
        return [e["operation"] for e in r.json["items"]]

    assert get(operation="user.created,group.created") == ["user.created", "group.created"]
    assert get(operation="user.*") == ["user.created", "user.deactivated"]
    assert get(target_type="group") == ["group.created"]
    assert get(target_id="u1") == ["user.created", "user.deactivated"]
    assert get(actor="tok-okta") == ["user.created", "user.deactivated"]
    assert get(actor=setup.owner.id) == get(actor="OWNER@acme.test") == []
    assert get(idp="okta") == ["user.created", "user.deactivated"]
    assert get(outcome="failure") == ["member.removed"]
    assert "member.removed" not in get(outcome="success")
    last = rows(ws)[-1]["time"]
    assert get(**{"from": (last - datetime.timedelta(microseconds=1)).isoformat()}) == ["member.removed"]
    assert get(to=rows(ws)[0]["time"].isoformat() + "Z") == []
    assert get(**{"from": (last - datetime.timedelta(microseconds=1)).isoformat() + "+00:00",
                  "to": (last + datetime.timedelta(seconds=1)).isoformat() + "+00:00"}) == ["member.removed"]
    r = setup.audit_client.get(EVENTS, query_string={"outcome": "maybe"})
    assert r.status_code == 422
    r = setup.audit_client.get(EVENTS, query_string={"from": "2030-01-02T00:00:00",
                                                     "to": "2030-01-01T00:00:00"})
    assert r.status_code == 422


def test_cursor_pages_are_stable_while_events_arrive(setup):
    for i in range(7):
        _record(setup.workspace, factories.CLI, "user.updated", target_id=f"u{i}")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, "order": "asc", "operation": "user.updated"}
        if cursor:
            params["cursor"] = cursor
        r = setup.audit_client.get(EVENTS, query_string=params)
        assert r.status_code == 200, r.json
        seen += [e["target_id"] for e in r.json["items"]]
        cursor = r.json["next_cursor"]
        pages += 1
        if pages == 1:
            _record(setup.workspace, factories.CLI, "user.updated", target_id="late")
        if not cursor:
            break
    assert seen == [f"u{i}" for i in range(7)] + ["late"]

    r = setup.audit_client.get(EVENTS, query_string={"limit": 2})
    newest = [e["seq"] for e in r.json["items"]]
    r2 = setup.audit_client.get(EVENTS, query_string={"limit": 2, "cursor": r.json["next_cursor"]})
    assert newest[0] > newest[1] > r2.json["items"][0]["seq"]


# The last one is a well-formed cursor with a seq beyond 64 bits (it once reached the driver: a 500).
@pytest.mark.parametrize("cursor", ["garbage!", "eyJvIjoiYXNjIiwicyI6M30", "eyJzIjoiMyJ9", "eyJvIjoiZGVzYyIsInMiOjEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDB9"])
def test_bad_cursors_are_refused(setup, cursor):
    r = setup.audit_client.get(EVENTS, query_string={"cursor": cursor, "order": "desc"})
    assert r.status_code == 400 and r.json["message"] == "Invalid cursor"


def test_member_history_survives_removal_and_includes_group_changes(setup):
    with connected():
        member, _ = factories.make_member(setup.workspace, "jane@acme.test", {"prod": "Readonly"})
        with mutation(setup.workspace, OKTA) as change:
            group = Group.create(workspace=setup.workspace.id, display_name="Eng", display_name_ci="eng")
            change.record("group.created", "group", group.id, "Eng", after={"displayName": "Eng"})
        with mutation(setup.workspace, OKTA) as change:
            GroupMember.create(workspace=setup.workspace.id, group=group.id, member=member.id)
            change.record("group.members_added", "group", group.id, "Eng",
                          after={"members": [{"value": member.id}]})
        with mutation(setup.workspace, OKTA) as change:
            GroupMember.delete().where(GroupMember.member == member.id).execute()
            change.record("group.members_removed", "group", group.id, "Eng", before={"members": [member.id]})
        with mutation(setup.workspace, OKTA) as change:
            change.record("group.renamed", "group", group.id, "Engineering", before={"displayName": "Eng"},
                          after={"displayName": "Engineering"})
    assert setup.admin_client.delete(f"/api/v1/workspaces/acme/members/{member.id}").status_code == 204
    r = setup.audit_client.get(f"{EVENTS}/members/{member.id}")
    assert r.status_code == 200, r.json
    assert [e["operation"] for e in r.json["items"]] == ["member.added", "group.members_added",
                                                        "group.members_removed", "member.removed"]
    r = setup.audit_client.get(f"{EVENTS}/groups/{group.id}/membership")
    assert [e["operation"] for e in r.json["items"]] == ["group.created", "group.members_added",
                                                        "group.members_removed"]
    r = setup.audit_client.get(f"{EVENTS}/members/{member.id}", query_string={"limit": 1})
    r = setup.audit_client.get(f"{EVENTS}/members/{member.id}", query_string={"limit": 5,
                                                                             "cursor": r.json["next_cursor"]})
    assert [e["operation"] for e in r.json["items"]][0] == "group.members_added"


def test_get_one_event(setup):
    first = rows(setup.workspace)[0]
    r = setup.audit_client.get(f"{EVENTS}/{first['id']}")
    assert r.status_code == 200 and r.json["seq"] == 1 and r.json["hash"] == first["hash"]
    assert setup.audit_client.get(f"{EVENTS}/nope").status_code == 404


def test_access_needs_the_audit_scope_or_privilege(setup, client):
    assert setup.audit_client.get(EVENTS).status_code == 200
    assert setup.admin_client.get(EVENTS).status_code == 200
    assert setup.scim_client.get(EVENTS).status_code == 403
    assert client.get(EVENTS).status_code == 401
    with connected():
        _, reader = factories.make_member(setup.workspace, "reader@acme.test", {"prod": "Readonly"})
        _, auditor = factories.make_member(setup.workspace, "auditor@acme.test", {})
        role = factories.make_role(setup.workspace, "Auditor", ["audit:read"])
        from models.services import members as members_svc
        member = members_svc.member_query(setup.workspace, email="auditor@").get()
        members_svc.set_roles(setup.workspace, factories.CLI, member.id, [{"environment_type": "prod",
                                                                           "name": role.name}])
        reader_token = factories.make_personal_token(reader)
        auditor_token = factories.make_personal_token(auditor)
    as_reader = setup.owner_client.__class__(client, reader_token)
    as_auditor = setup.owner_client.__class__(client, auditor_token)
    assert as_reader.get(EVENTS).status_code == 403
    assert as_auditor.get(EVENTS).status_code == 200
    assert as_auditor.get(f"{EVENTS}/export").status_code == 403  # audit:export is separate
    assert setup.audit_client.get(f"{EVENTS}/export").status_code == 200
    assert setup.audit_client.post(f"{EVENTS}/prune").status_code == 403


def test_one_workspace_never_sees_another(setup, client):
    with connected():
        other, boss = factories.make_workspace("Other", owner_email="boss@other.test")
        other_audit = factories.make_service_token(other, ["audit:read"])
        boss_token = factories.make_personal_token(boss)
    foreign = setup.owner_client.__class__(client, other_audit)
    for path in ("", "/verify", "/export", "/reports/daily-operations", f"/{rows(setup.workspace)[0]['id']}"):
        assert foreign.get(EVENTS + path).status_code == 404, path
    assert setup.owner_client.__class__(client, boss_token).get(EVENTS).status_code == 404
    r = foreign.get(f"/api/v1/workspaces/{other.slug}/events", query_string={"limit": 500})
    assert r.status_code == 200
    assert {e["workspace_id"] for e in r.json["items"]} == {other.id}
    first_acme = rows(setup.workspace)[0]["id"]
    assert foreign.get(f"/api/v1/workspaces/{other.slug}/events/{first_acme}").status_code == 404
    with connected():
        assert audit.member_history(other, rows(setup.workspace)[1]["target_id"])[0] == []
        assert E.select().where(E.workspace_id == other.id, E.seq == 1).count() == 1


@pytest.mark.parametrize("param", ["operation", "target_type", "target_id", "actor", "idp"])
def test_nul_in_a_filter_is_refused_not_a_500(setup, param):
    # PostgreSQL refuses NUL in text; the API must say so as bad input, on SQLite too.
    r = setup.audit_client.get(EVENTS, query_string={param: "a\x00b"})
    assert r.status_code == 422 and param in r.json["errors"]["query"], r.json
