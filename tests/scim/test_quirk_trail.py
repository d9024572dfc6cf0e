"""The audit trail of IdP quirks: `g.scim_quirks` per request, events for no-op writes, strict refusals."""

import flask
import pytest

from scim import quirks
from tests.changes import observing_changes

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA_FILTER = 'emails[type eq "work"].value eq "bjfe@example.com"'


@pytest.fixture
def trail(app):
    """Record each request's g.scim_quirks and every committed change."""
    seen = {"requests": [], "changes": []}

    def finished(sender, response, **extra):
        seen["requests"].append(list(flask.g.get("scim_quirks", ["<unset>"])))

    def committed(change):
        seen["changes"].append(change)

    flask.request_finished.connect(finished, app)
    with observing_changes(on_commit=committed):
        yield seen
    flask.request_finished.disconnect(finished, app)


def _set_strict(setup, strict):
    r = setup.admin_client.put(f"/api/v1/workspaces/{setup.workspace.id}/settings",
                               json={"settings": {"scim.strict_rfc": strict}})
    assert r.status_code == 200, r.get_json()


def _patch(client, path, *operations):
    return client.patch(path, json={"schemas": [PATCH], "Operations": list(operations)})


def _events(trail):
    return [(e.operation, e.before, e.after, e.quirks) for change in trail["changes"] for e in change.events]


def test_entra_filter_is_named_on_the_request(workspace_setup, trail):
    c = workspace_setup.scim_client
    c.post("/scim/v2/Users", json={"userName": "bjfe",
                                   "emails": [{"value": "bjfe@example.com", "type": "work"}]})
    trail["requests"].clear()
    r = c.get(f"/scim/v2/Users?filter={ENTRA_FILTER}")
    assert r.status_code == 200 and [u["userName"] for u in r.json["Resources"]] == ["bjfe"]
    assert trail["requests"] == [[quirks.ENTRA_FILTER_VALUE_PATH_ATTRIBUTE]]
    r = c.post("/scim/v2/Users/.search", json={"filter": ENTRA_FILTER})
    assert r.json["totalResults"] == 1
    assert trail["requests"][-1] == [quirks.ENTRA_FILTER_VALUE_PATH_ATTRIBUTE]
    # The RFC spelling of the same condition applies no quirk; every SCIM request has the list.
    c.get('/scim/v2/Users?filter=emails[type eq "work" and value eq "bjfe@example.com"]')
    c.get("/scim/v2/ServiceProviderConfig")
    assert trail["requests"][-2:] == [[], []]


def test_strict_mode_refuses_the_entra_filter(workspace_setup, trail):
    _set_strict(workspace_setup, True)
    c = workspace_setup.scim_client
    for r in (c.get(f"/scim/v2/Users?filter={ENTRA_FILTER}"),
              c.post("/scim/v2/.search", json={"filter": ENTRA_FILTER})):
        assert r.status_code == 400 and r.json["scimType"] == "invalidFilter"
        assert quirks.ENTRA_FILTER_VALUE_PATH_ATTRIBUTE in r.json["detail"]
    assert c.get('/scim/v2/Users?filter=emails[type eq "work" and value eq "x"]').status_code == 200


def test_writes_name_their_quirks_on_the_request_too(workspace_setup, trail):
    c = workspace_setup.scim_client
    user = c.post("/scim/v2/Users", json={"userName": "quirky"}).json
    trail["requests"].clear()
    r = _patch(c, f"/scim/v2/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"})
    assert r.status_code == 200 and r.json["active"] is False
    assert trail["requests"] == [[quirks.ENTRA_OP_CASE, quirks.ENTRA_BOOLEAN_AS_STRING]]


def test_role_only_patch_events_carry_the_quirks(workspace_setup, trail):
    c = workspace_setup.scim_client
    user = c.post("/scim/v2/Users", json={"userName": "roled"}).json
    trail["changes"].clear()
    r = _patch(c, f"/scim/v2/Users/{user['id']}", {"op": "Replace", "path": "roles",
                                                   "value": [{"value": "Readonly", "type": "dev"}]})
    assert r.status_code == 200
    events = _events(trail)
    assert [e[0] for e in events] == ["role.granted"]
    assert events[0][3] == [quirks.ENTRA_OP_CASE]


def test_a_write_that_changes_nothing_still_records_one_event(workspace_setup, trail):
    c = workspace_setup.scim_client
    user = c.post("/scim/v2/Users", json={"userName": "same", "nickName": "S"}).json
    group = c.post("/scim/v2/Groups", json={"displayName": "Test SCIMv2"}).json
    trail["changes"].clear()
    # Okta re-sends the pushed group's name with its id (idp_fixtures/okta/scim/22-push-group-rename.json).
    r = _patch(c, f"/scim/v2/Groups/{group['id']}",
               {"op": "replace", "value": {"id": group["id"], "displayName": "Test SCIMv2"}})
    assert r.status_code == 204 and r.headers["ETag"] == group["meta"]["version"]
    assert _events(trail) == [("group.updated", {}, {}, [quirks.OKTA_NO_PATH_ID_IN_VALUE])]
    trail["changes"].clear()
    r = c.put(f"/scim/v2/Groups/{group['id']}", json={"displayName": "Test SCIMv2"})
    assert r.status_code == 200 and _events(trail) == [("group.updated", {}, {}, [])]
    trail["changes"].clear()
    r = _patch(c, f"/scim/v2/Users/{user['id']}", {"op": "Replace", "path": "nickName", "value": "S"})
    assert r.status_code == 200 and r.json["meta"]["version"] == user["meta"]["version"]
    assert _events(trail) == [("user.updated", {}, {}, [quirks.ENTRA_OP_CASE])]
    trail["changes"].clear()
    r = c.put(f"/scim/v2/Users/{user['id']}", json={"userName": "same", "nickName": "S"})
    assert r.status_code == 200 and _events(trail) == [("user.updated", {}, {}, [])]
    # A write that changes something records what changed, not an extra empty event.
    trail["changes"].clear()
    _patch(c, f"/scim/v2/Users/{user['id']}", {"op": "replace", "path": "nickName", "value": "T"})
    assert _events(trail) == [("user.updated", {"nickName": "S"}, {"nickName": "T"}, [])]
