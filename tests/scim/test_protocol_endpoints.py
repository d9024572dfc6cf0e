"""Protocol-wide behaviour: auth, media types, routing errors, limits, discovery, /Bulk and /Me."""

import json

import pytest

from scim.constants import BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD_SIZE
from tests import factories
from tests.conftest import AuthClient

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def assert_error(r, status, scim_type=None):
    assert r.status_code == status, (r.status_code, r.data[:300])
    assert r.headers["Content-Type"].startswith("application/scim+json")
    assert r.json["schemas"] == [ERROR] and r.json["status"] == str(status) and r.json["detail"]
    if scim_type:
        assert r.json["scimType"] == scim_type


def test_missing_wrong_and_misscoped_tokens(workspace_setup, client):
    assert_error(client.get("/scim/v2/Users"), 401)
    assert client.get("/scim/v2/Users").headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.get("/scim/v2/Users", headers={"Authorization": "Bearer nope"}), 401)
    assert_error(client.get("/scim/v2/Users", headers={"Authorization": "Basic abc"}), 401)
    admin = AuthClient(client, workspace_setup.admin_client.token)
    assert_error(admin.get("/scim/v2/Users"), 403)
    assert_error(workspace_setup.owner_client.get("/scim/v2/Users"), 403)


def test_routing_errors_are_scim_json(workspace_setup):
    c = workspace_setup.scim_client
    assert_error(c.get("/scim/v2/Nope"), 404)
    assert_error(c.get("/scim/v2/Users/a/b"), 404)
    assert_error(c.post("/scim/v2/Users/some-id", json={}), 405)
    assert_error(c.delete("/scim/v2/Users"), 405)
    # RFC 9110 §15.5.6: a 405 lists the methods the resource supports.
    allow = c.post("/scim/v2/Users/some-id", json={}).headers["Allow"]
    assert allow == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
    assert c.delete("/scim/v2/Users").headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert c.get("/scim/v2/Bulk").headers["Allow"] == "OPTIONS, POST"
    assert c.delete("/scim/v2/Schemas").headers["Allow"] == "GET, HEAD, OPTIONS"


def test_explicit_method_not_allowed_error_names_its_methods(app):
    from scim.errors import MethodNotAllowedError
    from scim.responses import scim_error_response
    with app.test_request_context("/scim/v2/Users"):
        response = scim_error_response(MethodNotAllowedError(allowed=["POST", "GET"]))
    assert response.status_code == 405 and response.headers["Allow"] == "GET, POST"


def test_media_types_and_unknown_query_params(workspace_setup):
    c = workspace_setup.scim_client
    for content_type in ("application/scim+json; charset=utf-8", "application/json", "application/scim+json"):
        body = json.dumps({"userName": f"m-{content_type}"})
        r = c.client.post("/scim/v2/Users?aadOptscim062020", data=body,
                          headers={"Authorization": f"Bearer {workspace_setup.scim_token}",
                                   "Content-Type": content_type})
        assert r.status_code == 201, r.json
        assert r.headers["Content-Type"] == "application/scim+json"
    r = c.client.post("/scim/v2/Users", data="userName=x", headers={
        "Authorization": f"Bearer {workspace_setup.scim_token}", "Content-Type": "text/plain"})
    assert_error(r, 400, "invalidSyntax")
    r = c.client.post("/scim/v2/Users", data="{not json", headers={
        "Authorization": f"Bearer {workspace_setup.scim_token}", "Content-Type": "application/scim+json"})
    assert_error(r, 400, "invalidSyntax")
    assert c.get("/scim/v2/Users?aadOptscim062020&foo=bar").status_code == 200


def test_payload_too_large_is_413(workspace_setup):
    c = workspace_setup.scim_client
    r = c.post("/scim/v2/Users", json={"userName": "big", "nickName": "x" * (BULK_MAX_PAYLOAD_SIZE + 10)})
    assert_error(r, 413)


def test_service_provider_config_and_resource_types(client):
    r = client.get("/scim/v2/ServiceProviderConfig")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/scim+json"
    spc = r.json
    assert spc["patch"]["supported"] and spc["filter"]["supported"] and spc["sort"]["supported"]
    assert spc["etag"]["supported"] and not spc["changePassword"]["supported"]
    assert spc["bulk"] == {"supported": True, "maxOperations": BULK_MAX_OPERATIONS,
                           "maxPayloadSize": BULK_MAX_PAYLOAD_SIZE}
    assert spc["filter"]["maxResults"] == 1000
    assert spc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    r = client.get("/scim/v2/ResourceTypes")
    assert r.json["totalResults"] == 2 and isinstance(r.json["Resources"], list)
    user = next(t for t in r.json["Resources"] if t["name"] == "User")
    assert user["endpoint"] == "/Users"
    assert user["schemaExtensions"][0]["schema"].endswith("enterprise:2.0:User")
    assert client.get("/scim/v2/ResourceTypes/Group").json["schema"] == GROUP
    assert_error(client.get("/scim/v2/ResourceTypes/Printer"), 404)
    assert_error(client.get('/scim/v2/ResourceTypes?filter=name eq "User"'), 403)


def test_schemas_describe_attributes(client):
    r = client.get("/scim/v2/Schemas")
    ids = [s["id"] for s in r.json["Resources"]]
    assert USER in ids and GROUP in ids and len(ids) == 3
    user = client.get(f"/scim/v2/Schemas/{USER}").json
    user_name = next(a for a in user["attributes"] if a["name"] == "userName")
    assert user_name["uniqueness"] == "server" and user_name["caseExact"] is False
    assert user_name["mutability"] == "readWrite" and user_name["required"] is True
    groups = next(a for a in user["attributes"] if a["name"] == "groups")
    assert groups["mutability"] == "readOnly" and groups["subAttributes"]
    assert "null" not in json.dumps(r.json)
    assert_error(client.get("/scim/v2/Schemas/urn:nope"), 404)


def _roles_canonical(user_schema):
    roles = next(a for a in user_schema["attributes"] if a["name"] == "roles")
    return {sub["name"]: sub.get("canonicalValues") for sub in roles["subAttributes"]}


def test_schemas_with_a_workspace_token_list_its_roles_and_environments(app, client):
    with app.app_context():
        from models.db import db
        with db.connection_context():
            workspace, _ = factories.make_workspace("Canon", owner_email="owner@canon.test",
                                                    environments=["dev", "test", "prod"])
            factories.make_role(workspace, "Operator", ["members:read"])
            scim = factories.make_service_token(workspace, ["scim"])
            admin = factories.make_service_token(workspace, ["admin"])
            other, _ = factories.make_workspace("Other", owner_email="owner@other.test")
            other_scim = factories.make_service_token(other, ["scim"])
    tailored = {"value": ["Admin", "Member", "Operator", "Readonly"], "type": ["dev", "test", "prod"]}
    c = AuthClient(client, scim)
    # Exactly what a write is checked against (RFC 7643 §7 canonicalValues): the workspace's roles and
    # enabled environments; the list and the single schema agree.
    listed = c.get("/scim/v2/Schemas").json["Resources"]
    assert _roles_canonical(next(s for s in listed if s["id"] == USER)) == tailored
    assert _roles_canonical(c.get(f"/scim/v2/Schemas/{USER}").json) == tailored
    assert _roles_canonical(c.get(f"/scim/v2/Schemas/{USER.lower()}").json) == tailored
    assert _roles_canonical(AuthClient(client, other_scim).get(f"/scim/v2/Schemas/{USER}").json) == {
        "value": ["Admin", "Member", "Readonly"], "type": ["dev"]}
    # Without a token, or with a valid token that is no workspace scim token: the generic schema.
    generic = {"value": None, "type": None}
    assert _roles_canonical(client.get(f"/scim/v2/Schemas/{USER}").json) == generic
    assert _roles_canonical(AuthClient(client, admin).get(f"/scim/v2/Schemas/{USER}").json) == generic
    # A token that is sent but invalid is refused, so a misconfigured client learns it.
    assert_error(AuthClient(client, "rst_svc_nope").get("/scim/v2/Schemas"), 401)
    # Other schemas are not tailored.
    group = c.get(f"/scim/v2/Schemas/{GROUP}").json
    assert "Operator" not in json.dumps(group)
    # What is advertised is what is enforced: an advertised pair is accepted, anything else refused.
    r = c.post("/scim/v2/Users", json={"userName": "canon", "roles": [{"value": "Operator", "type": "test"}]})
    assert r.status_code == 201 and r.json["roles"] == [{"value": "Operator", "type": "test"}]
    r = c.post("/scim/v2/Users", json={"userName": "canon2", "roles": [{"value": "Boss", "type": "test"}]})
    assert_error(r, 400, "invalidValue")


def test_bulk_rfc_7644_3_7_with_forward_reference(workspace_setup):
    c = workspace_setup.scim_client
    body = {"schemas": [BULK_REQUEST], "failOnErrors": 10, "Operations": [
        # The group refers to a user created further down (RFC 7644 §3.7.2 forward reference).
        {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
         "data": {"schemas": [GROUP], "displayName": "Tour Guides", "members": [{"type": "User",
                                                                                "value": "bulkId:qwerty"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "qwerty",
         "data": {"schemas": [USER], "userName": "Alice"}},
        {"method": "PATCH", "path": "/Users/bulkId:qwerty",
         "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "add", "path": "nickName", "value": "Al"}]}},
    ]}
    r = c.post("/scim/v2/Bulk", json=body)
    assert r.status_code == 200 and r.json["schemas"] == [BULK_RESPONSE]
    ops = r.json["Operations"]
    assert [o["status"] for o in ops] == ["201", "201", "200"]
    assert [o["bulkId"] for o in ops[:2]] == ["ytrewq", "qwerty"]
    user_id = ops[1]["location"].rsplit("/", 1)[1]
    group = c.get(ops[0]["location"].replace("http://roster.test", "")).json
    assert [m["value"] for m in group["members"]] == [user_id]
    assert c.get(f"/scim/v2/Users/{user_id}").json["nickName"] == "Al"
    assert ops[0]["version"] == 'W/"1"'


def test_bulk_errors_fail_on_errors_and_cycles(workspace_setup):
    c = workspace_setup.scim_client
    c.post("/scim/v2/Users", json={"userName": "dup"})
    body = {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "dup"}},
        {"method": "DELETE", "path": "/Users/unknown-id"},
        {"method": "POST", "path": "/Groups", "bulkId": "g",
         "data": {"displayName": "G", "members": [{"value": "bulkId:nowhere"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "c1", "data": {"displayName": "bulkId:c2"}},
        {"method": "POST", "path": "/Groups", "bulkId": "c2", "data": {"displayName": "bulkId:c1"}},
        {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "needs-a",
                                                                    "nickName": "bulkId:a"}},
        {"method": "GET", "path": "/Users"},
    ]}
    ops = c.post("/scim/v2/Bulk", json=body).json["Operations"]
    statuses = [o["status"] for o in ops]
    assert statuses == ["409", "404", "400", "409", "409", "409", "400"], ops
    assert ops[0]["response"]["scimType"] == "uniqueness"
    assert "cycle" in ops[3]["response"]["detail"]
    assert "failed" in ops[5]["response"]["detail"]
    body["failOnErrors"] = 2
    ops = c.post("/scim/v2/Bulk", json=body).json["Operations"]
    assert [o["status"] for o in ops] == ["409", "404"]


def test_bulk_limits_are_413(workspace_setup):
    c = workspace_setup.scim_client
    ops = [{"method": "DELETE", "path": "/Users/x"}] * (BULK_MAX_OPERATIONS + 1)
    r = c.post("/scim/v2/Bulk", json={"schemas": [BULK_REQUEST], "Operations": ops})
    assert_error(r, 413)
    assert "maxOperations" in r.json["detail"]
    huge = {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "b",
         "data": {"userName": "x" * BULK_MAX_PAYLOAD_SIZE}}]}
    assert_error(c.post("/scim/v2/Bulk", json=huge), 413)
    assert_error(c.post("/scim/v2/Bulk", json={"schemas": [BULK_REQUEST]}), 400, "invalidSyntax")


def test_me_with_a_personal_token(workspace_setup, app):
    owner = workspace_setup.owner_client
    r = owner.get("/scim/v2/Me")
    assert r.status_code == 200, r.json
    assert r.json["userName"] == "owner@acme.test" and r.headers["ETag"]
    assert r.json["meta"]["location"].startswith("http://roster.test/scim/v2/Users/")
    assert_error(owner.patch("/scim/v2/Me", json={}), 501)
    assert_error(workspace_setup.scim_client.get("/scim/v2/Me"), 403)
    # A person in two workspaces names the one it means.
    from models.db import db
    with app.app_context(), db.connection_context():
        factories.make_workspace("Second", owner_email="owner@acme.test")
    assert_error(owner.get("/scim/v2/Me"), 400, "invalidValue")
    assert owner.get("/scim/v2/Me?workspace=second").json["userName"] == "owner@acme.test"
    assert_error(owner.get("/scim/v2/Me?workspace=nope"), 404)


@pytest.mark.parametrize("method, path", [("get", "/scim/v2/Users/x"), ("get", "/scim/v2/Groups/x"),
                                          ("delete", "/scim/v2/Groups/x"), ("put", "/scim/v2/Groups/x")])
def test_unknown_ids_are_404(workspace_setup, method, path):
    c = workspace_setup.scim_client
    kwargs = {"json": {"displayName": "x"}} if method == "put" else {}
    assert_error(getattr(c, method)(path, **kwargs), 404)


@pytest.mark.parametrize("bulk_id", [["a"], {"a": 1}, "", 7])
def test_bulk_post_with_a_bad_bulk_id_is_a_400_entry_not_a_500(workspace_setup, bulk_id):
    c = workspace_setup.scim_client
    body = {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"userName": "badid"}},
        {"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "goodid"}}]}
    r = c.post("/scim/v2/Bulk", json=body)
    assert r.status_code == 200, r.data[:300]
    ops = r.json["Operations"]
    assert [o["status"] for o in ops] == ["400", "201"]
    assert ops[0]["response"]["scimType"] == "invalidSyntax" and ops[0]["bulkId"] == bulk_id
