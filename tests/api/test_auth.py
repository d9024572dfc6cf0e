"""Bearer authentication of the admin API: 401 without a valid token, 403 for the wrong kind, 404 across tenants."""

import datetime
import hashlib
import re

import pytest
import time_machine

from models.access import Token
from models.db import db
from models.directory import Member
from models.services import tokens as tokens_svc
from tests import factories
from tests.admin_helpers import assert_error, snapshot
from tests.conftest import AuthClient

PUBLIC = {("POST", "/api/v1/invitations/accept")}


def _spec_operations(client):
    spec = client.get("/api/openapi.json").json
    for path, item in spec["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method.upper(), path


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc",
                                    "Bearer rst_pat_unknown", "Bearer " + "x" * 201])
def test_without_a_valid_bearer_token_every_admin_operation_is_401(world, header):
    before = snapshot()
    headers = {"Authorization": header} if header is not None else {}
    seen = 0
    for method, path in _spec_operations(world.client):
        if (method, path) in PUBLIC:
            continue
        concrete = re.sub(r"\{ws\}", "acme", path)
        concrete = re.sub(r"\{[a-z_]+\}", "0" * 36, concrete)
        # A bad body must not get past authentication either.
        r = world.client.open(concrete, method=method, headers=headers, json={"bad": ["body"]})
        assert r.status_code == 401, (method, path, r.status_code, r.get_json())
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert r.json == {"code": 401, "status": "Unauthorized", "message": "A valid bearer token is required"}
        seen += 1
    assert seen >= 30
    assert snapshot() == before


def test_the_scheme_is_case_insensitive(world):
    token = world.clients["owner"].token
    r = world.client.get(world.base, headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 200


def test_a_scim_token_may_not_use_the_admin_api(world):
    before = snapshot()
    for method, path in [("GET", world.base), ("GET", world.base + "/members"), ("GET", "/api/v1/workspaces"),
                         ("POST", world.base + "/roles")]:
        error = assert_error(world.c.scim.open(method, path, json={"name": "x"}), 403)
        assert error["message"] == "This token's scopes do not allow the admin API"
    assert snapshot() == before


def test_an_audit_token_reads_no_admin_resources(world):
    with world.app.app_context(), db.connection_context():
        audit = AuthClient(world.client, factories.make_service_token(world.ws, ["audit:read"]))
    assert audit.get("/api/v1/workspaces").json["items"][0]["slug"] == "acme"
    for path in ("", "/members", "/roles", "/groups", "/tokens", "/invitations", "/settings"):
        error = assert_error(audit.get(world.base + path), 403)
        assert error["message"].startswith("Missing privilege ")


def test_a_revoked_personal_token_is_401(world):
    with world.app.app_context(), db.connection_context():
        raw = factories.make_personal_token(world.owner, "laptop")
    client = AuthClient(world.client, raw)
    assert client.get(world.base).status_code == 200
    with world.app.app_context(), db.connection_context():
        tokens_svc.revoke_by_prefix(factories.CLI, raw[:12])
    assert_error(client.get(world.base), 401)
    assert_error(world.c.revoked.get(world.base), 401)


def test_an_expired_personal_token_is_401(world):
    with world.app.app_context(), db.connection_context():
        _, raw = tokens_svc.create_personal_token(factories.CLI, world.owner, "short", expires_in_days=7)
    client = AuthClient(world.client, raw)
    now = datetime.datetime.now(datetime.timezone.utc)
    with time_machine.travel(now + datetime.timedelta(days=6, hours=23), tick=False):
        assert client.get(world.base).status_code == 200
    with time_machine.travel(now + datetime.timedelta(days=7, seconds=1), tick=False):
        assert_error(client.get(world.base), 401)
    assert_error(world.c.expired.get(world.base), 401)


def test_personal_tokens_are_stored_only_as_hashes(world):
    raw = world.clients["owner"].token
    assert raw.startswith("rst_pat_")
    assert raw not in repr(snapshot())
    with world.app.app_context(), db.connection_context():
        token = Token.get(Token.token_hash == hashlib.sha256(raw.encode()).hexdigest())
        assert token.kind == "personal" and token.prefix == raw[:12] and token.workspace_id is None


def test_a_person_outside_the_workspace_gets_404(world):
    with world.app.app_context(), db.connection_context():
        stranger = AuthClient(world.client, factories.make_personal_token(factories.make_person("x@y.test")))
    assert stranger.get("/api/v1/workspaces").json == {"items": [], "total": 0}
    unknown = stranger.get("/api/v1/workspaces/no-such-thing").json
    assert stranger.get(world.base).json == unknown
    assert stranger.get(world.base + "/members").json == unknown
    assert stranger.get(f"/api/v1/workspaces/{world.ws.id}/roles").json == unknown


def test_a_suspended_member_may_do_nothing(world):
    with world.app.app_context(), db.connection_context():
        Member.update(status="suspended").where(Member.id == world.readonly.id).execute()
    for path in ("", "/members", "/roles", "/settings"):
        assert_error(world.c.readonly.get(world.base + path), 403)


def test_tokens_of_one_workspace_never_see_another(world):
    globex = "/api/v1/workspaces/globex"
    unknown = world.c.admin.get("/api/v1/workspaces/nothing-here").json
    for path in ("", "/members", "/roles", "/groups", "/tokens", "/invitations", "/settings", "/stats"):
        for client in (world.c.admin, world.c.owner, world.c.readonly):
            assert client.get(globex + path).json == unknown, (path, client)
    before = snapshot()
    assert world.c.admin.patch(globex, json={"name": "Pwned"}).json == unknown
    assert world.c.admin.post(globex + "/tokens", json={"scopes": ["admin"]}).json == unknown
    assert snapshot() == before
