def test_create_and_list_workspace(workspace_setup):
    s = workspace_setup
    r = s.owner_client.get("/api/v1/workspaces")
    assert r.status_code == 200, r.json
    assert [w["slug"] for w in r.json["items"]] == ["acme"]
