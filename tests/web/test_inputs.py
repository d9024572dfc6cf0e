"""One check in the request path (web/inputs.py): text that is not Unicode (a lone surrogate, bytes that are
not UTF-8) and JSON nested too deeply are refused with 400 in the format of the route, and nothing is written.
"""

import json

import pytest

from tests.admin_helpers import assert_error, snapshot

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SURROGATE = "\ud800"  # json.dumps writes it as the escape "\ud800": valid JSON, no character
SURROGATE_URL = "%ED%A0%80"  # its would-be UTF-8 bytes, percent-encoded: not UTF-8


def _raw(client, method, path, body, token=None, content_type="application/scim+json"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.open(path, method=method, data=data, headers=headers, content_type=content_type)


def _scim_refused(response, scim_type="invalidValue"):
    assert response.status_code == 400, (response.status_code, response.data)
    assert response.headers["Content-Type"].startswith("application/scim+json")
    body = response.get_json()
    assert body["schemas"] == [ERROR] and body["status"] == "400" and body["scimType"] == scim_type, body
    assert "surrogate" in body["detail"] or "nested" in body["detail"] or "UTF-8" in body["detail"]


@pytest.fixture
def user(workspace_setup):
    r = workspace_setup.scim_client.post("/scim/v2/Users", json={"schemas": [USER], "userName": "ada"})
    assert r.status_code == 201
    return r.get_json()


def test_surrogate_in_a_scim_string_attribute_is_refused(workspace_setup, client):
    before = snapshot()
    for body in ({"schemas": [USER], "userName": "x" + SURROGATE},
                 {"schemas": [USER], "userName": "ok", "name": {"givenName": SURROGATE}},
                 {"schemas": [USER], "userName": "ok", "emails": [{"value": "a@b.c", "type": SURROGATE}]},
                 {"schemas": [USER], "userName": "ok", SURROGATE: "member name"}):
        _scim_refused(_raw(client, "POST", "/scim/v2/Users", body, workspace_setup.scim_token))
    assert snapshot() == before


def test_surrogate_pair_is_a_character_and_is_kept(workspace_setup, client):
    r = _raw(client, "POST", "/scim/v2/Users", {"schemas": [USER], "userName": "smile\U0001F600"},
             workspace_setup.scim_token)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["userName"] == "smile\U0001F600"


def test_surrogate_in_a_filter_is_refused(workspace_setup, user, client):
    token = workspace_setup.scim_token
    r = client.get(f"/scim/v2/Users?filter=userName%20eq%20%22{SURROGATE_URL}%22",
                   headers={"Authorization": f"Bearer {token}"})
    _scim_refused(r)
    r = _raw(client, "POST", "/scim/v2/Users/.search",
             {"schemas": [SEARCH], "filter": f'userName eq "{SURROGATE}"'}, token)
    _scim_refused(r)


def test_surrogate_in_a_patch_path_or_value_is_refused(workspace_setup, user, client):
    before = snapshot()
    for operation in ({"op": "replace", "path": f"name.givenName{SURROGATE}", "value": "x"},
                      {"op": "replace", "path": f'emails[type eq "{SURROGATE}"].value', "value": "x"},
                      {"op": "replace", "path": "displayName", "value": SURROGATE}):
        r = _raw(client, "PATCH", f"/scim/v2/Users/{user['id']}", {"schemas": [PATCH], "Operations": [operation]},
                 workspace_setup.scim_token)
        _scim_refused(r)
    assert snapshot() == before


def test_surrogate_in_a_scim_path_segment_is_refused(workspace_setup, user, client):
    r = client.get(f"/scim/v2/Users/{SURROGATE_URL}",
                   headers={"Authorization": f"Bearer {workspace_setup.scim_token}"})
    _scim_refused(r)


def test_surrogate_in_an_admin_body_is_refused(workspace_setup, client):
    before = snapshot()
    token = workspace_setup.owner_client.token
    ws = workspace_setup.workspace.id
    r = _raw(client, "POST", "/api/v1/workspaces", {"name": "Acme " + SURROGATE}, token,
             content_type="application/json")
    body = assert_error(r, 400)
    assert "surrogate" in body["message"]
    r = _raw(client, "PATCH", f"/api/v1/workspaces/{ws}", {"name": "ok", "slug": SURROGATE}, token,
             content_type="application/json")
    assert_error(r, 400)
    assert snapshot() == before


def test_surrogate_in_an_admin_query_parameter_is_refused(workspace_setup, client):
    token = workspace_setup.owner_client.token
    ws = workspace_setup.workspace.id
    for query in (f"email={SURROGATE_URL}", f"{SURROGATE_URL}=1", "email=%FF"):
        r = client.get(f"/api/v1/workspaces/{ws}/members?{query}", headers={"Authorization": f"Bearer {token}"})
        body = assert_error(r, 400)
        assert "UTF-8" in body["message"]
    r = client.get(f"/api/v1/workspaces/{ws}/members?email=ada%40acme.test",
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_surrogate_in_a_form_field_is_refused(workspace_setup, client):
    r = client.post("/sso/00000000-0000-4000-8000-000000000000/acs", data=f"SAMLResponse={SURROGATE_URL}",
                    content_type="application/x-www-form-urlencoded")
    body = assert_error(r, 400)
    assert "form" in body["message"]


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deeply_nested_json_is_refused(workspace_setup, client, depth):
    before = snapshot()
    nested = ("[" * depth + "]" * depth).encode()
    body = b'{"schemas": ["' + USER.encode() + b'"], "userName": "deep", "x": ' + nested + b"}"
    _scim_refused(_raw(client, "POST", "/scim/v2/Users", body, workspace_setup.scim_token), "invalidSyntax")
    r = _raw(client, "POST", "/api/v1/workspaces", b'{"name": "n", "settings": ' + nested + b"}",
             workspace_setup.owner_client.token, content_type="application/json")
    assert "nested" in assert_error(r, 400)["message"]
    assert snapshot() == before


def test_json_constants_that_are_not_numbers_are_refused():
    """NaN and Infinity: Python reads them, JSON has no place for them and PostgreSQL's json type refuses them."""
    import pytest

    from models.untrusted import UntrustedInputError, load_json
    for text in ('{"issuer": NaN}', "[Infinity]", "-Infinity"):
        with pytest.raises(UntrustedInputError):
            load_json(text)
    assert load_json('{"n": 1.5e3}') == {"n": 1500.0}
