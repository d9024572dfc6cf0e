"""Every operation of the admin API and the command line lands in the log once, with who, what and how."""

import json
import re

import time_machine
from click.testing import CliRunner

from models.db import db, utcnow
from models.directory import Group, GroupMember
from models.services import Actor, mutation
from tests import factories

from .conftest import connected, ops, rows

WS = "/api/v1/workspaces/acme"


def _member(setup, email, roles=None):
    with connected():
        member, person = factories.make_member(setup.workspace, email, roles or {"dev": "Member"})
    return member, person


def _dump(setup):
    return json.dumps([{k: str(v) for k, v in e.items()} for e in rows(setup.workspace)])


def _last(setup, operation):
    found = rows(setup.workspace, operation=operation)
    assert found, f"no {operation} event in {ops(setup.workspace)}"
    return found[-1]


def test_workspace_creation_is_the_start_of_its_chain(setup):
    first = rows(setup.workspace)[:2]
    assert [(e["seq"], e["operation"]) for e in first] == [(1, "workspace.created"), (2, "member.added")]
    assert first[0]["prev_hash"] == "0" * 64
    assert first[1]["after"] == {"owner": True, "roles": {"dev": "Admin"}}


def test_token_created_and_revoked_record_the_actor_and_never_the_secret(setup):
    r = setup.owner_client.post(f"{WS}/tokens", json={"scopes": ["scim"], "label": "okta"},
                                headers={"User-Agent": "curl/8.5", "X-Request-Id": "req-42"})
    assert r.status_code == 201, r.json
    created = _last(setup, "token.created")
    assert created["target_type"] == "token" and created["target_id"] == r.json["id"]
    assert created["target_name"] == "okta"
    assert created["after"]["scopes"] == ["scim"] and created["status"] == 200
    assert created["actor_kind"] == "personal" and created["actor_email"] == "owner@acme.test"
    assert created["actor_person_id"] == setup.owner.id and created["actor_token_label"] == "test"
    assert created["user_agent"] == "curl/8.5" and created["request_id"] == "req-42"
    assert created["client_ip"] == "127.0.0.1"
    assert created["received_at"] is not None and created["received_at"] <= created["time"]
    assert r.json["token"] not in _dump(setup)

    r = setup.admin_client.delete(f"{WS}/tokens/{r.json['id']}")
    assert r.status_code == 204
    revoked = _last(setup, "token.revoked")
    assert revoked["target_id"] == created["target_id"] and revoked["actor_kind"] == "service"
    assert (revoked["before"], revoked["after"]) == ({"revoked": False}, {"revoked": True})


def test_invitation_sent_resent_revoked_and_accepted(setup, mailbox):
    body = {"email": "jane@example.com", "name": "Jane", "env_roles": [{"environment_type": "prod",
                                                                         "name": "Readonly"}]}
    r = setup.owner_client.post(f"{WS}/invitations", json=body)
    assert r.status_code == 201, r.json
    inv_id = r.json["id"]
    sent = _last(setup, "invitation.sent")
    assert sent["target_name"] == "jane@example.com"
    assert sent["after"]["env_roles"] == {"dev": "NoAccess", "test": "NoAccess", "prod": "Readonly"}

    with time_machine.travel(utcnow().timestamp() + 21 * 60):
        r = setup.owner_client.post(f"{WS}/invitations/{inv_id}/resend")
        assert r.status_code == 200, r.json
    assert _last(setup, "invitation.resent")["target_id"] == inv_id
    raw = re.search(r"token=([\w-]+)", mailbox.last_to("jane@example.com")["body"]).group(1)

    r = setup.owner_client.client.post("/api/v1/invitations/accept", json={"token": raw})
    assert r.status_code == 201, r.json
    accepted = _last(setup, "invitation.accepted")
    added = _last(setup, "member.added")
    assert added["seq"] == accepted["seq"] - 1 and added["target_id"] == r.json["id"]
    assert accepted["actor_kind"] == "public" and accepted["after"] == {"member": r.json["id"]}
    assert raw not in _dump(setup)

    r = setup.owner_client.post(f"{WS}/invitations", json={"email": "bob@example.com", "env_roles": []})
    r = setup.owner_client.delete(f"{WS}/invitations/{r.json['id']}")
    assert r.status_code == 204
    assert _last(setup, "invitation.revoked")["target_name"] == "bob@example.com"


def test_role_granted_and_revoked_per_environment(setup):
    member, _ = _member(setup, "jane@example.com", {"dev": "Member"})
    r = setup.owner_client.put(f"{WS}/members/{member.id}/roles", json={"env_roles": [
        {"environment_type": "prod", "name": "Readonly"}, {"environment_type": "dev", "name": "NoAccess"}]})
    assert r.status_code == 200, r.json
    granted, revoked = _last(setup, "role.granted"), _last(setup, "role.revoked")
    assert granted["after"] == {"environment": "prod", "role": "Readonly"}
    assert revoked["before"] == {"environment": "dev", "role": "Member"}
    assert granted["target_id"] == revoked["target_id"] == member.id
    assert granted["target_name"] == "jane@example.com"


def test_member_removed_keeps_the_name_it_had(setup):
    member, _ = _member(setup, "jane@example.com")
    assert setup.admin_client.delete(f"{WS}/members/{member.id}").status_code == 204
    removed = _last(setup, "member.removed")
    assert removed["target_name"] == "jane@example.com" and removed["before"]["roles"]["dev"] == "Member"


def test_member_left_and_ownership_transferred(setup):
    member, _ = _member(setup, "jane@example.com", {"dev": "Admin"})
    r = setup.owner_client.post(f"{WS}/transfer-ownership", json={"member_id": member.id})
    assert r.status_code == 200, r.json
    assert _last(setup, "member.ownership_transferred")["after"] == {"owner": member.id}
    other, other_person = _member(setup, "bob@example.com")
    with connected():
        bob_token = factories.make_personal_token(other_person)
    r = setup.owner_client.client.post(f"{WS}/leave", headers={"Authorization": f"Bearer {bob_token}"})
    assert r.status_code == 204, r.json
    left = _last(setup, "member.left")
    assert left["target_id"] == other.id and left["actor_email"] == "bob@example.com"


def test_custom_role_lifecycle(setup):
    r = setup.owner_client.post(f"{WS}/roles", json={"name": "Operator", "privileges": ["members:read"]})
    role_id = r.json["id"]
    setup.owner_client.patch(f"{WS}/roles/{role_id}", json={"description": "Runs things"})
    setup.owner_client.post(f"{WS}/roles/{role_id}/privileges", json={"privileges": ["sso:test"]})
    assert setup.owner_client.delete(f"{WS}/roles/{role_id}").status_code == 204
    assert ops(setup.workspace)[-4:] == ["role.created", "role.updated", "role.privileges_changed",
                                         "role.deleted"]
    assert _last(setup, "role.privileges_changed")["after"] == {"privileges": ["members:read", "sso:test"]}


def test_group_grants_changed(setup):
    with connected():
        group = Group.create(workspace=setup.workspace.id, display_name="Engineering",
                             display_name_ci="engineering")
    r = setup.owner_client.put(f"{WS}/groups/{group.id}/grants", json={"env_roles": [
        {"environment_type": "prod", "name": "Readonly"}]})
    assert r.status_code == 200, r.json
    changed = _last(setup, "group.grants_changed")
    assert changed["target_name"] == "Engineering"
    assert changed["before"]["prod"] == "NoAccess" and changed["after"]["prod"] == "Readonly"


def test_workspace_updates_settings_and_deletion_code(setup, mailbox):
    assert setup.owner_client.patch(WS, json={"name": "Acme Corp"}).status_code == 200
    updated = _last(setup, "workspace.updated")
    assert (updated["before"], updated["after"]) == ({"name": "Acme"}, {"name": "Acme Corp"})
    r = setup.owner_client.put(f"{WS}/settings", json={"settings": {"audit.retention_days": 365}})
    assert r.status_code == 200, r.json
    assert _last(setup, "workspace.settings_changed")["after"] == {"audit.retention_days": 365}
    assert setup.owner_client.post(f"{WS}/deletion-code").status_code == 202
    code = re.search(r"Confirmation code: (\d+)", mailbox.last_to("owner@acme.test")["body"]).group(1)
    sent = _last(setup, "workspace.deletion_code_sent")
    assert sent["target_id"] == setup.workspace.id
    assert code not in _dump(setup)


def test_workspace_created_and_cloned_land_in_the_new_workspace(setup):
    r = setup.owner_client.post(f"{WS}/clone", json={"name": "Acme Staging"})
    assert r.status_code == 201, r.json

    class Ref:
        id = r.json["id"]
    assert ops(Ref) == ["workspace.created", "member.added", "workspace.cloned"]
    assert "workspace.cloned" not in ops(setup.workspace)

    r = setup.owner_client.post("/api/v1/workspaces/provision", json={"workspaces": [{"name": "One"},
                                                                                    {"name": "Two"}]})
    assert r.status_code == 201, r.json
    for created in r.json["created"]:
        class Each:
            id = created["id"]
        assert ops(Each) == ["workspace.created", "member.added"]
        assert rows(Each)[0]["target_name"] == created["slug"]


def test_workspace_deleted_takes_its_log_along(setup, mailbox):
    setup.owner_client.post(f"{WS}/deletion-code")
    code = re.search(r"Confirmation code: (\d+)", mailbox.last_to("owner@acme.test")["body"]).group(1)
    r = setup.owner_client.delete(WS, json={"code": "00000000" if code != "00000000" else "11111111"})
    assert r.status_code == 400
    refused = _last(setup, "workspace.deleted")
    assert refused["status"] == 400 and refused["error"].startswith("Wrong code")
    preview = setup.owner_client.get(f"{WS}/deletion-preview").json
    assert preview["will_delete"]["events"] == len(rows(setup.workspace))
    assert setup.owner_client.delete(WS, json={"code": code}).status_code == 204
    assert rows(setup.workspace) == []
    with connected():
        from models.events import ProvisioningChain
        heads = ProvisioningChain.select().where(ProvisioningChain.workspace_id == setup.workspace.id)
        assert not heads.exists()


def test_command_line_token_creation_is_recorded(setup, app, monkeypatch):
    import cli
    monkeypatch.setattr(cli, "make_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["token", "create", "--workspace", "acme", "--scope", "scim",
                                           "--label", "entra"])
    assert result.exit_code == 0, result.output
    created = _last(setup, "token.created")
    assert created["actor_kind"] == "cli" and created["user_agent"] == "roster-cli"
    assert created["target_name"] == "entra" and created["received_at"] is None


def test_scim_style_operations_carry_idp_quirks_and_membership(setup, ctx):
    """What the SCIM endpoints record through the service layer: user.*/group.* with the IdP and quirks."""
    okta = Actor(kind="service", token_id="t1", token_label="okta", scopes=frozenset({"scim"}), idp="okta")
    member, _ = factories.make_member(setup.workspace, "jane@example.com")
    with mutation(setup.workspace, okta, "group.create") as change:
        group = Group.create(workspace=setup.workspace.id, display_name="Eng", display_name_ci="eng")
        GroupMember.create(workspace=setup.workspace.id, group=group.id, member=member.id)
        change.record("group.created", "group", group.id, "Eng",
                      after={"displayName": "Eng", "members": [{"value": member.id}]})
    with mutation(setup.workspace, okta, "user.update") as change:
        change.record("user.deactivated", "user", member.id, member.user_name, before={"active": True},
                      after={"active": False, "password": "hunter2"}, quirks=["entra.boolean_as_string"])
    deactivated = _last(setup, "user.deactivated")
    assert deactivated["idp"] == "okta" and deactivated["quirks"] == ["entra.boolean_as_string"]
    assert deactivated["after"] == {"active": False, "password": "[redacted]"}
    created = _last(setup, "group.created")
    assert created["target_type"] == "group" and created["idp"] == "okta"


def test_scim_token_without_idp_gets_the_workspace_default(setup, ctx):
    from models.services import workspaces as ws_svc
    ws_svc.replace_settings(setup.workspace, factories.CLI, {"scim.default_idp": "entra"})
    scim = Actor(kind="service", token_id="t2", token_label="scim", scopes=frozenset({"scim"}))
    with mutation(setup.workspace, scim) as change:
        change.record("user.created", "user", "u1", "jane@example.com",
                      after={"userName": "jane@example.com"})
    assert _last(setup, "user.created")["idp"] == "entra"
    assert db.is_closed() is False


def test_the_events_endpoints_are_in_the_openapi_description(client):
    spec = client.get("/api/openapi.json").json
    for path in ("/api/v1/workspaces/{ws}/events", "/api/v1/workspaces/{ws}/events/export",
                 "/api/v1/workspaces/{ws}/events/verify", "/api/v1/workspaces/{ws}/events/reports/{name}",
                 "/api/v1/workspaces/{ws}/events/prune",
                 "/api/v1/workspaces/{ws}/events/members/{member_id}"):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/api/v1/workspaces/{ws}/events"]["get"]["parameters"]}
    assert {"from", "to", "operation", "actor", "outcome", "idp", "cursor", "limit"} <= params


def test_deleting_a_workspace_takes_its_whole_log_even_with_logging_off(setup, app):
    from models.events import (ProvisioningChain, ProvisioningCheckpoint, ProvisioningEvent,
                               ProvisioningEventRef)
    from models.services import audit
    from models.services import workspaces as ws_svc
    tables = (ProvisioningEvent, ProvisioningEventRef, ProvisioningCheckpoint, ProvisioningChain)
    with connected():
        factories.make_member(setup.workspace, "jane@acme.test", {"prod": "Readonly"})
        assert ProvisioningEvent.select().where(ProvisioningEvent.workspace_id == setup.workspace.id).exists()
        audit.set_enabled(False)
        try:
            with app.app_context():
                ws_svc.delete_workspace(setup.workspace, factories.CLI)
        finally:
            audit.set_enabled(True)
        for model in tables:
            assert not model.select().where(model.workspace_id == setup.workspace.id).exists(), model
