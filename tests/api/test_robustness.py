"""No input makes the admin API answer 500: awkward bodies and ids for every operation, as the owner."""

import re

import pytest

# Each carries a different risk: wrong type, integer overflow, fraction, oversize, NUL (PostgreSQL), a string
# that grows when lower-cased, a list where a string goes.
NASTY_VALUES = [None, 10 ** 20, 1.5, "x" * 5000, "\x00", "\u0130" * 200, [None]]
NASTY_IDS = ["%00", "'", "x" * 400, "%F0%9F%98%80"]


def _operations(client):
    spec = client.get("/api/openapi.json").json
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                fields = []
                body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                ref = body.get("schema", {}).get("$ref")
                if ref:
                    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
                    fields = list(schema.get("properties", {}))
                yield method.upper(), path, fields


def _concrete(path, world, nasty_id=None):
    ids = {"member_id": world.readonly.id, "invitation_id": world.invitation.id, "role_id": world.operator_role.id,
           "group_id": world.group.id, "token_id": world.spare_token.id, "name": "daily-operations"}
    path = path.replace("{ws}", "acme")
    return re.sub(r"\{([a-z_]+)\}", lambda m: nasty_id or ids.get(m.group(1), "00000000-0000-4000-8000-000000000000"), path)


def test_awkward_bodies_never_500(world):
    seen = 0
    for method, path, fields in _operations(world.client):
        if path.endswith("/deletion-code") or (method == "DELETE" and path == "/api/v1/workspaces/{ws}"):
            continue
        for field in fields:
            for value in NASTY_VALUES:
                r = world.c.owner.open(method, _concrete(path, world), json={field: value})
                assert r.status_code < 500, (method, path, field, value, r.get_json())
                seen += 1
        for body in ([], "text", {"unknown": 1}):
            r = world.c.owner.open(method, _concrete(path, world), json=body)
            assert r.status_code < 500, (method, path, body, r.get_json())
    assert seen > 150


@pytest.mark.parametrize("nasty_id", NASTY_IDS)
def test_awkward_ids_never_500(world, nasty_id):
    for method, path, _ in _operations(world.client):
        if "{" not in path.replace("{ws}", ""):
            continue
        r = world.c.owner.open(method, _concrete(path, world, nasty_id), json={})
        assert r.status_code < 500, (method, path, r.get_json())
        # The history of an id that is unknown (or deleted) is still an answer: the log keeps what was attempted.
        ok = (200, 404, 422) if path.startswith("/api/v1/workspaces/{ws}/events/") else (404, 422)
        assert r.status_code in ok, (method, path, r.status_code, r.get_json())
    for method, path, _ in _operations(world.client):
        if "{ws}" in path:
            r = world.c.owner.open(method, path.replace("{ws}", nasty_id).replace("{", "").replace("}", ""),
                                   json={})
            assert r.status_code < 500 and r.status_code in (404, 422), (method, path, r.get_json())
