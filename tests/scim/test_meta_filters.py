"""A `meta` timestamp Roster answers compares equal to itself in a filter (RFC 7644 §3.4.2.2): `eq` on it
finds exactly that resource, `gt` does not, so an IdP's delta sync that saves the last value it saw does not
re-read the resource forever."""

from urllib.parse import quote

import pytest

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _ids(client, collection, expression):
    r = client.get(f"/scim/v2/{collection}?count=100&filter={quote(expression)}")
    assert r.status_code == 200, r.json
    return {resource["id"] for resource in r.json["Resources"]}


@pytest.mark.parametrize("collection", ["Users", "Groups"])
def test_answered_meta_timestamps_compare_equal_to_themselves(workspace_setup, collection):
    c = workspace_setup.scim_client
    created = []
    for n in range(4):
        body = ({"schemas": [USER], "userName": f"user{n}"} if collection == "Users"
                else {"schemas": [GROUP], "displayName": f"group{n}"})
        r = c.post(f"/scim/v2/{collection}", json=body)
        assert r.status_code == 201, r.json
        created.append(r.json["id"])
    # A PATCH moves lastModified away from created on one of them.
    attr = "displayName"
    r = c.patch(f"/scim/v2/{collection}/{created[1]}", json={
        "schemas": [PATCH], "Operations": [{"op": "replace", "path": attr, "value": "renamed"}]})
    assert r.status_code in (200, 204), r.json
    for resource_id in created:
        meta = c.get(f"/scim/v2/{collection}/{resource_id}").json["meta"]
        for attribute, value in (("meta.created", meta["created"]), ("meta.lastModified", meta["lastModified"])):
            assert _ids(c, collection, f'{attribute} eq "{value}"') == {resource_id}, (attribute, value)
            assert resource_id not in _ids(c, collection, f'{attribute} gt "{value}"')
            assert resource_id not in _ids(c, collection, f'{attribute} lt "{value}"')
            assert resource_id in _ids(c, collection, f'{attribute} ge "{value}"')
            assert resource_id in _ids(c, collection, f'{attribute} le "{value}"')
            assert resource_id not in _ids(c, collection, f'{attribute} ne "{value}"')
    # The listing answers the same values as GET of one resource.
    listed = c.get(f"/scim/v2/{collection}?count=100").json["Resources"]
    for resource in listed:
        value = resource["meta"]["lastModified"]
        assert resource["id"] in _ids(c, collection, f'meta.lastModified eq "{value}"')
