"""Rate limits in one process (memory storage): per token with its burst, a workspace's lower rate, per
address for anonymous requests and failed authentications, per workspace for SSO tests; 429 + Retry-After in
the format of the path. The gunicorn test shows the same limits shared by two workers through Redis."""

import datetime

import pytest
import time_machine
from limits import parse_many
from prometheus_client import REGISTRY

from models.db import db
from models.workspace import Workspace
from tests.api.sso.helpers import allow_private_network, connections_url, create_oidc
from tests.conftest import AuthClient
from tests.factories import make_service_token
from web.limits import SSO_TESTS, per_second, with_burst

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def refusals(limit):
    return REGISTRY.get_sample_value("roster_rate_limit_refusals_total", {"limit": limit}) or 0.0


def statuses(client, path, n, **kw):
    return [client.get(path, **kw).status_code for _ in range(n)]


def test_burst_notation():
    assert with_burst("50/second") == "100 per 2 seconds"
    assert with_burst("3000/minute") == "6000 per 120 seconds"
    assert per_second("50/second") == 50 and per_second("600/minute; 20/second") == 10


def test_bad_operator_limit_is_refused_at_start(make_app):
    with pytest.raises(RuntimeError, match="RATE_LIMIT_SCIM"):
        make_app(RATE_LIMITS=True, RATE_LIMIT_SCIM="fifty a second")


def test_per_token_limit_with_burst_then_429_scim_error(make_app, workspace_setup):
    s = workspace_setup
    app = make_app(RATE_LIMITS=True, RATE_LIMIT_SCIM="5/second")  # enforced as 10 per 2 seconds
    scim = AuthClient(app.test_client(), s.scim_token, "application/scim+json")
    with app.app_context(), db.connection_context():
        other = AuthClient(app.test_client(), make_service_token(s.workspace, ["scim"]), "application/scim+json")
    before = refusals("token")
    assert statuses(scim, "/scim/v2/Users?count=1", 10) == [200] * 10
    refused = scim.get("/scim/v2/Users?count=1")
    assert refused.status_code == 429
    assert refused.json["schemas"] == [SCIM_ERROR] and refused.json["status"] == "429"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3
    assert refusals("token") == before + 1
    # Another token of the same workspace has its own counter.
    assert other.get("/scim/v2/Users?count=1").status_code == 200
    # The admin API shares the token's counter and answers in its own shape.
    admin = AuthClient(app.test_client(), s.scim_token)
    denied = admin.get(f"/api/v1/workspaces/{s.workspace.slug}")
    assert denied.status_code == 429 and denied.json["code"] == 429 and "Retry-After" in denied.headers


def test_throttled_writes_are_not_written_to_the_log(make_app, workspace_setup):
    from models.events import ProvisioningEvent
    s = workspace_setup
    app = make_app(RATE_LIMITS=True, RATE_LIMIT_SCIM="1/second")
    scim = AuthClient(app.test_client(), s.scim_token, "application/scim+json")
    codes = [scim.delete(f"/scim/v2/Users/nope-{i}").status_code for i in range(4)]
    assert codes == [404, 404, 429, 429]
    with app.app_context(), db.connection_context():
        assert ProvisioningEvent.select().where(ProvisioningEvent.status == 429).count() == 0


def _set_rate(app, workspace, value):
    with app.app_context(), db.connection_context():
        ws = Workspace.get_by_id(workspace.id)
        ws.settings = {**(ws.settings or {}), "scim.rate_limit_per_second": value}
        ws.save()


def test_workspace_may_lower_its_rate_not_raise_it(make_app, workspace_setup):
    s = workspace_setup
    app = make_app(RATE_LIMITS=True, RATE_LIMIT_SCIM="5/second")
    _set_rate(app, s.workspace, 2)  # 4 per 2 seconds
    scim = AuthClient(app.test_client(), s.scim_token, "application/scim+json")
    assert statuses(scim, "/scim/v2/Users?count=1", 5) == [200] * 4 + [429]

    app = make_app(RATE_LIMITS=True, RATE_LIMIT_SCIM="5/second")
    _set_rate(app, s.workspace, 1000)  # above the operator's: the operator's applies
    scim = AuthClient(app.test_client(), s.scim_token, "application/scim+json")
    assert statuses(scim, "/scim/v2/Users?count=1", 11) == [200] * 10 + [429]


def test_setting_is_validated(workspace_setup):
    s = workspace_setup
    url = f"/api/v1/workspaces/{s.workspace.slug}/settings"
    r = s.owner_client.put(url, json={"settings": {"scim.rate_limit_per_second": "fast"}})
    assert r.status_code == 400 and "scim.rate_limit_per_second" in r.json["errors"]
    r = s.owner_client.put(url, json={"settings": {"scim.rate_limit_per_second": 20}})
    assert r.status_code == 200 and r.json["settings"]["scim.rate_limit_per_second"] == 20


def test_anonymous_requests_limited_per_address(make_app):
    app = make_app(RATE_LIMITS=True)
    client = app.test_client()
    here = statuses(client, "/scim/v2/ServiceProviderConfig", 41)
    assert here == [200] * 40 + [429]
    elsewhere = client.get("/scim/v2/ServiceProviderConfig", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 200


def test_failed_authentications_limited_per_address(make_app, workspace_setup):
    app = make_app(RATE_LIMITS=True)
    client = app.test_client()
    bad = {"Authorization": "Bearer rst_wrong_token_0123456789abcdef"}
    codes = statuses(client, "/api/v1/workspaces", 31, headers=bad)
    assert codes == [401] * 30 + [429]
    refused = client.get("/api/v1/workspaces", headers=bad)
    assert refused.json["code"] == 429 and int(refused.headers["Retry-After"]) >= 1
    # A valid token from the same address is not held back by someone else's failures.
    good = AuthClient(client, workspace_setup.scim_token, "application/scim+json")
    assert good.get("/scim/v2/Users?count=1").status_code == 200


def test_sso_tests_limited_per_workspace(make_app, workspace_setup, oidc_provider):
    s = workspace_setup
    app = make_app(RATE_LIMITS=True, RATE_LIMIT_SCIM="1000/second")
    allow_private_network(app, s.workspace)
    admin = AuthClient(app.test_client(), s.owner_client.token)
    connection = create_oidc(admin, s.workspace, oidc_provider)
    allowed = parse_many(SSO_TESTS)[0].amount
    url = f"{connections_url(s.workspace)}/{connection['id']}/tests"
    codes = [admin.post(url).status_code for _ in range(allowed + 1)]
    assert codes == [201] * allowed + [429]
    by_id = admin.post(f"/api/v1/workspaces/{s.workspace.id}/sso/connections/{connection['id']}/tests")
    assert by_id.status_code == 429  # the slug and the id name one workspace, one counter


def test_limits_off_by_default_in_tests(workspace_setup):
    assert statuses(workspace_setup.scim_client, "/scim/v2/Users?count=1", 120) == [200] * 120


def test_initial_entra_sync_at_25_per_second_is_never_throttled(make_app):
    """100,000 requests at Entra's 25 per second against the default per-token limit (simulated clock)."""
    app = make_app(RATE_LIMITS=True)
    limiter = app.extensions["roster.limiter"].limiter
    (limit,) = parse_many(app.extensions["roster.limits"]["token"])
    assert str(limit) == "100 per 2 second"
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        refused = 0
        for _ in range(100_000):
            refused += not limiter.hit(limit, "entra-sync-token", "token")
            clock.shift(0.04)
    assert refused == 0
    with time_machine.travel(start + datetime.timedelta(hours=2), tick=False):
        burst = [limiter.hit(limit, "burst-token", "token") for _ in range(101)]
    assert burst.count(True) == 100 and burst[-1] is False


def test_unreachable_counter_storage_still_serves(make_app, workspace_setup):
    """Redis unreachable: the process counts in memory meanwhile, so requests are served and still limited."""
    app = make_app(RATE_LIMITS=True, RATE_LIMIT_SCIM="1/second",
                   RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:1/0")  # nothing listens there
    scim = AuthClient(app.test_client(), workspace_setup.scim_token, "application/scim+json")
    assert statuses(scim, "/scim/v2/Users?count=1", 3) == [200, 200, 429]
