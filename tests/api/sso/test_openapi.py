def test_sso_paths_are_in_the_openapi_description(client):
    paths = client.get("/api/openapi.json").json["paths"]
    base = "/api/v1/workspaces/{ws}/sso/connections"
    assert set(paths[base]) >= {"get", "post"}
    assert set(paths[base + "/{connection_id}"]) >= {"get", "patch", "delete"}
    assert "post" in paths[base + "/{connection_id}/tests"]
    assert "get" in paths[base + "/{connection_id}/tests/{run_id}"]
