"""SCIM writes in the log: one event per change and per /Bulk operation, with the IdP, quirks and refusals."""

from .conftest import rows

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
OKTA_UA = {"User-Agent": "Okta SCIM Client 1.0.0"}
ENTRA_UA = {"User-Agent": "Azure AD SCIM Client"}


def _create_user(setup, user_name, headers=OKTA_UA, **extra):
    body = {"schemas": [USER], "userName": user_name, "emails": [{"value": user_name, "primary": True}]}
    body.update(extra)
    r = setup.scim_client.post("/scim/v2/Users", json=body, headers=headers)
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_user_created_names_the_idp_and_never_stores_the_password(setup):
    user_id = _create_user(setup, "jane@example.com", password="Secr3t!", title="Engineer")
    created = rows(setup.workspace, operation="user.created")[-1]
    assert created["target_id"] == user_id and created["target_name"] == "jane@example.com"
    assert created["idp"] == "okta" and created["actor_kind"] == "service"
    assert created["after"]["title"] == "Engineer" and created["status"] == 200
    assert "Secr3t!" not in str(created["after"]) and created["after"].get("password") in (None, "[redacted]")


def test_entra_deactivation_records_quirks_and_shows_in_the_deprovisioning_report(setup):
    user_id = _create_user(setup, "jane@example.com", headers=ENTRA_UA)
    r = setup.scim_client.patch(f"/scim/v2/Users/{user_id}", headers=ENTRA_UA, json={
        "schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    assert r.status_code in (200, 204), r.json
    deactivated = rows(setup.workspace, operation="user.deactivated")[-1]
    assert deactivated["idp"] == "entra"
    assert {"entra.op_case", "entra.boolean_as_string"} <= set(deactivated["quirks"])
    assert (deactivated["before"], deactivated["after"]) == ({"active": True}, {"active": False})
    report = setup.audit_client.get("/api/v1/workspaces/acme/events/reports/deprovisioning").json
    (item,) = report["items"]
    assert item["member_id"] == user_id and item["idp"] == "entra" and item["seconds"] >= 0
    assert setup.scim_client.delete(f"/scim/v2/Users/{user_id}", headers=ENTRA_UA).status_code == 204
    assert rows(setup.workspace)[-1]["operation"] == "user.deleted"


def test_group_membership_changes_build_the_member_history(setup):
    jane = _create_user(setup, "jane@example.com")
    bob = _create_user(setup, "bob@example.com")
    r = setup.scim_client.post("/scim/v2/Groups", headers=OKTA_UA, json={
        "schemas": [GROUP], "displayName": "Engineering", "members": [{"value": jane}]})
    group_id = r.json["id"]
    setup.scim_client.patch(f"/scim/v2/Groups/{group_id}", headers=OKTA_UA, json={
        "schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": bob}]}]})
    setup.scim_client.patch(f"/scim/v2/Groups/{group_id}", headers=OKTA_UA, json={
        "schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{jane}"]'}]})
    history = setup.audit_client.get(f"/api/v1/workspaces/acme/events/members/{jane}").json["items"]
    assert [e["operation"] for e in history][0] == "user.created"
    assert "group.members_removed" in [e["operation"] for e in history]
    membership = setup.audit_client.get(f"/api/v1/workspaces/acme/events/groups/{group_id}/membership").json
    ops = [e["operation"] for e in membership["items"]]
    assert ops[0] == "group.created" and ops[-2:] == ["group.members_added", "group.members_removed"]
    bob_history = setup.audit_client.get(f"/api/v1/workspaces/acme/events/members/{bob}").json["items"]
    assert [e["operation"] for e in bob_history] == ["user.created", "group.members_added"]


def test_refused_scim_requests_are_recorded_with_scim_type(setup):
    _create_user(setup, "jane@example.com")
    r = setup.scim_client.post("/scim/v2/Users", headers=OKTA_UA, json={"schemas": [USER],
                                                                       "userName": "jane@example.com"})
    assert r.status_code == 409
    dup = rows(setup.workspace)[-1]
    assert (dup["operation"], dup["status"], dup["scim_type"]) == ("user.created", 409, "uniqueness")
    r = setup.scim_client.post("/scim/v2/Users", headers=OKTA_UA, json={"schemas": [USER], "userName": 42})
    assert r.status_code == 400
    bad = rows(setup.workspace)[-1]
    assert (bad["operation"], bad["status"]) == ("user.created", 400) and bad["scim_type"]
    r = setup.scim_client.patch("/scim/v2/Users/unknown", headers=OKTA_UA, json={
        "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]})
    assert r.status_code == 404
    missing = rows(setup.workspace)[-1]
    assert (missing["operation"], missing["status"], missing["idp"]) == ("user.updated", 404, "okta")
    before = len(rows(setup.workspace))
    assert setup.scim_client.get("/scim/v2/Users/unknown").status_code == 404
    assert len(rows(setup.workspace)) == before


def test_a_failed_scim_patch_leaves_no_success_event(setup):
    user_id = _create_user(setup, "jane@example.com")
    before = rows(setup.workspace)
    r = setup.scim_client.patch(f"/scim/v2/Users/{user_id}", headers={"If-Match": 'W/"99"', **OKTA_UA}, json={
        "schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]})
    assert r.status_code == 412
    after = rows(setup.workspace)
    assert len(after) == len(before) + 1 and after[-1]["status"] == 412
    assert not [e for e in after[len(before):] if e["status"] < 400]


def test_one_event_per_bulk_operation(setup):
    _create_user(setup, "dup@example.com")
    start = len(rows(setup.workspace))
    r = setup.scim_client.post("/scim/v2/Bulk", headers=OKTA_UA, json={"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "alice@example.com"}},
        {"method": "PATCH", "path": "/Users/bulkId:a", "data": {
            "schemas": [PATCH], "Operations": [{"op": "add", "path": "nickName", "value": "Al"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "d", "data": {"userName": "dup@example.com"}},
        {"method": "DELETE", "path": "/Users/unknown-id"},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
            "displayName": "G", "members": [{"value": "bulkId:nowhere"}]}},
    ]})
    assert r.status_code == 200, r.json
    assert [o["status"] for o in r.json["Operations"]] == ["201", "200", "409", "404", "400"]
    new = rows(setup.workspace)[start:]
    assert sorted((e["operation"], e["status"]) for e in new) == sorted([
        ("user.created", 200), ("user.updated", 200), ("user.created", 409), ("user.deleted", 404),
        ("group.created", 400)])
    assert all(e["idp"] == "okta" for e in new)
    unresolved = [e for e in new if e["operation"] == "group.created"][0]
    assert "nowhere" in unresolved["error"] and unresolved["scim_type"] == "invalidValue"
    assert setup.audit_client.get("/api/v1/workspaces/acme/events/verify").json["ok"] is True
