"""/metrics: bound only with an operator token, and counting what happens (in one process; the gunicorn test
shows workers adding up)."""

from prometheus_client import REGISTRY

USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "metrics@example.com"}


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_not_bound_without_a_token(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_operator_token(make_app, workspace_setup):
    client = make_app(METRICS_TOKEN="operator-secret").test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.json["code"] == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.get("/metrics", headers={"Authorization": "Bearer operator-secre"}).status_code == 401
    # A workspace's own token is no operator token.
    scim = client.get("/metrics", headers={"Authorization": f"Bearer {workspace_setup.scim_token}"})
    assert scim.status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer operator-secret"})
    assert ok.status_code == 200 and ok.mimetype == "text/plain"
    text = ok.get_data(as_text=True)
    for name in ("roster_http_requests_total", "roster_http_request_duration_seconds_bucket",
                 "roster_scim_operations_total", "roster_provisioning_events_written_total",
                 "roster_sso_tests_total", "roster_rate_limit_refusals_total", "roster_db_pool_connections"):
        assert f"# TYPE {name.removesuffix('_bucket').removesuffix('_total')}" in text, name


def _counts():
    route = dict(route="/scim/v2/Users", method="POST")
    okta = dict(idp="okta", operation="create_user")
    return (sample("roster_http_requests_total", status="201", **route),
            sample("roster_http_requests_total", status="409", **route),
            sample("roster_http_request_duration_seconds_count", status="201", **route),
            sample("roster_scim_operations_total", outcome="ok", **okta),
            sample("roster_scim_operations_total", outcome="refused", **okta),
            sample("roster_provisioning_events_written_total"))


def test_requests_scim_operations_and_events_are_counted(workspace_setup):
    s = workspace_setup
    before = _counts()
    headers = {"User-Agent": "Okta SCIM Client 1.0.0"}
    assert s.scim_client.post("/scim/v2/Users", json=USER, headers=headers).status_code == 201
    assert s.scim_client.post("/scim/v2/Users", json=USER, headers=headers).status_code == 409
    after = _counts()
    assert [a - b for a, b in zip(after, before)] == [1, 1, 1, 1, 1, 2]  # a created event and a refusal


def test_unmatched_paths_share_one_route_label(client):
    before = sample("roster_http_requests_total", route="(unmatched)", method="GET", status="404")
    client.get("/nothing/here/1")
    client.get("/nothing/here/2")
    assert sample("roster_http_requests_total", route="(unmatched)", method="GET", status="404") == before + 2


def test_pool_gauge_reports_connections(client):
    client.get("/scim/v2/ServiceProviderConfig")
    in_use = sample("roster_db_pool_connections", state="in_use")
    idle = sample("roster_db_pool_connections", state="idle")
    assert in_use == 0 and idle >= 1  # the request's connection went back to the pool
