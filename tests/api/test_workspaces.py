"""Workspaces: create (one or in bulk), read, update, settings, stats, clone and the two-step delete."""

import dataclasses
import datetime
import re
import uuid

import pytest
import time_machine

from models.access import OneTimeCode, Token
from models.db import db
from models.directory import Group, GroupGrant, Member, MemberRole, Person, Role
from models.services import InvalidError
from models.services import workspaces as ws_svc
from models.workspace import SETTINGS, Workspace, default_settings
from tests import factories
from tests.admin_helpers import assert_error, assert_guarded, snapshot

WORKSPACE_KEYS = {"id", "name", "slug", "logo_url", "environments", "created_at", "updated_at"}


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _code_from(mailbox, email):
    message = mailbox.last_to(email)
    assert message is not None, f"no mail to {email}"
    match = re.search(r"Confirmation code: (\d{8})", message["body"])
    assert match, message["body"]
    return match.group(1)


def _workspace_count(app):
    with app.app_context(), db.connection_context():
        return Workspace.select().count()


# -- list and create ------------------------------------------------------------------------------------------

def test_list_my_workspaces_per_caller(world):
    r = world.c.owner.get("/api/v1/workspaces")
    assert r.status_code == 200
    assert r.json["total"] == 1
    [item] = r.json["items"]
    assert set(item) == WORKSPACE_KEYS | {"membership_status"}
    assert item["slug"] == "acme" and item["name"] == "Acme" and item["environments"] == ["dev", "test", "prod"]
    assert world.c.readonly.get("/api/v1/workspaces").json["items"][0]["slug"] == "acme"
    assert [w["slug"] for w in world.c.admin.get("/api/v1/workspaces").json["items"]] == ["acme"]
    assert [w["slug"] for w in world.c.other_owner.get("/api/v1/workspaces").json["items"]] == ["globex"]
    for name in ("anon", "invalid", "revoked", "expired"):
        assert_error(world.clients[name].get("/api/v1/workspaces"), 401)
    assert_error(world.c.scim.get("/api/v1/workspaces"), 403)


def test_create_workspace_derives_a_unique_slug_and_makes_the_caller_owner(world):
    r = world.c.member.post("/api/v1/workspaces", json={"name": "Wayne Enterprises"})
    assert r.status_code == 201, r.json
    assert set(r.json) == WORKSPACE_KEYS
    assert r.json["slug"] == "wayne-enterprises"
    assert r.json["environments"] == ["dev"] and r.json["logo_url"] is None
    members = world.c.member.get(f"/api/v1/workspaces/{r.json['id']}/members").json
    assert members["total"] == 1
    assert members["items"][0]["email"] == "member@acme.test"
    assert members["items"][0]["is_owner"] is True and members["items"][0]["roles"] == {"dev": "Admin"}
    again = world.c.member.post("/api/v1/workspaces", json={"name": "Wayne  Enterprises!"})
    assert again.status_code == 201 and again.json["slug"] == "wayne-enterprises-2"
    odd = world.c.member.post("/api/v1/workspaces", json={"name": "!!!"})
    assert odd.status_code == 201 and odd.json["slug"] == "workspace"


def test_create_workspace_with_every_field(world):
    body = {"name": "  Initech  ", "slug": "initech-eu", "logo_url": "https://initech.test/logo.png",
            "environments": ["prod", "dev"], "settings": {"audit.retention_days": 400}}
    r = world.c.owner.post("/api/v1/workspaces", json=body)
    assert r.status_code == 201, r.json
    assert r.json["name"] == "Initech" and r.json["slug"] == "initech-eu"
    assert r.json["logo_url"] == "https://initech.test/logo.png"
    assert r.json["environments"] == ["dev", "prod"]
    settings = world.c.owner.get("/api/v1/workspaces/initech-eu/settings").json["settings"]
    assert settings == {**default_settings(), "audit.retention_days": 400}
    roles = world.c.owner.get("/api/v1/workspaces/initech-eu/roles").json
    assert [(x["name"], x["is_system"]) for x in roles] == [("Admin", True), ("Member", True), ("Readonly", True)]


@pytest.mark.parametrize("body, status", [
    ({}, 422),
    ({"name": ""}, 422),
    ({"name": "   "}, 400),
    ({"name": 42}, 422),
    ({"name": "x" * 201}, 422),
    ({"name": "Ok", "slug": "Not A Slug"}, 400),
    ({"name": "Ok", "slug": "-dash"}, 400),
    ({"name": "Ok", "slug": str(uuid.uuid4())}, 400),
    ({"name": "Ok", "slug": "a" * 65}, 422),
    ({"name": "Ok", "slug": "acme"}, 409),
    ({"name": "Ok", "environments": ["qa"]}, 422),
    ({"name": "Ok", "environments": []}, 422),
    ({"name": "Ok", "environments": ["dev", "dev"]}, 400),
    ({"name": "Ok", "environments": "dev"}, 422),
    ({"name": "Ok", "settings": {"nope": 1}}, 400),
    ({"name": "Ok", "settings": {"audit.retention_days": "30"}}, 400),
    ({"name": "Ok", "settings": "x"}, 422),
    ({"name": "Ok", "logo_url": "javascript:alert(1)"}, 422),
    ({"name": "Ok", "logo_url": "https://x.test/" + "a" * 2000}, 422),
    ({"name": "Ok", "unknown": 1}, 422),
    ({"name": "Nul\x00byte"}, 422),
    ({"name": "Ok", "logo_url": "https://x.test/\x00"}, 422),
    ({"name": "Ok", "settings": {"scim.default_idp": "okta\x00"}}, 400),
])
def test_create_workspace_bad_input_writes_nothing(world, body, status):
    before = snapshot()
    assert_error(world.c.owner.post("/api/v1/workspaces", json=body), status)
    assert snapshot() == before


def test_create_workspace_names_the_bad_settings(world):
    r = world.c.owner.post("/api/v1/workspaces", json={"name": "Ok", "settings": {
        "nope": 1, "scim.strict_rfc": "yes", "invitations.expiry_hours": -1}})
    body = assert_error(r, 400)
    assert set(body["errors"]) == {"nope", "scim.strict_rfc", "invitations.expiry_hours"}


def test_create_workspace_needs_a_personal_token(world):
    before = snapshot()
    assert_error(world.c.admin.post("/api/v1/workspaces", json={"name": "Svc"}), 403)
    assert_error(world.c.anon.open("POST", "/api/v1/workspaces", json={"name": "Anon"}), 401)
    assert_error(world.c.expired.post("/api/v1/workspaces", json={"name": "Late"}), 401)
    assert snapshot() == before


def test_malformed_json_is_400(world):
    r = world.c.owner.post("/api/v1/workspaces", data="{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    assert_error(world.c.owner.post("/api/v1/workspaces", json=["a list"]), 422)


# -- bulk provisioning -----------------------------------------------------------------------------------------

def test_provision_creates_all(world):
    r = world.c.owner.post("/api/v1/workspaces/provision", json={"workspaces": [
        {"name": "Alpha"}, {"name": "Beta", "slug": "beta-co", "environments": ["dev", "prod"]}, {"name": "Alpha"}]})
    assert r.status_code == 201, r.json
    assert [(w["name"], w["slug"], w["environments"]) for w in r.json["created"]] == [
        ("Alpha", "alpha", ["dev"]), ("Beta", "beta-co", ["dev", "prod"]), ("Alpha", "alpha-2", ["dev"])]
    mine = world.c.owner.get("/api/v1/workspaces").json
    assert sorted(w["slug"] for w in mine["items"]) == ["acme", "alpha", "alpha-2", "beta-co"]
    owner_roles = world.c.owner.get("/api/v1/workspaces/beta-co/members").json["items"][0]["roles"]
    assert owner_roles == {"dev": "Admin", "prod": "Admin"}


@pytest.mark.parametrize("items, status", [
    ([{"name": "Alpha", "slug": "dup"}, {"name": "Beta", "slug": "dup"}], 409),
    ([{"name": "Alpha"}, {"name": "Beta", "slug": "acme"}], 409),
    ([{"name": "Alpha"}, {"name": "Beta", "settings": {"nope": True}}], 400),
    ([{"name": "Alpha"}, {"name": "   "}], 400),
    ([{"name": "Alpha"}, {"slug": "no-name"}], 422),
    ([{"name": "Alpha"}, "Beta"], 422),
    ([], 422),
    ([{"name": f"W{i}"} for i in range(101)], 422),
])
def test_provision_is_all_or_nothing(world, items, status):
    before = snapshot()
    assert_error(world.c.owner.post("/api/v1/workspaces/provision", json={"workspaces": items}), status)
    assert snapshot() == before


def test_provision_needs_a_personal_token(world):
    before = snapshot()
    assert_error(world.c.admin.post("/api/v1/workspaces/provision", json={"workspaces": [{"name": "A"}]}), 403)
    assert_error(world.c.invalid.post("/api/v1/workspaces/provision", json={"workspaces": [{"name": "A"}]}), 401)
    assert_error(world.c.owner.post("/api/v1/workspaces/provision", json={"workspaces": "A"}), 422)
    assert_error(world.c.owner.post("/api/v1/workspaces/provision", json={}), 422)
    assert snapshot() == before


# -- read and update -------------------------------------------------------------------------------------------

def test_get_workspace_by_slug_or_id(world):
    by_slug = world.c.readonly.get(world.base)
    assert by_slug.status_code == 200
    assert by_slug.json["id"] == world.ws.id and by_slug.json["slug"] == "acme"
    assert set(by_slug.json) == WORKSPACE_KEYS
    assert world.c.admin.get(f"/api/v1/workspaces/{world.ws.id}").json == by_slug.json
    assert world.c.owner.get("/api/v1/workspaces/ACME").json["id"] == world.ws.id


@pytest.mark.parametrize("ref", ["nope", str(uuid.uuid4()), "x" * 65, "acme%00", "%25"])
def test_unknown_workspace_is_404(world, ref):
    body = assert_error(world.c.owner.get(f"/api/v1/workspaces/{ref}"), 404)
    assert body["message"] == "Workspace not found"


def test_another_workspaces_token_gets_the_same_404_as_an_unknown_workspace(world):
    unknown = world.c.other_admin.get("/api/v1/workspaces/does-not-exist").get_json()
    for ref in ("acme", world.ws.id):
        assert world.c.other_admin.get(f"/api/v1/workspaces/{ref}").get_json() == unknown
        assert world.c.other_owner.get(f"/api/v1/workspaces/{ref}").get_json() == unknown


@pytest.mark.parametrize("method, suffix, body, write", [
    ("GET", "", None, False),
    ("PATCH", "", {"name": "Hacked"}, True),
    ("DELETE", "", {"code": "12345678"}, True),
    ("GET", "/deletion-preview", None, True),
    ("POST", "/deletion-code", None, True),
    ("POST", "/clone", {"name": "Copy"}, True),
    ("GET", "/settings", None, False),
    ("PUT", "/settings", {"settings": {"scim.strict_rfc": True}}, True),
    ("GET", "/stats", None, False),
])
def test_workspace_endpoints_are_guarded(world, mailbox, method, suffix, body, write):
    assert_guarded(world, method, world.base + suffix, json=body, write=write)
    assert mailbox.messages == []


def test_patch_workspace(world):
    r = world.c.owner.patch(world.base, json={"name": "Acme Corp", "slug": "acme-corp",
                                               "logo_url": "https://acme.test/l.svg"})
    assert r.status_code == 200, r.json
    assert (r.json["name"], r.json["slug"], r.json["logo_url"]) == ("Acme Corp", "acme-corp",
                                                                     "https://acme.test/l.svg")
    assert r.json["updated_at"] > r.json["created_at"]
    assert_error(world.c.owner.get(world.base), 404)
    assert world.c.owner.get("/api/v1/workspaces/acme-corp").json["name"] == "Acme Corp"
    cleared = world.c.admin.patch("/api/v1/workspaces/acme-corp", json={"logo_url": None})
    assert cleared.status_code == 200 and cleared.json["logo_url"] is None
    # The slug is editable back and forth; keeping one's own slug is no conflict.
    assert world.c.owner.patch("/api/v1/workspaces/acme-corp", json={"slug": "acme-corp"}).status_code == 200


def test_patch_environments_keeps_the_owner_admin_and_drops_removed_roles(world):
    r = world.c.owner.patch(world.base, json={"environments": ["prod", "dev"]})
    assert r.status_code == 200 and r.json["environments"] == ["dev", "prod"]
    readonly = world.c.owner.get(f"{world.base}/members/{world.readonly.id}").json
    assert readonly["roles"] == {"dev": "Readonly", "prod": "Readonly"}
    assert world.c.owner.get(f"{world.base}/groups/{world.group.id}/grants").json["roles"] == {
        "dev": "NoAccess", "prod": "Readonly"}
    r = world.c.owner.patch(world.base, json={"environments": ["dev", "test", "prod"]})
    owner = world.c.owner.get(f"{world.base}/members/{world.owner_member.id}").json
    assert owner["roles"] == {"dev": "Admin", "test": "Admin", "prod": "Admin"}
    readonly = world.c.owner.get(f"{world.base}/members/{world.readonly.id}").json
    assert readonly["roles"] == {"dev": "Readonly", "test": "NoAccess", "prod": "Readonly"}


@pytest.mark.parametrize("body, status", [
    ({"name": ""}, 422),
    ({"name": "  "}, 400),
    ({"name": ["x"]}, 422),
    ({"name": "x" * 201}, 422),
    ({"slug": "globex"}, 409),
    ({"slug": "UPPER"}, 400),
    ({"slug": str(uuid.uuid4())}, 400),
    ({"slug": "s" * 65}, 422),
    ({"logo_url": "ftp:/broken"}, 422),
    ({"environments": []}, 422),
    ({"environments": ["dev", "staging"]}, 422),
    ({"environments": ["dev", "dev"]}, 400),
    ({"name": "Fine", "slug": "globex"}, 409),
    ({"id": "x"}, 422),
    ({"name": "a\x00"}, 422),
    ({"slug": "a\x00"}, 422),
])
def test_patch_workspace_bad_input_writes_nothing(world, body, status):
    before = snapshot()
    assert_error(world.c.owner.patch(world.base, json=body), status)
    assert snapshot() == before


# -- settings and stats ---------------------------------------------------------------------------------------

def test_settings_read_and_replace(world):
    r = world.c.readonly.get(world.base + "/settings")
    assert r.status_code == 200 and r.json == {"settings": default_settings()}
    assert set(r.json["settings"]) == set(SETTINGS)
    new = {"scim.strict_rfc": True, "audit.retention_days": 730, "scim.default_idp": "okta"}
    r = world.c.admin.put(world.base + "/settings", json={"settings": new})
    assert r.status_code == 200
    assert r.json == {"settings": {**default_settings(), **new}}
    assert world.c.owner.get(world.base + "/settings").json == r.json
    # PUT replaces: keys left out go back to their defaults.
    r = world.c.owner.put(world.base + "/settings", json={"settings": {"audit.retention_days": 365}})
    assert r.json["settings"] == {**default_settings(), "audit.retention_days": 365}


@pytest.mark.parametrize("settings, status, bad_key", [
    ({"unknown.key": True}, 400, "unknown.key"),
    ({"scim.strict_rfc": 1}, 400, "scim.strict_rfc"),
    ({"scim.strict_rfc": "true"}, 400, "scim.strict_rfc"),
    ({"audit.retention_days": True}, 400, "audit.retention_days"),
    ({"audit.retention_days": 1.5}, 400, "audit.retention_days"),
    ({"audit.retention_days": -1}, 400, "audit.retention_days"),
    ({"audit.retention_days": 10 ** 9}, 400, "audit.retention_days"),
    ({"audit.retention_days": 364}, 400, "audit.retention_days"),  # below the operator's floor (365 by default)
    ({"audit.retention_days": 1}, 400, "audit.retention_days"),
    ({"scim.default_idp": "x" * 201}, 400, "scim.default_idp"),
    ({"scim.default_idp": None}, 400, "scim.default_idp"),
    ("not an object", 422, None),
    ([1, 2], 422, None),
])
def test_settings_are_validated(world, settings, status, bad_key):
    before = snapshot()
    body = assert_error(world.c.owner.put(world.base + "/settings", json={"settings": settings}), status)
    if bad_key:
        assert list(body["errors"]) == [bad_key]
    assert snapshot() == before


def test_settings_body_is_required(world):
    assert_error(world.c.owner.put(world.base + "/settings", json={}), 422)
    assert_error(world.c.owner.put(world.base + "/settings", json={"scim.strict_rfc": True}), 422)


def test_stats(world):
    r = world.c.readonly.get(world.base + "/stats")
    assert r.status_code == 200
    assert r.json == {"members": 5, "members_by_status": {"invited": 0, "active": 5, "suspended": 0},
                      "groups": 1, "custom_roles": 1, "active_tokens": 3, "pending_invitations": 1,
                      "environments": ["dev", "test", "prod"]}
    with world.app.app_context(), db.connection_context():
        Member.update(status="suspended").where(Member.id == world.noaccess.id).execute()
    assert world.c.owner.get(world.base + "/stats").json["members_by_status"] == {
        "invited": 0, "active": 4, "suspended": 1}


# -- the two-step delete ---------------------------------------------------------------------------------------

def test_deletion_preview(world):
    r = world.c.owner.get(world.base + "/deletion-preview")
    assert r.status_code == 200
    assert r.json["workspace"] == {"id": world.ws.id, "name": "Acme", "slug": "acme"}
    assert {k: v for k, v in r.json["will_delete"].items() if k != "events"} == {
        "members": 5, "groups": 1, "roles": 1, "tokens": 4, "invitations": 1, "sso_connections": 0, "sso_domains": 0,
        "sso_test_runs": 0, "sso_replay_ids": 0}
    assert r.json["will_delete"]["events"] > 0
    assert world.c.admin.get(world.base + "/deletion-preview").status_code == 200


def test_delete_with_the_mailed_code(world, mailbox):
    r = world.c.owner.post(world.base + "/deletion-code")
    assert r.status_code == 202 and r.json == {"message": "A code was mailed to owner@acme.test"}
    [message] = mailbox.messages
    assert message["to"] == ["owner@acme.test"] and "Acme" in message["subject"]
    code = _code_from(mailbox, "owner@acme.test")
    with world.app.app_context(), db.connection_context():
        assert code not in repr(list(OneTimeCode.select().tuples()))
        people = Person.select().count()
    r = world.c.owner.delete(world.base, json={"code": code})
    assert r.status_code == 204, r.get_json()
    assert_error(world.c.owner.get(world.base), 404)
    with world.app.app_context(), db.connection_context():
        assert not Workspace.select().where(Workspace.id == world.ws.id).exists()
        for model in (Member, MemberRole, Role, Group, GroupGrant, OneTimeCode):
            assert not model.select().where(model.workspace == world.ws.id).exists(), model
        assert not Token.select().where(Token.workspace == world.ws.id).exists()
        assert Person.select().count() == people  # the people stay
    # The other workspace is untouched; the owner's personal token still works elsewhere.
    assert world.c.other_owner.get("/api/v1/workspaces/globex/members").json["total"] == 2
    assert world.c.owner.get("/api/v1/workspaces").json == {"items": [], "total": 0}
    # The same code again: the workspace is gone.
    assert_error(world.c.owner.delete(world.base, json={"code": code}), 404)


def test_deletion_code_is_throttled(world, mailbox):
    assert world.c.owner.post(world.base + "/deletion-code").status_code == 202
    r = world.c.owner.post(world.base + "/deletion-code")
    assert_error(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 61
    assert len(mailbox.messages) == 1


def test_deletion_needs_a_personal_token(world, mailbox):
    before = snapshot()
    assert_error(world.c.admin.post(world.base + "/deletion-code"), 403)
    assert_error(world.c.admin.delete(world.base, json={"code": "12345678"}), 403)
    assert snapshot() == before
    assert mailbox.messages == []


def test_wrong_code_counts_and_too_many_attempts_lock_the_code(world, mailbox):
    world.c.owner.post(world.base + "/deletion-code")
    code = _code_from(mailbox, "owner@acme.test")
    wrong = "00000000" if code != "00000000" else "11111111"
    for _ in range(ws_svc.CODE_MAX_ATTEMPTS):
        body = assert_error(world.c.owner.delete(world.base, json={"code": wrong}), 400)
        assert body["message"] == "Wrong code"
    body = assert_error(world.c.owner.delete(world.base, json={"code": code}), 400)
    assert body["message"] == "Too many wrong codes: request a new one"
    assert world.c.owner.get(world.base).status_code == 200


def test_expired_code_is_refused(world, mailbox):
    world.c.owner.post(world.base + "/deletion-code")
    code = _code_from(mailbox, "owner@acme.test")
    with time_machine.travel(_now() + ws_svc.CODE_TTL + datetime.timedelta(seconds=1), tick=False):
        body = assert_error(world.c.owner.delete(world.base, json={"code": code}), 400)
    assert body["message"] == "No valid deletion code: request a new one"
    assert world.c.owner.get(world.base).status_code == 200


def test_a_new_code_replaces_the_old_one(world, mailbox):
    world.c.owner.post(world.base + "/deletion-code")
    first = _code_from(mailbox, "owner@acme.test")
    with time_machine.travel(_now() + datetime.timedelta(seconds=61), tick=False):
        assert world.c.owner.post(world.base + "/deletion-code").status_code == 202
        second = _code_from(mailbox, "owner@acme.test")
        if first != second:
            assert_error(world.c.owner.delete(world.base, json={"code": first}), 400)
        assert world.c.owner.delete(world.base, json={"code": second}).status_code == 204


def test_a_code_works_once(ctx, mailbox):
    workspace, owner = factories.make_workspace("Once")
    ws_svc.request_deletion_code(workspace, dataclasses.replace(factories.CLI, person=owner))
    code = _code_from(mailbox, owner.email)
    ws_svc.check_deletion_code(workspace, owner, code)
    with pytest.raises(InvalidError, match="No valid deletion code"):
        ws_svc.check_deletion_code(workspace, owner, code)


def test_a_code_is_bound_to_its_person(world, mailbox):
    with world.app.app_context(), db.connection_context():
        promoted, person = factories.make_member(world.ws, "admin2@acme.test", {"dev": "Admin"})
        token = factories.make_personal_token(person)
    world.c.owner.post(world.base + "/deletion-code")
    code = _code_from(mailbox, "owner@acme.test")
    other = world.c.owner.__class__(world.client, token)
    assert_error(other.delete(world.base, json={"code": code}), 400)
    assert world.c.owner.get(world.base).status_code == 200


@pytest.mark.parametrize("body, status", [
    (None, 422), ({}, 422), ({"code": ""}, 422), ({"code": 12345678}, 422), ({"code": "1" * 33}, 422),
    ({"code": "12345678"}, 400),
])
def test_delete_bad_input(world, body, status):
    before = snapshot()
    assert_error(world.c.owner.delete(world.base, json=body), status)
    assert snapshot() == before


# -- clone -----------------------------------------------------------------------------------------------------

def test_clone_copies_settings_roles_groups_and_grants_but_no_members(world):
    world.c.owner.put(world.base + "/settings", json={"settings": {"audit.retention_days": 400}})
    r = world.c.owner.post(world.base + "/clone", json={"name": "Acme Staging"})
    assert r.status_code == 201, r.json
    assert set(r.json) == WORKSPACE_KEYS
    assert (r.json["name"], r.json["slug"], r.json["environments"]) == ("Acme Staging", "acme-staging",
                                                                        ["dev", "test", "prod"])
    clone = f"/api/v1/workspaces/{r.json['slug']}"
    assert world.c.owner.get(clone + "/settings").json["settings"]["audit.retention_days"] == 400
    roles = {x["name"]: x for x in world.c.owner.get(clone + "/roles").json}
    assert set(roles) == {"Admin", "Member", "Readonly", "Operator"}
    assert roles["Operator"]["privileges"] == ["members:read", "members:update"]
    assert roles["Operator"]["is_system"] is False
    groups = world.c.owner.get(clone + "/groups").json
    assert groups["total"] == 1
    [group] = groups["items"]
    assert group["display_name"] == "Engineering" and group["member_count"] == 0
    assert group["grants"] == {"dev": "NoAccess", "test": "NoAccess", "prod": "Readonly"}
    assert group["id"] != world.group.id
    members = world.c.owner.get(clone + "/members").json
    assert members["total"] == 1 and members["items"][0]["email"] == "owner@acme.test"
    assert members["items"][0]["is_owner"] is True
    # The source is unchanged.
    assert world.c.owner.get(world.base + "/members").json["total"] == 5


def test_clone_with_a_slug_and_conflicts(world):
    r = world.c.owner.post(world.base + "/clone", json={"name": "Copy", "slug": "acme-copy"})
    assert r.status_code == 201 and r.json["slug"] == "acme-copy"
    before = snapshot()
    assert_error(world.c.owner.post(world.base + "/clone", json={"name": "Copy", "slug": "acme-copy"}), 409)
    assert_error(world.c.owner.post(world.base + "/clone", json={"name": "Copy", "slug": "Bad!"}), 400)
    assert_error(world.c.owner.post(world.base + "/clone", json={}), 422)
    assert_error(world.c.owner.post(world.base + "/clone", json={"name": 5}), 422)
    assert_error(world.c.owner.post(world.base + "/clone", json={"name": "x" * 201}), 422)
    assert_error(world.c.admin.post(world.base + "/clone", json={"name": "By service"}), 403)
    assert snapshot() == before


def test_deletion_code_with_the_mail_server_down_is_503_and_stores_no_code(world, monkeypatch):
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setattr(world.app.extensions["roster.mailer"], "port", closed_port)
    before = snapshot()
    body = assert_error(world.c.owner.post(world.base + "/deletion-code"), 503)
    assert "could not be mailed" in body["message"]
    assert snapshot() == before


def test_changing_environments_also_needs_roles_manage(world):
    from tests.conftest import AuthClient
    with world.app.app_context(), db.connection_context():
        factories.make_role(world.ws, "Editor", ["workspace:read", "workspace:update"])
        _, person = factories.make_member(world.ws, "editor@acme.test", {"dev": "Editor"})
        editor = AuthClient(world.client, factories.make_personal_token(person))
    before = snapshot()
    body = assert_error(editor.patch(world.base, json={"name": "Renamed", "environments": ["dev"]}), 403)
    assert body["message"] == "Missing privilege roles:manage"
    assert snapshot() == before
    assert editor.patch(world.base, json={"name": "Renamed"}).json["name"] == "Renamed"


def test_put_updates_a_workspace_as_patch_does(world):
    r = world.c.owner.put(world.base, json={"name": "Acme Corp"})
    assert r.status_code == 200 and r.json["name"] == "Acme Corp" and r.json["slug"] == "acme"
    assert world.c.owner.get(world.base).json["name"] == "Acme Corp"
    assert world.c.readonly.put(world.base, json={"name": "Nope"}).status_code == 403


@pytest.mark.parametrize("name", ["Not existing environment", "e" * 5000])
def test_unknown_environment_however_long_is_400(world, name):
    before = snapshot()
    for r in (world.c.owner.put(f"{world.base}/members/{world.member.id}/roles",
                                json={"env_roles": [{"environment_type": name, "name": "Member"}]}),
              world.c.owner.post(world.base + "/invitations",
                                 json={"email": "new@acme.test",
                                       "env_roles": [{"environment_type": name, "name": "Member"}]})):
        assert assert_error(r, 400)["message"] == f"Environment {name} not found"
    assert snapshot() == before
