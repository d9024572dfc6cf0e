"""Service tokens: the secret is shown once and stored only as a hash; prefix, label, expiry, last use, revoke."""

import datetime
import hashlib

import pytest
import time_machine

from models.access import Token
from models.db import db
from tests import factories
from tests.admin_helpers import assert_error, assert_guarded, snapshot
from tests.conftest import AuthClient

TOKEN_KEYS = {"id", "kind", "label", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"}


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _create(world, client=None, **body):
    body.setdefault("scopes", ["admin"])
    r = (client or world.c.owner).post(world.base + "/tokens", json=body)
    assert r.status_code == 201, r.get_json()
    return r.json


def test_list_tokens_never_shows_secrets(world):
    r = world.c.readonly.get(world.base + "/tokens")
    assert r.status_code == 200
    assert all(set(t) == TOKEN_KEYS for t in r.json)
    assert sorted((t["label"], tuple(t["scopes"])) for t in r.json) == [
        ("revoked", ("admin",)), ("spare", ("scim",)), ("test", ("admin",)), ("test", ("scim",))]
    assert {t["kind"] for t in r.json} == {"service"}
    revoked = next(t for t in r.json if t["label"] == "revoked")
    assert revoked["revoked_at"] is not None
    assert all(t["prefix"].startswith("rst_svc_") and len(t["prefix"]) == 12 for t in r.json)
    assert world.clients["admin"].token not in r.get_data(as_text=True)


def test_create_token_shows_the_secret_once_and_stores_its_hash(world):
    body = _create(world, scopes=["scim", "audit:read", "scim"], label="Okta", expires_in_days=30)
    assert set(body) == TOKEN_KEYS | {"token"}
    raw = body["token"]
    assert raw.startswith("rst_svc_") and len(raw) > 40
    assert body["prefix"] == raw[:12]
    assert (body["kind"], body["label"], body["scopes"]) == ("service", "Okta", ["audit:read", "scim"])
    expires = datetime.datetime.fromisoformat(body["expires_at"])
    created = datetime.datetime.fromisoformat(body["created_at"])
    assert expires - created == pytest.approx(datetime.timedelta(days=30), abs=datetime.timedelta(seconds=2))
    assert body["last_used_at"] is None and body["revoked_at"] is None
    assert raw not in repr(snapshot())
    with world.app.app_context(), db.connection_context():
        stored = Token.get_by_id(body["id"])
        assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
        assert stored.created_by_id == world.owner.id
    listed = world.c.owner.get(world.base + "/tokens")
    assert raw not in listed.get_data(as_text=True)
    assert body["id"] in [t["id"] for t in listed.json]


def test_a_new_admin_token_works_and_records_its_last_use(world):
    raw = _create(world, scopes=["admin"], label="ci")["token"]
    start = _now()
    with time_machine.travel(start, tick=False):
        assert AuthClient(world.client, raw).get(world.base).status_code == 200

    def last_use():
        listed = world.c.owner.get(world.base + "/tokens").json
        return next(t for t in listed if t["label"] == "ci")["last_used_at"]

    first = last_use()
    assert first is not None
    assert abs(datetime.datetime.fromisoformat(first) - start) < datetime.timedelta(seconds=1)
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        AuthClient(world.client, raw).get(world.base)
    assert last_use() == first  # refreshed at most once a minute
    with time_machine.travel(start + datetime.timedelta(seconds=61), tick=False):
        AuthClient(world.client, raw).get(world.base)
    assert last_use() > first


def test_a_token_expires(world):
    raw = _create(world, scopes=["admin"], expires_in_days=1)["token"]
    client = AuthClient(world.client, raw)
    assert client.get(world.base).status_code == 200
    with time_machine.travel(_now() + datetime.timedelta(days=1, seconds=1), tick=False):
        assert_error(client.get(world.base), 401)


def test_revoke_token(world):
    body = _create(world, scopes=["admin"], label="temp")
    client = AuthClient(world.client, body["token"])
    assert client.get(world.base).status_code == 200
    r = world.c.owner.delete(f"{world.base}/tokens/{body['id']}")
    assert r.status_code == 204
    assert_error(client.get(world.base), 401)
    listed = {t["id"]: t for t in world.c.owner.get(world.base + "/tokens").json}
    revoked_at = listed[body["id"]]["revoked_at"]
    assert revoked_at is not None
    # Revoking again changes nothing.
    assert world.c.admin.delete(f"{world.base}/tokens/{body['id']}").status_code == 204
    listed = {t["id"]: t for t in world.c.owner.get(world.base + "/tokens").json}
    assert listed[body["id"]]["revoked_at"] == revoked_at


def test_a_token_can_revoke_itself(world):
    body = _create(world, scopes=["admin"])
    client = AuthClient(world.client, body["token"])
    assert client.delete(f"{world.base}/tokens/{body['id']}").status_code == 204
    assert_error(client.get(world.base), 401)


@pytest.mark.parametrize("token_id", ["nope", "0" * 36, "x" * 300, "other"])
def test_unknown_or_foreign_token_is_404(world, token_id):
    if token_id == "other":
        token_id = world.other_token.id
    before = snapshot()
    for client in (world.c.owner, world.c.admin):
        assert_error(client.delete(f"{world.base}/tokens/{token_id}"), 404)
    assert snapshot() == before


@pytest.mark.parametrize("method, suffix, body, write", [
    ("GET", "/tokens", None, False),
    ("POST", "/tokens", {"scopes": ["scim"], "label": "x"}, True),
    ("DELETE", "/tokens/{id}", None, True),
])
def test_token_endpoints_are_guarded(world, method, suffix, body, write):
    assert_guarded(world, method, world.base + suffix.format(id=world.spare_token.id), json=body, write=write)


@pytest.mark.parametrize("body", [
    {}, {"scopes": []}, {"scopes": ["root"]}, {"scopes": "admin"}, {"scopes": ["admin", "scim", "audit:read",
                                                                               "admin"]},
    {"scopes": ["admin"], "label": "l" * 201}, {"scopes": ["admin"], "label": 5},
    {"scopes": ["admin"], "expires_in_days": 0}, {"scopes": ["admin"], "expires_in_days": 3651},
    {"scopes": ["admin"], "expires_in_days": "soon"}, {"scopes": ["admin"], "expires_in_days": 1.5},
    {"scopes": ["admin"], "kind": "personal"}, {"scopes": ["admin"], "label": "a\x00"}, None,
])
def test_create_token_bad_input_writes_nothing(world, body):
    before = snapshot()
    assert_error(world.c.owner.post(world.base + "/tokens", json=body), 422)
    assert snapshot() == before


def test_nobody_mints_a_token_worth_more_than_they_hold(world):
    with world.app.app_context(), db.connection_context():
        factories.make_role(world.ws, "Integrator", ["tokens:read", "tokens:manage"])
        factories.make_role(world.ws, "Log keeper", ["tokens:read", "tokens:manage", "audit:read", "audit:export"])
        _, integrator = factories.make_member(world.ws, "int@acme.test", {e: "Integrator" for e in
                                                                        ("dev", "test", "prod")})
        _, keeper = factories.make_member(world.ws, "logs@acme.test", {e: "Log keeper" for e in
                                                                     ("dev", "test", "prod")})
        integrator = AuthClient(world.client, factories.make_personal_token(integrator))
        keeper = AuthClient(world.client, factories.make_personal_token(keeper))
    before = snapshot()
    for client, scopes in [(integrator, ["admin"]), (integrator, ["scim"]), (integrator, ["audit:read"]),
                           (keeper, ["scim"]), (keeper, ["audit:read", "admin"])]:
        error = assert_error(client.post(world.base + "/tokens", json={"scopes": scopes}), 403)
        refusal = f"Cannot create a token with scope {sorted(scopes)[0]}: you do not hold "
        assert error["message"].startswith(refusal)
    assert snapshot() == before
    body = _create(world, client=keeper, scopes=["audit:read"], label="siem")
    assert body["scopes"] == ["audit:read"]
    assert keeper.delete(f"{world.base}/tokens/{body['id']}").status_code == 204
