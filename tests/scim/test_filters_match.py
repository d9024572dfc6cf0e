"""matches(): in-memory evaluation of filters against resources and values of multi-valued attributes."""

import pytest

from scim import schema
from scim.errors import InvalidFilterError
from scim.filters import matches, parse_filter

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

BJENSEN = {
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "bjensen-ext",
    "userName": "bjensen@example.com",
    "name": {"familyName": "O'Malley", "givenName": "Barbara"},
    "displayName": "Babs Jensen",
    "title": "Tour Guide",
    "userType": "Employee",
    "active": True,
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
    "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
    ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
}


def user(text, doc=BJENSEN):
    return matches(text, doc, resource_type="User")


# RFC 7644 §3.4.2.2 examples against bjensen.
@pytest.mark.parametrize("text, expected", [
    ('userName eq "bjensen@example.com"', True),
    ('name.familyName co "O\'Malley"', True),
    ('userName sw "B"', True),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"', False),
    ("title pr", True),
    ('meta.lastModified gt "2011-05-13T04:42:34Z"', False),
    ('meta.lastModified ge "2011-05-13T04:42:34Z"', True),
    ('meta.lastModified lt "2011-05-13T04:42:34Z"', False),
    ('meta.lastModified le "2011-05-13T04:42:34Z"', True),
    ('title pr and userType eq "Employee"', True),
    ('title pr or userType eq "Intern"', True),
    ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', True),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', False),
    ('userType eq "Employee" and (emails.type eq "work")', True),
    ('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', True),
    ('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
     True),
])
def test_rfc7644_examples(text, expected):
    assert user(text) is expected


@pytest.mark.parametrize("text, expected", [
    ('displayName eq "babs jensen"', True),
    ('displayName eq "Babs"', False),
    ('displayName ne "Babs"', True),
    ('displayName ne "babs jensen"', False),
    ('displayName co "S JEN"', True),
    ('displayName sw "babs"', True),
    ('displayName ew "JENSEN"', True),
    ('displayName ew "Babs"', False),
    ('displayName gt "babs"', True),
    ('displayName ge "babs jensen"', True),
    ('displayName lt "c"', True),
    ('displayName le "babs"', False),
    ("nickName pr", False),
    ("displayName pr", True),
])
def test_each_operator_on_a_case_insensitive_string(text, expected):
    assert user(text) is expected


def test_case_exact_attribute_is_compared_exactly():
    # RFC 7643 §3.1: externalId and id are caseExact.
    assert user('externalId eq "bjensen-ext"')
    assert not user('externalId eq "BJENSEN-EXT"')
    assert not user('id eq "2819C223-7F76-453A-919D-413861904646"')
    assert not user('externalId co "JENSEN"')


def test_attribute_names_are_case_insensitive():
    assert user('USERNAME Eq "BJENSEN@EXAMPLE.COM"')
    assert user('Name.FamilyName eq "o\'malley"')


def test_enterprise_extension_with_and_without_urn():
    assert user(f'{ENTERPRISE}:employeeNumber eq "701984"')
    assert user('employeeNumber eq "701984"')
    assert user(f'{ENTERPRISE}:manager.value eq "26118915"')
    assert user(f'{ENTERPRISE}:manager eq "26118915"')


def test_datetime_compares_instants_not_strings():
    # 04:42:34Z is 06:42:34+02:00; a string comparison would disagree.
    assert user('meta.lastModified eq "2011-05-13T06:42:34+02:00"')
    assert user('meta.lastModified gt "2011-05-13T05:00:00+02:00"')
    assert not user('meta.lastModified gt "2011-05-13T04:42:34.001Z"')


def test_booleans():
    assert user("active eq true")
    assert not user("active eq false")
    assert user("active ne false")
    assert user('active eq "True"')  # Entra sends booleans as strings
    assert user("emails[primary eq true and type eq \"work\"]")


@pytest.mark.parametrize("text, message", [
    ("active gt true", "gt"),
    ('active eq "yes"', "boolean"),
    ('active co "t"', "boolean"),
    ('meta.created gt "yesterday"', "dateTime"),
    ('meta.created co "2010"', "dateTime"),
    ("userName eq 5", "string"),
    ('name eq "x"', "complex"),
    ('nosuch eq "x"', "Unknown attribute 'nosuch'"),
    ('name.nosuch eq "x"', "Unknown attribute 'name.nosuch'"),
    ('urn:example:nope:User:userName eq "x"', "Unknown schema"),
    ('emails[nosuch eq "x"]', "Unknown attribute 'emails.nosuch'"),
    ('userName eq "x" or nosuch pr', "nosuch"),
    ('userName gt null', "null"),
])
def test_invalid_filters_for_the_schema(text, message):
    with pytest.raises(InvalidFilterError, match=message):
        user(text)


def test_cross_element_trap():
    # Conditions inside one bracket apply to the SAME value: work email is y, home email is x.
    doc = {"userName": "u", "emails": [{"type": "work", "value": "y@corp.com"},
                                       {"type": "home", "value": "x@home.com"}]}
    assert not user('emails[type eq "work" and value co "x@"]', doc)
    assert user('emails.type eq "work" and emails.value co "x@"', doc)  # without brackets: any value each
    assert user('emails[type eq "home" and value co "x@"]', doc)


def test_entra_value_path_form():
    assert user('emails[type eq "work"].value eq "BJENSEN@example.com"')
    assert not user('emails[type eq "home"].value eq "bjensen@example.com"')


def test_missing_attribute():
    doc = {"userName": "u"}
    assert not user('title eq "x"', doc)
    assert user('title ne "x"', doc)
    assert user("title eq null", doc)
    assert not user("title ne null", doc)
    assert not user("emails pr", doc)
    assert not user('emails[type eq "work"]', doc)


def test_present_ignores_empty_values():
    doc = {"userName": "u", "title": "", "emails": [], "name": {"givenName": None}}
    assert not user("title pr", doc)
    assert not user("emails pr", doc)
    assert not user("name pr", doc)
    assert user("name pr", {"name": {"givenName": "B"}})


def test_not_and_grouping():
    assert user('not (userName eq "other") and (title pr or nickName pr)')
    assert not user('not (userName sw "bjensen")')


def test_member_value_filter_against_one_element():
    members = schema.resolve("Group", None, "members")
    element = {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs"}
    assert matches('value eq "2819c223-7f76-453a-919d-413861904646"', element, members)
    # members.value is caseExact (RFC 7643 §8.7.1): an id in another case is another id.
    assert not matches('value eq "2819C223-7F76-453A-919D-413861904646"', element, members)
    assert matches(parse_filter('display eq "BABS"'), element, members)


def test_email_value_filter_against_one_element():
    emails = schema.resolve("User", None, "emails")
    work = {"type": "work", "value": "a@example.com"}
    assert matches('type eq "work" and value co "@EXAMPLE.com"', work, emails)
    assert not matches('type eq "work"', {"type": "home", "value": "a@example.com"}, emails)
    with pytest.raises(InvalidFilterError, match="Unknown attribute 'emails.nope'"):
        matches('nope pr', {"type": "home"}, emails)


def test_schemaless_matching_is_case_insensitive_and_typed_by_value():
    doc = {"UserName": "Bob", "age": 42, "flag": True, "emails": [{"value": "B@x.com"}]}
    assert matches('username eq "bob"', doc)
    assert matches("age gt 12", doc)
    assert matches("age lt 42.5", doc)
    assert not matches('age eq "42"', doc)
    assert matches("flag eq true", doc)
    assert matches('emails co "b@x"', doc)
    assert matches('emails[value sw "b@"]', doc)


def test_schemaless_element():
    assert matches('type eq "WORK"', {"type": "work"}, None) is True


def test_numbers_in_an_element_filter():
    assert matches("x gt 12", {"x": 13}) and not matches("x gt 12", {"x": 12})
    assert matches("x ge 1.5", {"x": 1.5})
