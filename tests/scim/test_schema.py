"""Tests for the RFC 7643 attribute definitions."""

import json

import pytest

from scim import schema
from scim.constants import ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

ENTERPRISE_LOWER = ENTERPRISE_USER_SCHEMA.lower()


def test_schema_for_lists_core_first_then_extensions():
    assert schema.schema_for("User") == [USER_SCHEMA, ENTERPRISE_USER_SCHEMA]
    assert schema.schema_for("group") == [GROUP_SCHEMA]


def test_schema_for_unknown_resource_type_raises():
    with pytest.raises(ValueError):
        schema.schema_for("Device")


def test_resolve_is_case_insensitive_and_returns_canonical_name():
    attr = schema.resolve("User", None, "USERNAME")
    assert attr.name == "userName"
    assert attr.required and not attr.case_exact and attr.uniqueness == "server"


def test_resolve_sub_attribute():
    attr = schema.resolve("User", None, "name", "GIVENNAME")
    assert attr.name == "givenName" and attr.type == "string"


def test_resolve_sub_of_simple_attribute_is_none():
    assert schema.resolve("User", None, "userName", "value") is None


def test_resolve_extension_without_urn_when_unique():
    attr = schema.resolve("User", None, "employeeNumber")
    assert attr.schema == ENTERPRISE_USER_SCHEMA


def test_resolve_extension_with_urn_in_any_case():
    attr = schema.resolve("User", ENTERPRISE_LOWER, "MANAGER", "value")
    assert attr.name == "value" and attr.schema == ENTERPRISE_USER_SCHEMA


def test_resolve_core_attribute_under_extension_urn_is_none():
    assert schema.resolve("User", ENTERPRISE_USER_SCHEMA, "userName") is None


def test_resolve_unknown_urn_and_name():
    assert schema.resolve("User", "urn:example:unknown", "userName") is None
    assert schema.resolve("User", None, "shoeSize") is None
    assert schema.resolve("Group", None, "userName") is None


def test_common_attributes_resolve_for_every_resource_type():
    for resource_type in ("User", "Group"):
        assert schema.resolve(resource_type, None, "id").mutability == "readOnly"
        assert schema.resolve(resource_type, None, "id").case_exact
        # RFC 7643 §3.1: externalId is caseExact.
        assert schema.resolve(resource_type, None, "externalid").case_exact
        assert schema.resolve(resource_type, None, "meta", "lastModified").type == "dateTime"


def test_read_only_and_write_only_attributes():
    assert schema.resolve("User", None, "groups").mutability == "readOnly"
    password = schema.resolve("User", None, "password")
    assert password.mutability == "writeOnly" and password.returned == "never"


def test_multi_valued_complex_attributes():
    emails = schema.resolve("User", None, "emails")
    assert emails.multi_valued and emails.type == "complex"
    assert set(emails.sub_attributes) == {"value", "display", "type", "primary"}
    assert emails.sub("primary").type == "boolean"
    assert "work" in emails.sub("type").canonical_values


def test_group_members_and_display_name():
    assert schema.resolve("Group", None, "displayName").required
    members = schema.resolve("Group", None, "members")
    assert set(members.sub_attributes) == {"value", "$ref", "display", "type"}
    assert members.sub("value").case_exact


def test_every_user_attribute_of_rfc7643_is_defined():
    names = {a.name for a in schema.attributes("User")}
    assert names >= {
        "userName", "name", "displayName", "nickName", "profileUrl", "title", "userType",
        "preferredLanguage", "locale", "timezone", "active", "password", "emails", "phoneNumbers", "ims",
        "photos", "addresses", "groups", "entitlements", "roles", "x509Certificates", "id", "externalId",
        "meta",
    }
    enterprise = {a.name for a in schema.attributes("User", ENTERPRISE_USER_SCHEMA)}
    assert enterprise == {"employeeNumber", "costCenter", "organization", "division", "department", "manager"}


def test_attribute_is_frozen():
    attr = schema.resolve("User", None, "userName")
    with pytest.raises(AttributeError):
        attr.name = "x"
    with pytest.raises(TypeError):
        attr.sub_attributes["x"] = attr


def _walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


@pytest.mark.parametrize("urn", [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA])
def test_to_scim_schema_is_rfc7643_section7_json(urn):
    body = schema.to_scim_schema(urn)
    assert body["id"] == urn
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
    json.dumps(body)
    for key, value in _walk(body):
        assert value is not None, key
        assert "_" not in key, key
    for attr in body["attributes"]:
        assert attr["mutability"] in {"readWrite", "readOnly", "writeOnly", "immutable"}
        assert attr["returned"] in {"always", "never", "default", "request"}


def test_to_scim_schema_user_details():
    body = schema.to_scim_schema(USER_SCHEMA.lower(), location="https://h/scim/v2/Schemas/" + USER_SCHEMA)
    attrs = {a["name"]: a for a in body["attributes"]}
    assert body["name"] == "User"
    assert body["meta"] == {"resourceType": "Schema", "location": "https://h/scim/v2/Schemas/" + USER_SCHEMA}
    # Common attributes belong to no schema (RFC 7643 §3.1).
    assert "id" not in attrs and "meta" not in attrs
    assert attrs["userName"]["uniqueness"] == "server" and attrs["userName"]["required"] is True
    assert attrs["profileUrl"]["referenceTypes"] == ["external"]
    assert [s["name"] for s in attrs["name"]["subAttributes"]][:3] == ["formatted", "familyName", "givenName"]
    assert "subAttributes" not in attrs["userName"]
    manager = schema.to_scim_schema(ENTERPRISE_USER_SCHEMA)["attributes"][-1]
    assert [s["name"] for s in manager["subAttributes"]] == ["value", "$ref", "displayName"]


def test_computed_sub_attributes_are_returned_on_request_only():
    # RFC 7643 §7: returned "request"; clients get back what they wrote unless they ask for these.
    assert schema.resolve("User", None, "manager", "displayName").returned == "request"
    assert schema.resolve("Group", None, "members", "display").returned == "request"
    assert schema.resolve("Group", None, "members", "value").returned == "default"


def test_roles_describe_what_is_stored():
    roles = schema.resolve("User", None, "roles")
    assert set(roles.sub_attributes) == {"value", "type"}


def test_to_scim_schema_canonical_values_override():
    values = {"roles.value": ["Admin", "Operator"], "roles.type": ["dev", "prod"]}
    body = schema.to_scim_schema(USER_SCHEMA, canonical_values=values)
    roles = next(a for a in body["attributes"] if a["name"] == "roles")
    subs = {s["name"]: s for s in roles["subAttributes"]}
    assert subs["value"]["canonicalValues"] == ["Admin", "Operator"]
    assert subs["type"]["canonicalValues"] == ["dev", "prod"]
    # Built-in canonicalValues elsewhere are untouched.
    emails = next(a for a in body["attributes"] if a["name"] == "emails")
    assert "work" in next(s for s in emails["subAttributes"] if s["name"] == "type")["canonicalValues"]
    generic = next(a for a in schema.to_scim_schema(USER_SCHEMA)["attributes"] if a["name"] == "roles")
    assert all("canonicalValues" not in sub for sub in generic["subAttributes"])


def test_to_scim_schema_unknown_urn_raises():
    with pytest.raises(KeyError):
        schema.to_scim_schema("urn:example:nope")
