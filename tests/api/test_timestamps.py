"""Every date-time the admin API answers is an RFC 3339 instant in UTC (`Z`), as its OpenAPI document says:
each response is walked along its documented schema and every `date-time` value must parse as aware UTC."""

import datetime

from tests.api.sso.helpers import allow_private_network, connections_url, create_saml, start_test

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
# Fields the scenario leaves empty (null): serialised by the same field as the others.
NEVER_SET = {("Invitation", "accepted_at"), ("TestRun", "finished_at"), ("TokenCreated", "last_used_at"),
             ("TokenCreated", "revoked_at")}


def _resolve(doc, schema):
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _schema_name(schema):
    return schema["$ref"].rsplit("/", 1)[1] if "$ref" in schema else None


def _walk(doc, schema, value, seen, owner=None):
    """Check every date-time value under `value` against `schema`; note (schema name, field) seen."""
    name = _schema_name(schema) or owner
    schema = _resolve(doc, schema)
    if value is None:
        return
    if schema.get("type") == "array" and isinstance(value, list):
        for item in value:
            _walk(doc, schema.get("items", {}), item, seen, name)
    elif isinstance(value, dict):
        for key, prop in schema.get("properties", {}).items():
            if key not in value:
                continue
            prop_resolved = _resolve(doc, prop)
            if prop_resolved.get("format") == "date-time":
                if value[key] is None:
                    continue
                assert isinstance(value[key], str) and value[key].endswith("Z"), (name, key, value[key])
                parsed = datetime.datetime.fromisoformat(value[key])
                assert parsed.utcoffset() == datetime.timedelta(0), (name, key, value[key])
                assert abs(parsed - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(days=400)
                seen.add((name, key))
            else:
                _walk(doc, prop, value[key], seen, name)


def _check(doc, path_template, method, response, seen):
    assert response.status_code < 300, (path_template, response.status_code, response.get_json())
    operation = doc["paths"][path_template][method]
    content = operation["responses"][str(response.status_code)].get("content", {})
    schema = content.get("application/json", {}).get("schema")
    assert schema is not None, (path_template, method, response.status_code)
    _walk(doc, schema, response.get_json(), seen)


def test_every_date_time_of_every_schema_is_aware_utc(app, client, workspace_setup, saml_idp, dns_server):
    s = workspace_setup
    allow_private_network(app)
    doc = client.get("/api/openapi.json").get_json()
    expected = {(name, key) for name, schema in doc["components"]["schemas"].items()
                for key, prop in schema.get("properties", {}).items() if prop.get("format") == "date-time"}
    seen = set()
    base, tmpl = f"/api/v1/workspaces/{s.workspace.slug}", "/api/v1/workspaces/{ws}"
    scim = s.scim_client
    user = scim.post("/scim/v2/Users", json={"schemas": [USER], "userName": "ada@acme.test"}).get_json()
    group = scim.post("/scim/v2/Groups", json={"schemas": [GROUP], "displayName": "Eng",
                                               "members": [{"value": user["id"]}]}).get_json()
    owner, admin = s.owner_client, s.admin_client

    def call(c, method, template, path, **kw):
        response = c.open(method.upper(), path, **kw)
        _check(doc, template, method, response, seen)
        return response.get_json()

    call(owner, "get", "/api/v1/workspaces", "/api/v1/workspaces")
    call(owner, "get", tmpl, base)
    call(admin, "get", f"{tmpl}/members", f"{base}/members")
    call(admin, "get", f"{tmpl}/members/{{member_id}}", f"{base}/members/{user['id']}")
    invitation = call(admin, "post", f"{tmpl}/invitations", f"{base}/invitations",
                      json={"email": "new@acme.test", "env_roles": [{"environment_type": "dev", "name": "Member"}]})
    call(admin, "get", f"{tmpl}/invitations", f"{base}/invitations")
    call(admin, "get", f"{tmpl}/invitations/{{invitation_id}}", f"{base}/invitations/{invitation['id']}")
    role = call(admin, "post", f"{tmpl}/roles", f"{base}/roles", json={"name": "Ops", "privileges": ["members:read"]})
    call(admin, "get", f"{tmpl}/roles/{{role_id}}", f"{base}/roles/{role['id']}")
    call(admin, "get", f"{tmpl}/groups", f"{base}/groups")
    call(admin, "get", f"{tmpl}/groups/{{group_id}}", f"{base}/groups/{group['id']}")
    created = call(owner, "post", f"{tmpl}/tokens", f"{base}/tokens", json={"label": "ci", "scopes": ["scim"],
                                                                              "expires_in_days": 30})
    assert owner.delete(f"{base}/tokens/{created['id']}").status_code in (200, 204)
    call(owner, "get", f"{tmpl}/tokens", f"{base}/tokens")
    call(admin, "get", f"{tmpl}/events", f"{base}/events")
    events = call(admin, "get", f"{tmpl}/events", f"{base}/events?order=asc")["items"]
    call(admin, "get", f"{tmpl}/events/{{event_id}}", f"{base}/events/{events[0]['id']}")
    connection = create_saml(admin, s.workspace, saml_idp)
    call(admin, "get", f"{tmpl}/sso/connections/{{connection_id}}",
         f"{connections_url(s.workspace)}/{connection['id']}")
    run = start_test(admin, s.workspace, connection)
    call(admin, "get", f"{tmpl}/sso/connections/{{connection_id}}/tests/{{run_id}}",
         f"{connections_url(s.workspace)}/{connection['id']}/tests/{run['id']}")
    claim = call(admin, "post", f"{tmpl}/sso/domains", f"{base}/sso/domains", json={"domain": "acme.example"})
    dns_server.records["acme.example"] = [claim["txt_record"]]
    call(admin, "post", f"{tmpl}/sso/domains/{{domain}}/verify", f"{base}/sso/domains/acme.example/verify")
    call(admin, "post", f"{tmpl}/sso/domains", f"{base}/sso/domains", json={"domain": "later.example"})
    call(admin, "get", f"{tmpl}/sso/domains", f"{base}/sso/domains")
    assert expected - NEVER_SET <= seen, sorted(expected - NEVER_SET - seen)
