"""No change without its event, no success event for a rolled-back change, refusals recorded on their own."""

import pytest

from models.directory import MemberRole, Role
from models.services import audit, mutation
from models.services import members as members_svc
from tests import factories

from .conftest import connected, ops, rows

WS = "/api/v1/workspaces/acme"


def test_a_failed_write_leaves_neither_change_nor_success_event(setup):
    with connected():
        owner_member = members_svc.find_owner(setup.workspace)
    before = ops(setup.workspace)
    r = setup.owner_client.put(f"{WS}/members/{owner_member.id}/roles", json={"env_roles": [
        {"environment_type": "prod", "name": "Readonly"}]})
    assert r.status_code == 409, r.json
    with connected():
        admin = Role.get(Role.workspace == setup.workspace.id, Role.name == "Admin")
        prod = MemberRole.get(MemberRole.member == owner_member.id, MemberRole.environment == "prod")
        assert prod.role_id == admin.id
    after = rows(setup.workspace)
    assert [e["operation"] for e in after[:len(before)]] == before
    (failure,) = after[len(before):]
    assert failure["operation"] == "member.roles_changed" and failure["status"] == 409
    assert failure["error"] == "The owner cannot be demoted; transfer ownership first"
    assert failure["target_type"] == "user" and failure["target_id"] == owner_member.id
    assert failure["target_name"] == "owner@acme.test"
    assert not [e for e in after if e["operation"] in ("role.granted", "role.revoked")]


def test_when_the_event_cannot_be_written_the_change_is_rolled_back(setup, ctx, monkeypatch):
    def broken(workspace_id, records):
        raise RuntimeError("log unavailable")
    monkeypatch.setattr(audit.record, "append_events", broken)  # what record_change appends with
    with pytest.raises(RuntimeError):
        factories.make_role(setup.workspace, "Operator", ["members:read"])
    monkeypatch.undo()
    assert not Role.select().where(Role.workspace == setup.workspace.id, Role.name == "Operator").exists()
    assert "role.created" not in ops(setup.workspace)


def test_a_mutation_that_fails_after_recording_writes_only_the_failure(setup, ctx):
    with pytest.raises(ZeroDivisionError):
        with mutation(setup.workspace, factories.CLI, "role.created") as change:
            Role.create(workspace=setup.workspace.id, name="Ghost", name_ci="ghost", privileges=[])
            change.record("role.created", "role", "r1", "Ghost", after={"name": "Ghost"})
            1 / 0
    assert not Role.select().where(Role.name == "Ghost").exists()
    last = rows(setup.workspace)[-1]
    assert (last["operation"], last["status"], last["target_name"]) == ("role.created", 500, "Ghost")
    assert last["error"] == "Internal error (ZeroDivisionError)" and last["after"] is None
    assert audit.verify(setup.workspace)["ok"]


def test_a_missing_privilege_is_recorded_as_a_refusal(setup):
    _, person = None, None
    with connected():
        _, person = factories.make_member(setup.workspace, "reader@acme.test", {"prod": "Readonly"})
        token = factories.make_personal_token(person)
    client = setup.owner_client.__class__(setup.owner_client.client, token)
    r = client.post(f"{WS}/tokens", json={"scopes": ["scim"]})
    assert r.status_code == 403
    refused = rows(setup.workspace)[-1]
    assert (refused["operation"], refused["status"]) == ("token.created", 403)
    assert refused["error"] == "Missing privilege tokens:manage"
    assert refused["actor_email"] == "reader@acme.test" and refused["target_type"] == "token"


def test_unknown_member_bad_body_and_throttle_are_recorded(setup):
    r = setup.admin_client.delete(f"{WS}/members/no-such-member")
    assert r.status_code == 404
    refused = rows(setup.workspace)[-1]
    assert (refused["operation"], refused["status"], refused["target_id"]) == ("member.removed", 404,
                                                                                "no-such-member")
    r = setup.admin_client.post(f"{WS}/invitations", json={"email": 42})
    assert r.status_code == 422
    bad = rows(setup.workspace)[-1]
    assert (bad["operation"], bad["status"]) == ("invitation.sent", 422) and "email" in bad["error"]
    r = setup.admin_client.post(f"{WS}/invitations", json={"email": "jane@example.com", "env_roles": [
        {"environment_type": "prod", "name": "Boss"}]})
    assert r.status_code == 400
    assert rows(setup.workspace)[-1]["error"] == "Role Boss not found"
    setup.admin_client.post(f"{WS}/invitations", json={"email": "jane@example.com", "env_roles": []})
    r = setup.admin_client.post(f"{WS}/invitations", json={"email": "jane@example.com", "env_roles": []})
    assert r.status_code == 429
    throttled = rows(setup.workspace)[-1]
    assert (throttled["operation"], throttled["status"]) == ("invitation.sent", 429)
    assert [e["status"] for e in rows(setup.workspace, operation="invitation.sent")] == [422, 400, 200, 429]
    assert audit.verify(setup.workspace)["ok"]


def test_one_event_per_refusal_never_two(setup):
    before = len(rows(setup.workspace))
    r = setup.admin_client.put(f"{WS}/members/nobody/roles", json={"env_roles": []})
    assert r.status_code == 404
    assert len(rows(setup.workspace)) == before + 1


def test_reads_unauthenticated_and_foreign_requests_leave_no_event(setup, client, app):
    before = len(rows(setup.workspace))
    assert setup.owner_client.get(f"{WS}/members/nobody").status_code == 404
    assert client.post(f"{WS}/tokens", json={"scopes": ["scim"]}).status_code == 401
    with connected():
        other, other_owner = factories.make_workspace("Other", owner_email="boss@other.test")
        other_token = factories.make_service_token(other, ["admin"])
    foreign = setup.owner_client.__class__(client, other_token)
    assert foreign.post(f"{WS}/tokens", json={"scopes": ["scim"]}).status_code == 404
    assert len(rows(setup.workspace)) == before
    assert "token.created" not in [e["operation"] for e in rows(other) if e["status"] >= 400]


def test_scim_scope_cannot_use_the_admin_api_and_is_recorded(setup):
    before = len(rows(setup.workspace))
    r = setup.scim_client.post(f"{WS}/tokens", json={"scopes": ["admin"]})
    assert r.status_code == 403
    assert len(rows(setup.workspace)) == before + 1
    assert rows(setup.workspace)[-1]["actor_token_label"] == "test"
