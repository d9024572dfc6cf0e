"""The OpenAPI document lists the admin API of the README, and the interactive docs render from local assets."""

import re

import pytest

# The admin API table for the areas this API implements (workspaces, members, invitations, roles, groups,
# tokens), with `{ws}` spelled as the routes spell it.
WS = "/api/v1/workspaces/{ws}"
PRODUCT_OPERATIONS = [
    ("get", "/api/v1/workspaces"), ("post", "/api/v1/workspaces"),
    ("get", WS), ("patch", WS), ("delete", WS),
    ("get", WS + "/deletion-preview"), ("post", WS + "/deletion-code"), ("post", WS + "/clone"),
    ("get", WS + "/settings"), ("put", WS + "/settings"), ("get", WS + "/stats"),
    ("post", "/api/v1/workspaces/provision"),
    ("get", WS + "/members"), ("get", WS + "/members/count"),
    ("get", WS + "/members/{member_id}"), ("delete", WS + "/members/{member_id}"),
    ("put", WS + "/members/{member_id}/roles"), ("get", WS + "/members/{member_id}/privileges"),
    ("post", WS + "/leave"), ("post", WS + "/transfer-ownership"),
    ("get", WS + "/invitations"), ("post", WS + "/invitations"),
    ("get", WS + "/invitations/{invitation_id}"), ("delete", WS + "/invitations/{invitation_id}"),
    ("post", WS + "/invitations/{invitation_id}/resend"), ("post", "/api/v1/invitations/accept"),
    ("get", WS + "/roles"), ("post", WS + "/roles"),
    ("get", WS + "/roles/{role_id}"), ("patch", WS + "/roles/{role_id}"), ("delete", WS + "/roles/{role_id}"),
    ("post", WS + "/roles/{role_id}/privileges"), ("delete", WS + "/roles/{role_id}/privileges"),
    ("get", "/api/v1/privileges"),
    ("get", WS + "/groups"), ("get", WS + "/groups/{group_id}"),
    ("get", WS + "/groups/{group_id}/grants"), ("put", WS + "/groups/{group_id}/grants"),
    ("get", WS + "/tokens"), ("post", WS + "/tokens"), ("delete", WS + "/tokens/{token_id}"),
]


@pytest.fixture
def spec(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.json


def test_openapi_lists_every_admin_operation_of_the_product(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Roster admin API"
    missing = [(m, p) for m, p in PRODUCT_OPERATIONS if m not in spec["paths"].get(p, {})]
    assert missing == []


def test_every_operation_is_documented(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation.get("summary"), (method, path)
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)


def test_bearer_auth_is_declared_and_accept_is_public(spec):
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearer": []}]
    assert spec["paths"]["/api/v1/invitations/accept"]["post"]["security"] == []


def test_docs_render_from_local_assets(client):
    r = client.get("/api/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "/api/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui.css", "swagger-ui-bundle.js",
                                                     "swagger-ui-standalone-preset.js"}
    for asset in assets:
        assert asset.startswith("/api/docs/static/"), asset  # served locally, no CDN
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.data) > 1000, asset


def test_unknown_admin_paths_are_json_404(client):
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json["code"] == 404
    r = client.get("/api/docs/static/../../wsgi.py")
    assert r.status_code == 404
