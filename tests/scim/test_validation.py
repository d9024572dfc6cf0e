"""Tests for POST/PUT body normalisation and the immutable-attribute check."""

import dataclasses

import pytest

from scim import quirks, schema
from scim.constants import ENTERPRISE_USER_SCHEMA as EXT
from scim.constants import GROUP_SCHEMA, USER_SCHEMA
from scim.errors import InvalidSyntaxError, InvalidValueError, MutabilityError
from scim.validation import check_immutable, normalize_resource

from .samples import load_sample


def user(**extra):
    return {"schemas": [USER_SCHEMA], "userName": "bjensen", **extra}


def test_rfc7643_enterprise_user_is_normalised():
    doc, applied = normalize_resource("User", load_sample("rfc7643-8.3-enterprise-user"))
    assert applied == []
    for dropped in ("schemas", "id", "meta", "groups", "password"):
        assert dropped not in doc
    assert doc["userName"] == "bjensen@example.com"
    assert doc["externalId"] == "701984"
    assert doc["name"]["middleName"] == "Jane"
    assert doc["emails"][0] == {"value": "bjensen@example.com", "type": "work", "primary": True}
    assert len(doc["addresses"]) == 2
    # manager.displayName is read-only: tolerated, never stored.
    assert doc[EXT]["manager"] == {"value": "26118915-6090-4610-87e4-49d8ca9f808d",
                                   "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"}
    assert doc[EXT]["department"] == "Tour Operations"


def test_rfc7643_group_is_normalised():
    doc, applied = normalize_resource("Group", load_sample("rfc7643-8.4-group"))
    assert applied == []
    assert doc["displayName"] == "Tour Guides"
    # members.display is read-only: dropped; value and $ref kept.
    assert doc["members"][1] == {"value": "902c246b-6245-4190-8e05-00816be7344a",
                                 "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a"}


def test_attribute_names_are_folded_to_canonical_case():
    # Attribute names are case-insensitive (RFC 7643 §2.1): an IdP may send "UserName".
    doc, _ = normalize_resource("User", {"UserName": "bob", "NAME": {"GivenName": "Bob"},
                                         EXT.upper(): {"EMPLOYEENUMBER": "7"}})
    assert doc == {"userName": "bob", "name": {"givenName": "Bob"}, EXT: {"employeeNumber": "7"}}


def test_same_attribute_twice_in_different_case_is_rejected():
    with pytest.raises(InvalidValueError, match="userName"):
        normalize_resource("User", {"userName": "a", "UserName": "b"})


def test_okta_create_body_with_groups_and_password_is_accepted():
    body = {"schemas": [USER_SCHEMA], "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [], "password": "1mz050nq", "active": True}
    doc, applied = normalize_resource("User", body)
    assert "password" not in doc and "groups" not in doc
    assert doc["active"] is True and applied == []


def test_entra_create_body_with_nulls_meta_and_empty_roles():
    body = {"schemas": [USER_SCHEMA, EXT], "externalId": "0a21f0f2", "userName": "Test_User",
            "active": True, "addresses": None, "meta": {"resourceType": "User"}, "roles": [],
            "emails": [{"primary": True, "type": "work", "value": "t@testuser.com"}],
            "name": {"formatted": "g f", "familyName": "f", "givenName": "g", "middleName": None}}
    doc, _ = normalize_resource("User", body)
    assert "addresses" not in doc and "roles" not in doc and "meta" not in doc
    assert doc["name"] == {"formatted": "g f", "familyName": "f", "givenName": "g"}


def test_entra_group_with_unknown_schema_uri_is_accepted():
    adscim = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
    body = {"schemas": [GROUP_SCHEMA, adscim],
            "externalId": "8aa1a0c0", "displayName": "Group1DisplayName", "meta": {"resourceType": "Group"}}
    doc, _ = normalize_resource("Group", body)
    assert doc == {"externalId": "8aa1a0c0", "displayName": "Group1DisplayName"}


def test_unknown_extension_attributes_are_ignored():
    doc, _ = normalize_resource("User", user(**{"urn:example:acme:2.0:User": {"badge": "42"}}))
    assert doc == {"userName": "bjensen"}


def test_members_with_null_ref_are_accepted():
    doc, _ = normalize_resource("Group", {"displayName": "G", "members": [{"$ref": None, "value": "u1"}]})
    assert doc["members"] == [{"value": "u1"}]


def test_member_without_value_is_rejected():
    with pytest.raises(InvalidValueError, match="members"):
        normalize_resource("Group", {"displayName": "G", "members": [{"display": "Babs"}]})


def test_unknown_core_attributes_are_rejected_by_name():
    with pytest.raises(InvalidValueError) as error:
        normalize_resource("User", user(shoeSize=42, favouriteColour="red"))
    assert "shoeSize" in error.value.detail and "favouriteColour" in error.value.detail
    assert error.value.scim_type == "invalidValue"


def test_unknown_sub_attribute_is_rejected_by_name():
    with pytest.raises(InvalidValueError, match=r"name\.nick"):
        normalize_resource("User", user(name={"nick": "B"}))
    with pytest.raises(InvalidValueError, match=r"emails\.label"):
        normalize_resource("User", user(emails=[{"value": "a@b.c", "label": "x"}]))


def test_unknown_attribute_of_known_extension_is_rejected():
    with pytest.raises(InvalidValueError, match="badge"):
        normalize_resource("User", user(**{EXT: {"badge": "42"}}))


def test_extension_attribute_at_top_level_is_rejected_with_its_place():
    with pytest.raises(InvalidValueError, match=EXT):
        normalize_resource("User", user(employeeNumber="7"))


def test_fully_qualified_key_is_rejected():
    with pytest.raises(InvalidValueError, match="Misplaced"):
        normalize_resource("User", user(**{f"{USER_SCHEMA}:nickName": "B"}))


def test_extension_must_be_an_object():
    with pytest.raises(InvalidValueError, match="object"):
        normalize_resource("User", user(**{EXT: "x"}))


def test_body_must_be_an_object():
    with pytest.raises(InvalidSyntaxError):
        normalize_resource("User", ["userName"])


@pytest.mark.parametrize("body", [{}, {"userName": None}, {"userName": "  "}])
def test_user_name_is_required(body):
    with pytest.raises(InvalidValueError, match="userName"):
        normalize_resource("User", body)


def test_group_display_name_is_required():
    with pytest.raises(InvalidValueError, match="displayName"):
        normalize_resource("Group", {"members": []})


@pytest.mark.parametrize("field, value, message", [
    ("userName", 42, "string"),
    ("active", 1, "boolean"),
    ("active", "yes", "boolean"),
    ("name", "Barbara", "object"),
    ("emails", {"value": "a@b.c"}, "list"),
    ("emails", ["a@b.c"], "object"),
    ("displayName", ["x"], "single-valued"),
    ("profileUrl", 5, "string"),
    ("x509Certificates", [{"value": "not base64!"}], "base64"),
    ("emails", [{"value": "a@b.c", "primary": "maybe"}], "boolean"),
])
def test_type_errors(field, value, message):
    with pytest.raises(InvalidValueError, match=message):
        normalize_resource("User", user(**{field: value}))


def test_datetime_values_are_checked(monkeypatch):
    attr = schema.resolve("User", None, "nickName")
    dated = dataclasses.replace(attr, type=schema.DATETIME)
    monkeypatch.setitem(schema._BY_SCHEMA[USER_SCHEMA], "nickname", dated)
    doc, _ = normalize_resource("User", user(nickName="2011-08-01T21:32:44.882Z"))
    assert doc["nickName"] == "2011-08-01T21:32:44.882Z"
    for bad in ("2011-08-01", "yesterday", "2011-13-01T00:00:00Z", 20110801):
        with pytest.raises(InvalidValueError, match="date-time"):
            normalize_resource("User", user(nickName=bad))


def test_integer_and_decimal_values_are_checked(monkeypatch):
    attr = schema.resolve("User", None, "nickName")
    monkeypatch.setitem(schema._BY_SCHEMA[USER_SCHEMA], "nickname",
                        dataclasses.replace(attr, type=schema.INTEGER))
    monkeypatch.setitem(schema._BY_SCHEMA[USER_SCHEMA], "title", dataclasses.replace(attr, name="title",
                                                                                    type=schema.DECIMAL))
    doc, _ = normalize_resource("User", user(nickName=3, title=2.5))
    assert doc["nickName"] == 3 and doc["title"] == 2.5
    with pytest.raises(InvalidValueError, match="integer"):
        normalize_resource("User", user(nickName=2.5))
    with pytest.raises(InvalidValueError, match="integer"):
        normalize_resource("User", user(nickName=True))
    with pytest.raises(InvalidValueError, match="number"):
        normalize_resource("User", user(title="2.5"))


def test_two_primary_values_are_rejected():
    emails = [{"value": "a@x.com", "primary": True}, {"value": "b@x.com", "primary": True}]
    with pytest.raises(InvalidValueError, match="primary"):
        normalize_resource("User", user(emails=emails))


def test_values_round_trip_unchanged():
    doc, _ = normalize_resource("User", user(phoneNumbers=[{"value": "+1 (555) 555-5555", "type": "work"}]))
    assert doc["phoneNumbers"] == [{"value": "+1 (555) 555-5555", "type": "work"}]


@pytest.mark.parametrize("text, expected", [("True", True), ("false", False), ("FALSE", False)])
def test_string_booleans_are_coerced_as_a_quirk(text, expected):
    doc, applied = normalize_resource("User", user(active=text))
    assert doc["active"] is expected
    assert applied == [quirks.ENTRA_BOOLEAN_AS_STRING]


def test_string_booleans_are_refused_in_strict_mode():
    with pytest.raises(InvalidValueError, match="strict"):
        normalize_resource("User", user(active="False"), strict=True)


def test_manager_bare_string_is_stored_as_object():
    doc, applied = normalize_resource("User", user(**{EXT: {"manager": "26118915"}}))
    assert doc[EXT]["manager"] == {"value": "26118915"}
    assert applied == [quirks.ENTRA_MANAGER_BARE_STRING]


def test_manager_list_shape_is_stored_as_object():
    manager = [{"$ref": "../Users/m1", "value": "m1"}]
    doc, applied = normalize_resource("User", user(**{EXT: {"manager": manager}}))
    assert doc[EXT]["manager"] == {"value": "m1"}
    assert applied == [quirks.ENTRA_MANAGER_BARE_STRING]


def test_manager_list_with_two_entries_is_rejected():
    with pytest.raises(InvalidValueError, match="manager"):
        normalize_resource("User", user(**{EXT: {"manager": [{"value": "a"}, {"value": "b"}]}}))


def test_manager_bare_string_is_refused_in_strict_mode():
    with pytest.raises(InvalidValueError, match="strict"):
        normalize_resource("User", user(**{EXT: {"manager": "26118915"}}), strict=True)


def test_strict_mode_accepts_rfc_bodies():
    doc, applied = normalize_resource("User", load_sample("rfc7643-8.3-enterprise-user"), strict=True)
    assert applied == [] and doc["userName"] == "bjensen@example.com"


def test_resource_type_is_case_insensitive():
    doc, _ = normalize_resource("group", {"displayName": "G"})
    assert doc == {"displayName": "G"}


def make_employee_number_immutable(monkeypatch):
    attr = schema.resolve("User", EXT, "employeeNumber")
    monkeypatch.setitem(schema._BY_SCHEMA[EXT], "employeenumber",
                        dataclasses.replace(attr, mutability=schema.IMMUTABLE))


def test_check_immutable_allows_first_assignment_and_same_value(monkeypatch):
    make_employee_number_immutable(monkeypatch)
    check_immutable("User", {"userName": "a"}, {"userName": "a", EXT: {"employeeNumber": "7"}})
    check_immutable("User", {EXT: {"employeeNumber": "7"}}, {EXT: {"employeeNumber": "7"}})


def test_check_immutable_rejects_change_and_removal(monkeypatch):
    make_employee_number_immutable(monkeypatch)
    with pytest.raises(MutabilityError, match="employeeNumber"):
        check_immutable("User", {EXT: {"employeeNumber": "7"}}, {EXT: {"employeeNumber": "8"}})
    with pytest.raises(MutabilityError, match="employeeNumber"):
        check_immutable("User", {EXT: {"employeeNumber": "7"}}, {})


def test_check_immutable_honours_case_exact(monkeypatch):
    make_employee_number_immutable(monkeypatch)
    check_immutable("User", {EXT: {"employeeNumber": "ab"}}, {EXT: {"employeeNumber": "AB"}})


def test_check_immutable_checks_sub_attributes_of_single_valued_complex(monkeypatch):
    manager = schema.resolve("User", EXT, "manager")
    subs = dict(manager.sub_attributes)
    subs["value"] = dataclasses.replace(subs["value"], mutability=schema.IMMUTABLE)
    monkeypatch.setitem(schema._BY_SCHEMA[EXT], "manager",
                        dataclasses.replace(manager, sub_attributes=subs))
    with pytest.raises(MutabilityError, match="manager.value"):
        check_immutable("User", {EXT: {"manager": {"value": "m1"}}}, {EXT: {"manager": {"value": "m2"}}})


def test_check_immutable_ignores_members_and_read_write_changes():
    check_immutable("Group", {"displayName": "a", "members": [{"value": "1"}]},
                    {"displayName": "b", "members": [{"value": "2"}]})
    check_immutable("User", {"userName": "a"}, {"userName": "b"})


def test_extension_object_may_carry_its_own_schemas():
    doc, _ = normalize_resource("User", {"userName": "x", EXT: {
        "schemas": [EXT.lower()], "department": "Tours"}})
    assert doc[EXT] == {"department": "Tours"}
    with pytest.raises(InvalidValueError, match="schemas"):
        normalize_resource("User", {"userName": "x", EXT: {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "department": "Tours"}})
