"""Tests for the PATCH path grammar (RFC 7644 §3.5.2, Figure 7)."""

import pytest

from scim.constants import ENTERPRISE_USER_SCHEMA as EXT
from scim.constants import USER_SCHEMA
from scim.errors import InvalidFilterError, InvalidPathError
from scim.filters import And, AttrPath, Comparison, Or
from scim.paths import PatchPath, parse_patch_path


def test_simple_attribute():
    assert parse_patch_path("userName") == PatchPath(AttrPath(None, "userName", None))


def test_sub_attribute():
    assert parse_patch_path("name.givenName") == PatchPath(AttrPath(None, "name", "givenName"))


def test_surrounding_whitespace_is_ignored():
    assert parse_patch_path("  active ") == PatchPath(AttrPath(None, "active", None))


def test_extension_urn_path():
    # Entra's manager path (idp_fixtures/entra/scim/08-set-manager.json).
    parsed = parse_patch_path(f"{EXT}:manager")
    assert parsed == PatchPath(AttrPath(EXT, "manager", None))


def test_extension_urn_path_with_sub_attribute():
    assert parse_patch_path(f"{EXT}:manager.value") == PatchPath(AttrPath(EXT, "manager", "value"))


def test_core_urn_path_with_sub_attribute():
    assert parse_patch_path(f"{USER_SCHEMA}:name.givenName") == PatchPath(AttrPath(USER_SCHEMA, "name",
                                                                                     "givenName"))


def test_value_path():
    parsed = parse_patch_path('emails[type eq "work"]')
    assert parsed.path == AttrPath(None, "emails", None)
    assert parsed.value_filter == Comparison(AttrPath(None, "type", None), "eq", "work")
    assert parsed.sub is None


def test_value_path_with_sub_attribute():
    parsed = parse_patch_path('emails[type eq "work"].value')
    assert parsed.path == AttrPath(None, "emails", None)
    assert parsed.sub == "value"


def test_value_path_with_logical_filter():
    parsed = parse_patch_path('emails[type eq "work" and value ew "example.com"]')
    assert isinstance(parsed.value_filter, And)
    parsed = parse_patch_path('members[value eq "a" or value eq "b"]')
    assert isinstance(parsed.value_filter, Or)


def test_bracket_inside_a_quoted_value_does_not_end_the_filter():
    parsed = parse_patch_path('emails[value eq "a]b\\"c"].display')
    assert parsed.value_filter.value == 'a]b"c'
    assert parsed.sub == "display"


def test_extension_value_path_is_parsed():
    parsed = parse_patch_path(f'{USER_SCHEMA}:emails[type eq "work"].value')
    assert parsed.path == AttrPath(USER_SCHEMA, "emails", None) and parsed.sub == "value"


def test_ref_sub_attribute():
    assert parse_patch_path("members.$ref").path == AttrPath(None, "members", "$ref")


@pytest.mark.parametrize("text", [
    "", "   ", None, 42,
    "1name", "name..givenName", "name.givenName.x", "na me", "name.",
    'emails[type eq "work"', 'emails[type eq "work"]value', 'emails[type eq "work"].',
    'emails[]', 'name.givenName[type eq "work"]', 'emails[type eq "work"][value eq "x"]',
    'emails[type eq "work"].value.x', "urn:", f"{EXT}:", "emails[value eq \"x\" and x[y eq 1]]",
])
def test_malformed_paths_are_invalid_path(text):
    with pytest.raises(InvalidPathError) as error:
        parse_patch_path(text)
    assert error.value.scim_type == "invalidPath"


def test_malformed_filter_inside_brackets_is_invalid_filter():
    # RFC 7644 §3.12 lists the PATCH path filter under invalidFilter.
    with pytest.raises(InvalidFilterError):
        parse_patch_path("emails[type eq]")
