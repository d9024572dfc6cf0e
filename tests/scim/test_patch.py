"""Tests for the PATCH engine (RFC 7644 §3.5.2): one per RFC example, each IdP quirk, every error path."""

import copy
import dataclasses

import pytest

from scim import quirks, schema
from scim.constants import ENTERPRISE_USER_SCHEMA as EXT
from scim.errors import (InvalidFilterError, InvalidPathError, InvalidSyntaxError, InvalidValueError,
                         MutabilityError, NoTargetError)
from scim.filters import Comparison
from scim.patch import PatchResult, apply_patch

from .samples import load_sample

BABS = "2819c223-7f76-453a-919d-413861904646"
MANDY = "902c246b-6245-4190-8e05-00816be7344a"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"


def bjensen():
    return {
        "userName": "bjensen",
        "externalId": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                   {"value": "babs@jensen.org", "type": "home"}],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                       "primary": True},
                      {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood"}],
        "active": True,
        EXT: {"employeeNumber": "701984", "manager": {"value": "m0", "$ref": "../Users/m0"}},
    }


def group():
    return {"displayName": "Tour Guides", "externalId": "tg"}


def patch_user(operations, resource=None, **kwargs):
    return apply_patch("User", bjensen() if resource is None else resource, operations, **kwargs)


def patch_group(operations, **kwargs):
    return apply_patch("Group", group(), operations, **kwargs)


def run_sample(resource_type, resource, name, **kwargs):
    return apply_patch(resource_type, resource, load_sample(name)["Operations"], **kwargs)


# RFC 7644 §3.5.2.1 (add)

def test_rfc_add_members():
    result = run_sample("Group", group(), "rfc7644-3.5.2.1-patch-add-members")
    assert result.member_ops == [("add", [BABS])]
    assert result.resource == group()
    assert result.changed and result.quirks == []


def test_rfc_add_without_path():
    result = run_sample("User", bjensen(), "rfc7644-3.5.2.1-patch-add-no-path")
    assert result.resource["nickName"] == "Babs"
    assert "nickname" not in result.resource
    assert result.resource["emails"] == bjensen()["emails"]
    assert result.quirks == []


# RFC 7644 §3.5.2.2 (remove)

def test_rfc_remove_all_members():
    result = run_sample("Group", group(), "rfc7644-3.5.2.2-patch-remove-all-members")
    assert result.member_ops == [("remove_all",)]


def test_rfc_remove_one_member():
    result = run_sample("Group", group(), "rfc7644-3.5.2.2-patch-remove-one-member")
    assert result.member_ops == [("remove", [BABS])]


def test_rfc_remove_work_emails_by_complex_filter():
    user = bjensen()
    user["emails"].append({"value": "b@other.org", "type": "work"})
    result = run_sample("User", user, "rfc7644-3.5.2.2-patch-remove-work-emails")
    assert result.resource["emails"] == [{"value": "babs@jensen.org", "type": "home"},
                                         {"value": "b@other.org", "type": "work"}]


def test_rfc_remove_multiple_members():
    result = run_sample("Group", group(), "rfc7644-3.5.2.2-patch-remove-multiple-members")
    assert result.member_ops == [("remove", [BABS]), ("remove", [MANDY])]


def test_rfc_remove_all_members_then_add():
    result = run_sample("Group", group(), "rfc7644-3.5.2.2-patch-remove-all-then-add-members")
    assert result.member_ops == [("remove_all",), ("add", [BABS, JAMES])]


# RFC 7644 §3.5.2.3 (replace)

def test_rfc_replace_members():
    result = run_sample("Group", group(), "rfc7644-3.5.2.3-patch-replace-members")
    assert result.member_ops == [("replace", [BABS, JAMES])]


def test_rfc_replace_work_address():
    result = run_sample("User", bjensen(), "rfc7644-3.5.2.3-patch-replace-work-address")
    work, home = result.resource["addresses"]
    assert work == {"type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood",
                    "region": "CA", "postalCode": "91608", "country": "US",
                    "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US", "primary": True}
    assert home == bjensen()["addresses"][1]


def test_rfc_replace_work_street_address():
    result = run_sample("User", bjensen(), "rfc7644-3.5.2.3-patch-replace-work-street")
    work, home = result.resource["addresses"]
    assert work == {**bjensen()["addresses"][0], "streetAddress": "1010 Broadway Ave"}
    assert home == bjensen()["addresses"][1]


def test_rfc_replace_without_path():
    user = bjensen()
    user["emails"] = [{"value": "old@example.com", "type": "other"}]
    result = run_sample("User", user, "rfc7644-3.5.2.3-patch-replace-no-path")
    assert result.resource["emails"] == [{"value": "bjensen@example.com", "type": "work", "primary": True},
                                         {"value": "babs@jensen.org", "type": "home"}]
    assert result.resource["nickName"] == "Babs"


# General behaviour

def test_input_is_never_mutated():
    user = bjensen()
    snapshot = copy.deepcopy(user)
    patch_user([{"op": "replace", "path": "name.givenName", "value": "Babs"},
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "add", "path": "emails[type eq \"work\"].display", "value": "Work"}], user)
    assert user == snapshot


def test_result_type():
    result = patch_user([{"op": "replace", "path": "nickName", "value": "B"}])
    assert isinstance(result, PatchResult)
    assert result.member_ops == [] and result.quirks == [] and result.changed


def test_noop_patch_is_not_changed():
    result = patch_user([{"op": "replace", "path": "userName", "value": "bjensen"},
                         {"op": "add", "path": "emails",
                          "value": [{"value": "babs@jensen.org", "type": "home"}]},
                         {"op": "remove", "path": "emails[type eq \"fax\"]"}])
    assert result.resource == bjensen() and not result.changed


def test_add_simple_attribute():
    result = patch_user([{"op": "add", "path": "title", "value": "Tour Guide"}])
    assert result.resource["title"] == "Tour Guide"


def test_add_to_single_valued_attribute_replaces_it():
    result = patch_user([{"op": "add", "path": "userName", "value": "babs"}])
    assert result.resource["userName"] == "babs"


def test_add_sub_attribute_creates_the_complex_attribute():
    user = bjensen()
    del user["name"]
    result = patch_user([{"op": "add", "path": "name.givenName", "value": "Barbara"}], user)
    assert result.resource["name"] == {"givenName": "Barbara"}


def test_add_complex_merges_sub_attributes():
    result = patch_user([{"op": "add", "path": "name", "value": {"middleName": "Jane"}}])
    assert result.resource["name"] == {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"}


def test_replace_complex_leaves_unspecified_sub_attributes():
    result = patch_user([{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}])
    assert result.resource["name"] == {"givenName": "Babs", "familyName": "Jensen"}


def test_add_multi_valued_appends_new_values_only():
    result = patch_user([{"op": "add", "path": "emails",
                          "value": [{"value": "babs@jensen.org", "type": "home"},
                                    {"value": "b@fax.org", "type": "other"}]}])
    assert [e["value"] for e in result.resource["emails"]] == ["bjensen@example.com", "babs@jensen.org",
                                                               "b@fax.org"]


def test_add_single_object_to_multi_valued_attribute():
    result = patch_user([{"op": "add", "path": "phoneNumbers", "value": {"value": "555", "type": "work"}}])
    assert result.resource["phoneNumbers"] == [{"value": "555", "type": "work"}]


def test_add_primary_value_clears_other_primaries():
    result = patch_user([{"op": "add", "path": "emails",
                          "value": [{"value": "new@example.com", "type": "other", "primary": True}]}])
    assert [e.get("primary") for e in result.resource["emails"]] == [False, None, True]


def test_replace_primary_through_value_path_clears_other_primaries():
    result = patch_user([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": True}])
    assert [e.get("primary") for e in result.resource["emails"]] == [False, True]


def test_replace_element_with_primary_clears_other_primaries():
    result = patch_user([{"op": "replace", "path": "addresses[type eq \"home\"]",
                          "value": {"type": "home", "locality": "Burbank", "primary": True}}])
    assert [a.get("primary") for a in result.resource["addresses"]] == [False, True]


def test_replace_multi_valued_without_filter_replaces_all():
    result = patch_user([{"op": "replace", "path": "emails", "value": [{"value": "only@example.com"}]}])
    assert result.resource["emails"] == [{"value": "only@example.com"}]


def test_replace_multi_valued_with_two_primaries_is_rejected():
    with pytest.raises(InvalidValueError, match="primary"):
        patch_user([{"op": "replace", "path": "emails", "value": [{"value": "a@x.com", "primary": True},
                                                                  {"value": "b@x.com", "primary": True}]}])


def test_replace_with_empty_list_unassigns():
    result = patch_user([{"op": "replace", "path": "emails", "value": []}])
    assert "emails" not in result.resource


def test_add_through_value_path_merges_into_matching_values():
    result = patch_user([{"op": "add", "path": "emails[type eq \"work\"]", "value": {"display": "Work"}}])
    assert result.resource["emails"][0] == {"value": "bjensen@example.com", "type": "work", "primary": True,
                                            "display": "Work"}


def test_add_through_value_path_creates_a_missing_value():
    # RFC 7644 §3.5.2.1: a target location that does not exist is added; no quirk involved.
    result = patch_user([{"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555-1"}])
    assert result.resource["phoneNumbers"] == [{"type": "mobile", "value": "555-1"}]
    assert result.quirks == []


def test_add_whole_value_through_value_path_creates_it():
    result = patch_user([{"op": "add", "path": "ims[type eq \"xmpp\"]", "value": {"value": "b@jabber.org"}}])
    assert result.resource["ims"] == [{"type": "xmpp", "value": "b@jabber.org"}]


def test_replace_value_path_matching_nothing_is_no_target():
    with pytest.raises(NoTargetError) as error:
        patch_user([{"op": "replace", "path": "addresses[type eq \"other\"]", "value": {"locality": "X"}}])
    assert error.value.scim_type == "noTarget" and error.value.status == 400


def test_value_path_created_value_cannot_come_from_a_non_eq_filter():
    with pytest.raises(NoTargetError):
        patch_user([{"op": "add", "path": "emails[value co \"nobody\"].type", "value": "work"}])


def test_value_path_filter_comparing_null_cannot_create():
    with pytest.raises(NoTargetError):
        patch_user([{"op": "add", "path": "ims[type eq null].value", "value": "babs"}])


def test_value_path_filter_that_can_never_match_cannot_create():
    with pytest.raises(NoTargetError):
        patch_user([{"op": "add", "path": "emails[type eq \"a\" and type eq \"b\"].value", "value": "x@y.z"}])


def test_value_filter_honours_case_exact():
    # emails.type is caseExact false (RFC 7643 §4.1.2): "WORK" selects the work email.
    result = patch_user([{"op": "replace", "path": "emails[type eq \"WORK\"].value",
                          "value": "n@example.com"}])
    assert result.resource["emails"][0]["value"] == "n@example.com"
    assert len(result.resource["emails"]) == 2


def test_remove_simple_attribute():
    result = patch_user([{"op": "remove", "path": "externalId"}])
    assert "externalId" not in result.resource


def test_remove_absent_attribute_changes_nothing():
    result = patch_user([{"op": "remove", "path": "nickName"}])
    assert not result.changed


def test_remove_sub_attribute_and_unassign_empty_complex():
    result = patch_user([{"op": "remove", "path": "name.givenName"},
                         {"op": "remove", "path": "name.familyName"}])
    assert "name" not in result.resource


def test_remove_multi_valued_attribute():
    result = patch_user([{"op": "remove", "path": "emails"}])
    assert "emails" not in result.resource


def test_remove_sub_attribute_of_matching_values():
    result = patch_user([{"op": "remove", "path": "emails[type eq \"work\"].primary"}])
    assert result.resource["emails"][0] == {"value": "bjensen@example.com", "type": "work"}


def test_remove_sub_attribute_of_every_value_without_filter():
    result = patch_user([{"op": "remove", "path": "emails.type"}])
    assert [set(e) for e in result.resource["emails"]] == [{"value", "primary"}, {"value"}]


def test_remove_value_path_matching_nothing_changes_nothing():
    result = patch_user([{"op": "remove", "path": "emails[type eq \"fax\"]"}])
    assert result.resource == bjensen() and not result.changed


def test_remove_last_matching_value_unassigns_attribute():
    user = bjensen()
    user["ims"] = [{"value": "babs", "type": "aim"}]
    result = patch_user([{"op": "remove", "path": "ims[type eq \"aim\"]"}], user)
    assert "ims" not in result.resource


def test_replace_with_null_removes():
    result = patch_user([{"op": "replace", "path": "nickName", "value": None},
                         {"op": "replace", "path": "externalId", "value": None}])
    assert "externalId" not in result.resource


def test_extension_urn_paths():
    result = patch_user([{"op": "replace", "path": f"{EXT}:employeeNumber", "value": "42"},
                         {"op": "add", "path": f"{EXT}:department", "value": "Tours"},
                         {"op": "replace", "path": f"{EXT.lower()}:manager.value", "value": "m9"}])
    assert result.resource[EXT] == {"employeeNumber": "42", "department": "Tours",
                                    "manager": {"value": "m9", "$ref": "../Users/m0"}}


# RFC 7644 §3.5.2: attrPath = [URI ":"] ATTRNAME; the whole extension URN is a path too.

@pytest.mark.parametrize("op", ["add", "replace", "Replace"])
def test_whole_extension_path_add_and_replace_merge(op):
    result = patch_user([{"op": op, "path": EXT, "value": {"department": "Tours", "employeeNumber": "42"}}])
    # §3.5.2.1 / §3.5.2.3: attributes given are set, the others left unchanged.
    assert result.resource[EXT] == {"employeeNumber": "42", "department": "Tours",
                                    "manager": {"value": "m0", "$ref": "../Users/m0"}}
    assert result.changed and result.quirks == ([] if op == op.lower() else [quirks.ENTRA_OP_CASE])


def test_whole_extension_path_any_case_and_on_a_user_without_it():
    resource = bjensen()
    del resource[EXT]
    result = patch_user([{"op": "add", "path": EXT.upper(), "value": {"costCenter": "4130",
                                                                      "manager": {"value": "m2"}}}], resource)
    assert result.resource[EXT] == {"costCenter": "4130", "manager": {"value": "m2"}}


def test_whole_extension_path_value_may_carry_its_schemas():
    # Clients that model the extension as an object (scim2-models) send its own "schemas" with it.
    result = patch_user([{"op": "add", "path": EXT, "value": {"schemas": [EXT], "division": "West"}}])
    assert result.resource[EXT]["division"] == "West" and "schemas" not in result.resource[EXT]
    with pytest.raises(InvalidValueError, match="schemas"):
        patch_user([{"op": "add", "path": EXT, "value": {"schemas": ["urn:other"], "division": "West"}}])


def test_whole_extension_path_remove_clears_it():
    result = patch_user([{"op": "remove", "path": EXT}])
    assert EXT not in result.resource and result.changed
    result = patch_user([{"op": "replace", "path": EXT, "value": None}])
    assert EXT not in result.resource
    resource = bjensen()
    del resource[EXT]
    assert not patch_user([{"op": "remove", "path": EXT}], resource).changed


@pytest.mark.parametrize("operation, error", [
    ({"op": "add", "path": EXT, "value": "x"}, InvalidValueError),
    ({"op": "add", "path": EXT}, InvalidValueError),
    ({"op": "replace", "path": EXT, "value": {"nope": 1}}, InvalidValueError),
    ({"op": "add", "path": EXT, "value": {"manager": {"displayName": "x", "value": 3}}}, InvalidValueError),
    ({"op": "remove", "path": EXT, "value": {"department": "x"}}, InvalidValueError),
    ({"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User", "value": {}}, InvalidPathError),
])
def test_whole_extension_path_errors(operation, error):
    with pytest.raises(error):
        patch_user([operation])


def test_whole_extension_path_is_unknown_on_groups():
    with pytest.raises(InvalidPathError):
        patch_group([{"op": "add", "path": EXT, "value": {"department": "x"}}])


def test_extension_attribute_without_urn_resolves_when_unique():
    result = patch_user([{"op": "replace", "path": "costCenter", "value": "4130"}])
    assert result.resource[EXT]["costCenter"] == "4130"


def test_removing_last_extension_attribute_drops_the_extension():
    result = patch_user([{"op": "remove", "path": f"{EXT}:employeeNumber"},
                         {"op": "remove", "path": f"{EXT}:manager"}])
    assert EXT not in result.resource


def test_core_urn_qualified_path():
    result = patch_user([{"op": "replace",
                          "path": "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
                          "value": "Babs"}])
    assert result.resource["name"]["givenName"] == "Babs"


def test_no_path_with_extension_object_is_rfc():
    result = patch_user([{"op": "replace", "value": {EXT: {"department": "Rides"}, "displayName": "Babs"}}])
    assert result.resource[EXT]["department"] == "Rides" and result.resource["displayName"] == "Babs"
    assert result.quirks == []


def test_no_path_schemas_key_is_ignored():
    result = patch_user([{"op": "replace", "value": {"schemas": ["x"], "nickName": "B"}}])
    assert result.resource["nickName"] == "B"


def test_patchop_member_names_are_case_insensitive():
    result = patch_user([{"OP": "replace", "Path": "nickName", "VALUE": "B"}])
    assert result.resource["nickName"] == "B" and result.quirks == []


def test_password_is_accepted_and_never_stored():
    result = patch_user([{"op": "replace", "path": "password", "value": "s3cret"},
                         {"op": "replace", "value": {"password": "s3cret", "active": False}}])
    assert "password" not in result.resource and result.resource["active"] is False


def test_manager_object_replaces_whole_manager():
    result = patch_user([{"op": "replace", "path": f"{EXT}:manager", "value": {"value": "m2"}}])
    assert result.resource[EXT]["manager"] == {"value": "m2"}
    assert result.quirks == []


def test_immutable_attribute_may_be_added_once(monkeypatch):
    attr = schema.resolve("User", None, "nickName")
    monkeypatch.setitem(schema._BY_SCHEMA[schema.USER_SCHEMA], "nickname",
                        dataclasses.replace(attr, mutability=schema.IMMUTABLE))
    assert patch_user([{"op": "add", "path": "nickName", "value": "B"}]).resource["nickName"] == "B"
    user = {**bjensen(), "nickName": "B"}
    with pytest.raises(MutabilityError, match="immutable"):
        patch_user([{"op": "replace", "path": "nickName", "value": "C"}], user)


# Group members

def test_members_remove_by_other_filter_is_remove_filter():
    result = patch_group([{"op": "remove", "path": "members[type eq \"Group\"]"}])
    assert result.member_ops == [("remove_filter", Comparison(result.member_ops[0][1].path, "eq", "Group"))]


def test_members_remove_by_or_of_values():
    result = patch_group([{"op": "remove",
                           "path": "members[value eq \"a\" or value eq \"b\" or value eq \"a\"]"}])
    assert result.member_ops == [("remove", ["a", "b"])]


def test_members_not_in_the_document():
    result = patch_group([{"op": "add", "path": "members", "value": [{"value": "u1"}]},
                          {"op": "replace", "path": "displayName", "value": "Guides"}])
    assert result.resource == {"displayName": "Guides", "externalId": "tg"}
    assert result.member_ops == [("add", ["u1"])]


def test_members_no_path_add_and_replace():
    result = patch_group([{"op": "add", "value": {"members": [{"value": "u1"}, {"value": "u1"}]}},
                          {"op": "replace", "value": {"members": [{"value": "u2"}]}}])
    assert result.member_ops == [("add", ["u1"]), ("replace", ["u2"])]


def test_members_replace_with_null_or_empty_list():
    result = patch_group([{"op": "replace", "path": "members", "value": None},
                          {"op": "replace", "path": "members", "value": []}])
    assert result.member_ops == [("replace", []), ("replace", [])]


@pytest.mark.parametrize("value", [[{"display": "Babs"}], [{"value": 42}], [{"value": ""}], "u1", [["u1"]]])
def test_member_without_string_value_is_invalid(value):
    with pytest.raises(InvalidValueError, match="members"):
        patch_group([{"op": "add", "path": "members", "value": value}])


def test_members_add_needs_a_value():
    with pytest.raises(InvalidValueError):
        patch_group([{"op": "add", "path": "members"}])


@pytest.mark.parametrize("path, op", [("members[value eq \"u1\"]", "add"),
                                      ("members[value eq \"u1\"]", "replace"),
                                      ("members[value eq \"u1\"].type", "remove"),
                                      ("members.value", "remove")])
def test_members_paths_that_cannot_be_applied(path, op):
    with pytest.raises(InvalidPathError):
        patch_group([{"op": op, "path": path, "value": [{"value": "u2"}]}])


# IdP quirks: accepted and recorded, refused in strict mode

@pytest.mark.parametrize("op", ["Replace", "REPLACE", "rePlace"])
def test_quirk_op_case(op):
    result = patch_user([{"op": op, "path": "nickName", "value": "B"}])
    assert result.resource["nickName"] == "B"
    assert result.quirks == [quirks.ENTRA_OP_CASE]


def test_quirk_op_case_refused_in_strict_mode():
    with pytest.raises(InvalidSyntaxError, match="strict"):
        patch_user([{"op": "Replace", "path": "nickName", "value": "B"}], strict=True)


def test_quirk_boolean_as_string():
    # Entra's default disable (idp_fixtures/entra/scim/15-disable.json): {"op":"Replace","path":"active","value":"False"}.
    result = patch_user([{"op": "Replace", "path": "active", "value": "False"}])
    assert result.resource["active"] is False
    assert result.quirks == [quirks.ENTRA_OP_CASE, quirks.ENTRA_BOOLEAN_AS_STRING]


def test_quirk_boolean_as_string_in_no_path_value():
    result = patch_user([{"op": "replace", "value": {"active": "true"}}], {**bjensen(), "active": False})
    assert result.resource["active"] is True
    assert result.quirks == [quirks.ENTRA_BOOLEAN_AS_STRING]


def test_quirk_boolean_as_string_refused_in_strict_mode():
    with pytest.raises(InvalidValueError, match="strict"):
        patch_user([{"op": "replace", "path": "active", "value": "False"}], strict=True)


def test_okta_deactivate_is_rfc():
    result = patch_user([{"op": "replace", "value": {"active": False}}], strict=True)
    assert result.resource["active"] is False and result.quirks == []


ENTRA_NO_PATH = {"op": "replace", "value": {
    "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
    f"{EXT}:employeeNumber": "Aklq"}}


def test_quirk_no_path_dotted_and_urn_keys():
    # Entra aadOptscim062020 (idp_fixtures/entra-aadoptscim062020/).
    result = patch_user([ENTRA_NO_PATH])
    assert result.resource["displayName"] == "Bjfe"
    assert result.resource["name"] == {"givenName": "Kkom", "familyName": "Unua"}
    assert result.resource[EXT]["employeeNumber"] == "Aklq"
    assert "name.givenName" not in result.resource and f"{EXT}:employeeNumber" not in result.resource
    assert result.quirks == [quirks.ENTRA_NO_PATH_DOTTED_KEYS]


def test_quirk_no_path_dotted_keys_refused_in_strict_mode():
    with pytest.raises(InvalidValueError, match="strict"):
        patch_user([ENTRA_NO_PATH], strict=True)


def test_quirk_no_path_unknown_dotted_key_is_invalid_path():
    with pytest.raises(InvalidPathError):
        patch_user([{"op": "replace", "value": {"name.nick": "x"}}])


def test_quirk_okta_id_in_no_path_value():
    # Okta group rename (idp_fixtures/okta/scim/22-push-group-rename.json).
    result = patch_group([{"op": "replace", "value": {"id": "g1", "displayName": "Test SCIMv2"}}],
                         resource_id="g1")
    assert result.resource["displayName"] == "Test SCIMv2" and "id" not in result.resource
    assert result.quirks == [quirks.OKTA_NO_PATH_ID_IN_VALUE]


@pytest.mark.parametrize("resource_id", ["g2", None])
def test_quirk_okta_id_that_differs_is_mutability(resource_id):
    with pytest.raises(MutabilityError, match="id"):
        patch_group([{"op": "replace", "value": {"id": "g1", "displayName": "X"}}], resource_id=resource_id)


def test_quirk_okta_id_refused_in_strict_mode():
    with pytest.raises(MutabilityError, match="strict"):
        patch_group([{"op": "replace", "value": {"id": "g1", "displayName": "X"}}], resource_id="g1",
                    strict=True)


def test_quirk_manager_bare_string_through_urn_path():
    # Entra's manager pass (idp_fixtures/entra/scim/08-set-manager.json).
    result = patch_user([{"op": "Add", "path": f"{EXT}:manager", "value": "m1"}])
    assert result.resource[EXT]["manager"] == {"value": "m1"}
    assert result.quirks == [quirks.ENTRA_OP_CASE, quirks.ENTRA_MANAGER_BARE_STRING]


def test_quirk_manager_older_list_shape_through_manager_path():
    result = patch_user([{"op": "replace", "path": "manager",
                          "value": [{"$ref": "../Users/m2", "value": "m2"}]}])
    assert result.resource[EXT]["manager"] == {"value": "m2"}
    assert result.quirks == [quirks.ENTRA_MANAGER_BARE_STRING]


def test_quirk_manager_bare_string_refused_in_strict_mode():
    with pytest.raises(InvalidValueError, match="strict"):
        patch_user([{"op": "add", "path": f"{EXT}:manager", "value": "m1"}], strict=True)


def test_remove_manager():
    result = patch_user([{"op": "Remove", "path": f"{EXT}:manager"}])
    assert "manager" not in result.resource[EXT]


def test_quirk_members_remove_by_value():
    # Entra's default member removal (idp_fixtures/entra/scim/34-remove-member-by-value.json).
    result = patch_group([{"op": "Remove", "path": "members",
                           "value": [{"$ref": None, "value": "u1"}, {"$ref": None, "value": "u2"}]}])
    assert result.member_ops == [("remove", ["u1", "u2"])]
    assert result.quirks == [quirks.ENTRA_OP_CASE, quirks.ENTRA_MEMBERS_REMOVE_BY_VALUE]


def test_quirk_members_remove_by_value_refused_in_strict_mode():
    with pytest.raises(InvalidValueError, match="strict"):
        patch_group([{"op": "remove", "path": "members", "value": [{"value": "u1"}]}], strict=True)


def test_quirk_remove_by_value_on_other_attributes():
    user = {**bjensen(), "roles": [{"value": "Admin", "type": "prod"}, {"value": "Member", "type": "dev"}]}
    result = patch_user([{"op": "remove", "path": "roles", "value": [{"value": "admin", "type": "prod"}]}],
                        user)
    assert result.resource["roles"] == [{"value": "Member", "type": "dev"}]
    assert result.quirks == [quirks.ENTRA_REMOVE_BY_VALUE]
    with pytest.raises(InvalidValueError, match="strict"):
        patch_user([{"op": "remove", "path": "roles", "value": [{"value": "Admin"}]}], user, strict=True)


def test_quirk_value_path_creates():
    # Entra's multi-valued update (idp_fixtures/entra/scim/12-replace-several.json) on a user without a work email.
    user = {**bjensen(), "emails": [{"value": "babs@jensen.org", "type": "home", "primary": True}]}
    result = patch_user([{"op": "Replace", "path": "emails[type eq \"work\"].value",
                          "value": "updatedEmail@microsoft.com"}], user)
    assert result.resource["emails"] == [{"value": "babs@jensen.org", "type": "home", "primary": True},
                                         {"type": "work", "value": "updatedEmail@microsoft.com"}]
    assert quirks.ENTRA_VALUE_PATH_CREATES in result.quirks


def test_quirk_value_path_creates_refused_in_strict_mode():
    user = {**bjensen(), "emails": [{"value": "babs@jensen.org", "type": "home"}]}
    with pytest.raises(NoTargetError, match="strict"):
        patch_user([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@y.z"}], user,
                   strict=True)


def test_value_path_replace_of_existing_value_is_no_quirk():
    result = patch_user([{"op": "replace", "path": "emails[type eq \"work\"].value",
                          "value": "n@example.com"}], strict=True)
    assert result.resource["emails"][0]["value"] == "n@example.com" and result.quirks == []


def test_okta_membership_patch_remove_then_add():
    result = patch_group([{"op": "remove", "path": "members[value eq \"u1\"]"},
                          {"op": "add", "path": "members",
                           "value": [{"value": "u2", "display": "test.user@okta.local"}]}], strict=True)
    assert result.member_ops == [("remove", ["u1"]), ("add", ["u2"])]


def test_entra_documented_user_updates():
    result = patch_user([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Replace", "path": "userName", "value": "5b50642d@testuser.com"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "Replace", "path": "externalId", "value": "ext-2"},
        {"op": "Replace", "path": f"{EXT}:employeeNumber", "value": "99"},
    ])
    doc = result.resource
    assert doc["emails"][0]["value"] == "updatedEmail@microsoft.com"
    assert doc["name"]["familyName"] == "updatedFamilyName" and doc["userName"] == "5b50642d@testuser.com"
    assert doc["nickName"] == "Babs" and doc["externalId"] == "ext-2" and doc[EXT]["employeeNumber"] == "99"
    assert result.quirks == [quirks.ENTRA_OP_CASE]


def test_entra_group_rename():
    result = patch_group([{"op": "Replace", "path": "displayName", "value": "1879db59updatedDisplayName"}])
    assert result.resource["displayName"] == "1879db59updatedDisplayName"


# Errors

@pytest.mark.parametrize("operations", [None, [], {"op": "add"}, "add"])
def test_operations_must_be_a_non_empty_list(operations):
    with pytest.raises(InvalidSyntaxError):
        patch_user(operations)


@pytest.mark.parametrize("operation", [{"op": "merge", "path": "nickName", "value": "B"},
                                       {"op": 1, "path": "nickName", "value": "B"},
                                       {"path": "nickName", "value": "B"},
                                       "replace"])
def test_invalid_op_is_invalid_syntax(operation):
    with pytest.raises(InvalidSyntaxError) as error:
        patch_user([operation])
    assert error.value.scim_type == "invalidSyntax"


@pytest.mark.parametrize("path", ["shoeSize", "name.nick", "userName.value", "active[value eq true]",
                                  "emails[label eq \"x\"]", "emails[type.x eq \"x\"]", "urn:example:x:User:a",
                                  f"{EXT}:userName", "emails..value", "", 7])
def test_unknown_or_malformed_path_is_invalid_path(path):
    with pytest.raises(InvalidPathError) as error:
        patch_user([{"op": "replace", "path": path, "value": "x"}])
    assert error.value.scim_type == "invalidPath"


def test_malformed_value_filter_is_invalid_filter():
    with pytest.raises(InvalidFilterError):
        patch_user([{"op": "remove", "path": "emails[type eq]"}])


def test_add_emails_sub_attribute_without_filter_is_invalid_path():
    with pytest.raises(InvalidPathError, match="filter"):
        patch_user([{"op": "replace", "path": "emails.value", "value": "x@y.z"}])


@pytest.mark.parametrize("path", ["groups", "id", "meta", "meta.created", f"{EXT}:manager.displayName"])
def test_read_only_attributes_are_mutability(path):
    for op in ("add", "replace", "remove"):
        with pytest.raises(MutabilityError) as error:
            patch_user([{"op": op, "path": path, "value": "x"}])
        assert error.value.scim_type == "mutability"


def test_no_path_read_only_attribute_is_mutability():
    with pytest.raises(MutabilityError):
        patch_user([{"op": "replace", "value": {"meta": {"version": "x"}}}])


@pytest.mark.parametrize("operation", [{"op": "remove", "path": "userName"},
                                       {"op": "replace", "path": "userName", "value": None},
                                       {"op": "replace", "value": {"userName": None}}])
def test_removing_required_attribute_is_mutability(operation):
    # RFC 7644 §3.5.2.2: a required attribute becoming unassigned is a mutability error.
    with pytest.raises(MutabilityError, match="userName"):
        patch_user([operation])


def test_removing_group_display_name_is_mutability():
    with pytest.raises(MutabilityError, match="displayName"):
        patch_group([{"op": "remove", "path": "displayName"}])


def test_blank_required_attribute_is_invalid_value():
    with pytest.raises(InvalidValueError, match="userName"):
        patch_user([{"op": "replace", "path": "userName", "value": "  "}])


def test_remove_without_path_is_no_target():
    with pytest.raises(NoTargetError):
        patch_user([{"op": "remove", "value": {"nickName": "B"}}])


@pytest.mark.parametrize("op", ["add", "replace"])
def test_missing_value_is_invalid_value(op):
    with pytest.raises(InvalidValueError, match="value"):
        patch_user([{"op": op, "path": "nickName"}])


def test_add_null_is_invalid_value():
    with pytest.raises(InvalidValueError):
        patch_user([{"op": "add", "path": "nickName", "value": None}])


@pytest.mark.parametrize("value", ["nickName", ["nickName"], None, 3])
def test_no_path_value_must_be_an_object(value):
    with pytest.raises(InvalidValueError, match="object"):
        patch_user([{"op": "add", "value": value}])


def test_no_path_unknown_attribute_is_invalid_value():
    with pytest.raises(InvalidValueError, match="shoeSize"):
        patch_user([{"op": "add", "value": {"shoeSize": 42}}])


def test_no_path_unknown_extension_attribute_is_invalid_value():
    with pytest.raises(InvalidValueError, match="badge"):
        patch_user([{"op": "add", "value": {EXT: {"badge": 1}}}])


@pytest.mark.parametrize("operation", [
    {"op": "replace", "path": "nickName", "value": 42},
    {"op": "replace", "path": "active", "value": "maybe"},
    {"op": "replace", "path": "name", "value": "Babs"},
    {"op": "add", "path": "emails", "value": "a@b.c"},
    {"op": "add", "path": "emails", "value": [{"value": "a@b.c", "label": "x"}]},
    {"op": "replace", "path": "emails[type eq \"work\"]", "value": "a@b.c"},
    {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "yes"},
    {"op": "replace", "path": "displayName", "value": ["a"]},
])
def test_wrong_value_types_are_invalid_value(operation):
    with pytest.raises(InvalidValueError):
        patch_user([operation])


def test_replace_filter_matching_several_values_with_primary_is_rejected():
    user = {**bjensen(),
            "emails": [{"value": "a@x.com", "type": "work"}, {"value": "b@x.com", "type": "work"}]}
    with pytest.raises(InvalidValueError, match="primary"):
        patch_user([{"op": "replace", "path": "emails[type eq \"work\"]",
                     "value": {"value": "c@x.com", "primary": True}}], user)


def test_patch_is_all_or_nothing_and_names_the_failing_operation():
    user = bjensen()
    with pytest.raises(InvalidPathError) as error:
        apply_patch("User", user, [{"op": "replace", "path": "nickName", "value": "B"},
                                   {"op": "replace", "path": "shoeSize", "value": "44"}])
    assert error.value.detail.startswith("Operation 2:")
    assert user == bjensen()


def test_unknown_resource_type_is_rejected():
    with pytest.raises(ValueError):
        apply_patch("Device", {}, [{"op": "add", "path": "x", "value": 1}])
