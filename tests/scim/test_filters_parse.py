"""parse_filter: RFC 7644 §3.4.2.2 grammar, the scim2-filter-parser 0.7.0 fixes, IdP forms, errors."""

import random

import pytest

from scim.constants import MAX_FILTER_LENGTH
from scim.errors import InvalidFilterError
from scim.filters import (MAX_FILTER_DEPTH, And, AttrPath, Comparison, Not, Or, ValuePath, filter_quirks,
                          parse_filter)
from scim.quirks import ENTRA_FILTER_VALUE_PATH_ATTRIBUTE

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def cmp(name, op, value=None, sub=None, uri=None):
    return Comparison(AttrPath(uri, name, sub), op, value)


# Every example filter of RFC 7644 §3.4.2.2, with the tree it must produce.
RFC_EXAMPLES = [
    ('userName eq "bjensen"', cmp("userName", "eq", "bjensen")),
    ('name.familyName co "O\'Malley"', cmp("name", "co", "O'Malley", sub="familyName")),
    ('userName sw "J"', cmp("userName", "sw", "J")),
    (f'{CORE_USER}:userName sw "J"', cmp("userName", "sw", "J", uri=CORE_USER)),
    ("title pr", cmp("title", "pr")),
    ('meta.lastModified gt "2011-05-13T04:42:34Z"',
     cmp("meta", "gt", "2011-05-13T04:42:34Z", sub="lastModified")),
    ('meta.lastModified ge "2011-05-13T04:42:34Z"',
     cmp("meta", "ge", "2011-05-13T04:42:34Z", sub="lastModified")),
    ('meta.lastModified lt "2011-05-13T04:42:34Z"',
     cmp("meta", "lt", "2011-05-13T04:42:34Z", sub="lastModified")),
    ('meta.lastModified le "2011-05-13T04:42:34Z"',
     cmp("meta", "le", "2011-05-13T04:42:34Z", sub="lastModified")),
    ('title pr and userType eq "Employee"', And(cmp("title", "pr"), cmp("userType", "eq", "Employee"))),
    ('title pr or userType eq "Intern"', Or(cmp("title", "pr"), cmp("userType", "eq", "Intern"))),
    ('schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
     cmp("schemas", "eq", ENTERPRISE)),
    ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
     And(cmp("userType", "eq", "Employee"),
         Or(cmp("emails", "co", "example.com"), cmp("emails", "co", "example.org", sub="value")))),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
     And(cmp("userType", "ne", "Employee"),
         Not(Or(cmp("emails", "co", "example.com"), cmp("emails", "co", "example.org", sub="value"))))),
    ('userType eq "Employee" and (emails.type eq "work")',
     And(cmp("userType", "eq", "Employee"), cmp("emails", "eq", "work", sub="type"))),
    ('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
     And(cmp("userType", "eq", "Employee"),
         ValuePath(AttrPath(None, "emails"),
                   And(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))))),
    ('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
     Or(ValuePath(AttrPath(None, "emails"),
                  And(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))),
        ValuePath(AttrPath(None, "ims"), And(cmp("type", "eq", "xmpp"), cmp("value", "co", "@foo.com"))))),
]


@pytest.mark.parametrize("text, expected", RFC_EXAMPLES, ids=[t for t, _ in RFC_EXAMPLES])
def test_rfc7644_example_filters(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_each_comparison_operator(op):
    assert parse_filter(f'displayName {op} "x"') == cmp("displayName", op, "x")


def test_present_operator_has_no_value():
    assert parse_filter("title pr") == Comparison(AttrPath(None, "title", None), "pr", None)


@pytest.mark.parametrize("text", ['username Eq "x"', 'USERNAME EQ "x"', 'userName eQ "x"'])
def test_operators_are_case_insensitive_and_names_kept_as_sent(text):
    # PingOne sends `username Eq "%s"` (idp_fixtures/pingone/); names are resolved case-insensitively later.
    node = parse_filter(text)
    assert node.op == "eq" and node.value == "x" and node.path.name.lower() == "username"


@pytest.mark.parametrize("word", ["and", "And", "AND", "aNd"])
def test_logical_words_are_case_insensitive(word):
    assert parse_filter(f'a pr {word} b pr') == And(cmp("a", "pr"), cmp("b", "pr"))


def test_not_is_case_insensitive():
    assert parse_filter("NOT (a pr)") == Not(cmp("a", "pr"))


# scim2-filter-parser 0.7.0 mis-lexes these; our lexer fixes them.
@pytest.mark.parametrize("text, value", [
    ("x gt 12", 12),
    ("x gt 1.5", 1.5),
    ("x eq 0", 0),
    ("x eq -7", -7),
    ("x eq 2.5e3", 2500.0),
    ("x ge 1234567890123", 1234567890123),
])
def test_multi_digit_and_decimal_numbers(text, value):
    node = parse_filter(text)
    assert node.value == value and type(node.value) is type(value)


@pytest.mark.parametrize("text, value", [
    (r'userName eq "a\"b"', 'a"b'),
    (r'userName eq "back\\slash"', "back\\slash"),
    (r'displayName eq "caf\u00e9"', "café"),
    (r'displayName eq "tab\there"', "tab\there"),
    ('displayName eq ""', ""),
    ('displayName eq "a ] and b eq (c)"', "a ] and b eq (c)"),
])
def test_json_string_escapes(text, value):
    assert parse_filter(text).value == value


@pytest.mark.parametrize("text, value", [
    ("active eq true", True), ("active eq false", False), ("nickName eq null", None),
    ("active eq True", True), ("active eq FALSE", False),
])
def test_literals(text, value):
    node = parse_filter(text)
    assert node.value is value and node.op == "eq"


def test_literal_words_inside_attribute_names_are_names():
    # 0.7.0 lexes `nullable` as `null` + `able`.
    assert parse_filter("nullable eq 1") == cmp("nullable", "eq", 1)
    assert parse_filter("trueName pr") == cmp("trueName", "pr")


def test_dates_are_strings():
    assert parse_filter('meta.created ge "2024-01-01T00:00:00Z"').value == "2024-01-01T00:00:00Z"


def test_precedence_not_and_or():
    # RFC 7644 §3.4.2.2: "not" > "and" > "or"; 0.7.0 gives and/or the same level.
    assert parse_filter("a pr or b pr and c pr") == Or(cmp("a", "pr"), And(cmp("b", "pr"), cmp("c", "pr")))
    assert parse_filter("a pr and b pr or c pr") == Or(And(cmp("a", "pr"), cmp("b", "pr")), cmp("c", "pr"))
    assert parse_filter("not (a pr) and b pr or c pr") == Or(And(Not(cmp("a", "pr")), cmp("b", "pr")),
                                                             cmp("c", "pr"))


def test_grouping_changes_precedence():
    assert parse_filter("(a pr or b pr) and c pr") == And(Or(cmp("a", "pr"), cmp("b", "pr")), cmp("c", "pr"))


def test_chains_are_left_associative():
    assert parse_filter("a pr and b pr and c pr") == And(And(cmp("a", "pr"), cmp("b", "pr")), cmp("c", "pr"))


def test_redundant_parentheses():
    assert parse_filter("((a pr))") == cmp("a", "pr")


def test_sub_attribute():
    assert parse_filter('name.givenName eq "Barbara"') == cmp("name", "eq", "Barbara", sub="givenName")


def test_urn_qualified_extension_attribute():
    node = parse_filter(f'{ENTERPRISE}:employeeNumber eq "701984"')
    assert node == cmp("employeeNumber", "eq", "701984", uri=ENTERPRISE)


def test_urn_qualified_sub_attribute():
    node = parse_filter(f'{CORE_USER}:name.familyName eq "Jensen"')
    assert node == cmp("name", "eq", "Jensen", sub="familyName", uri=CORE_USER)


def test_urn_qualified_complex_extension_sub_attribute():
    node = parse_filter(f'{ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"')
    assert node.path == AttrPath(ENTERPRISE, "manager", "value")


def test_value_path_member_filter():
    # Okta/Entra remove a member with path `members[value eq "id"]`.
    assert parse_filter('members[value eq "2819c223"]') == ValuePath(AttrPath(None, "members"),
                                                                     cmp("value", "eq", "2819c223"))


def test_value_path_with_not_and_grouping_inside():
    node = parse_filter('emails[not (type eq "home") and (value ew ".com" or primary eq true)]')
    assert node == ValuePath(AttrPath(None, "emails"),
                             And(Not(cmp("type", "eq", "home")),
                                 Or(cmp("value", "ew", ".com"), cmp("primary", "eq", True))))


def test_ref_sub_attribute():
    assert parse_filter('members.$ref pr') == cmp("members", "pr", sub="$ref")


def test_entra_value_path_with_trailing_sub_attribute():
    # idp_fixtures/entra/scim/19-match-by-work-email.json: outside the RFC ABNF, means emails[type eq "work" and value eq "x"].
    assert parse_filter('emails[type eq "work"].value eq "x@example.com"') == ValuePath(
        AttrPath(None, "emails"), And(cmp("type", "eq", "work"), cmp("value", "eq", "x@example.com")))


def test_entra_form_is_marked_as_a_quirk():
    node = parse_filter('emails[type eq "work"].value eq "x@example.com"')
    assert node.quirk == ENTRA_FILTER_VALUE_PATH_ATTRIBUTE
    assert filter_quirks(node) == [ENTRA_FILTER_VALUE_PATH_ATTRIBUTE]
    # Found wherever it sits, and named once.
    nested = parse_filter('not (userName eq "a" or emails[type eq "work"].value eq "x") and '
                          'emails[type eq "home"].value eq "y"')
    assert filter_quirks(nested) == [ENTRA_FILTER_VALUE_PATH_ATTRIBUTE]
    # The RFC spellings of the same condition carry no mark.
    for rfc in ('emails[type eq "work" and value eq "x@example.com"]', 'emails.value eq "x"',
                'userName eq "a" and emails[type eq "work"]'):
        assert filter_quirks(parse_filter(rfc)) == []


def test_entra_form_combined_with_and():
    node = parse_filter('emails[type eq "work"].value eq "x" and userName eq "bob"')
    work = ValuePath(AttrPath(None, "emails"), And(cmp("type", "eq", "work"), cmp("value", "eq", "x")))
    assert node == And(work, cmp("userName", "eq", "bob"))


def test_surrounding_whitespace_is_tolerated():
    assert parse_filter('  userName  eq  "x"  ') == cmp("userName", "eq", "x")


def test_long_or_list_is_accepted():
    text = " or ".join(f'id eq "{i:08d}"' for i in range(200))
    node = parse_filter(text)
    assert isinstance(node, Or) and node.right == cmp("id", "eq", "00000199")


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("userName", "ends too early"),
    ("userName eq", "ends too early"),
    ('userName eq "x" and', "ends too early"),
    ("(userName pr", "ends too early"),
    ("userName pr)", "')'"),
    ('userName regex "x"', "operator 'regex' is not supported"),
    ('userName eq "abc', "Unterminated string"),
    (r'userName eq "\x"', "Invalid escape"),
    ("userName eq 1.2.3", "position"),
    ("userName eq 12abc", "position"),
    ('userName eq x', "'x'"),
    ("userName eq 'x'", "Unexpected character"),
    ("userName ~ \"x\"", "Unexpected character '~'"),
    ("not userName pr", "position"),
    ('userName eq "a" "b"', "position"),
    ("active gt true", "'gt' cannot compare with true"),
    ("title lt null", "'lt' cannot compare with null"),
    ('emails co 5', "'co' needs a string value"),
    ('emails[type eq "work"] eq "x"', "name a sub-attribute"),
    ('emails[type eq "work"] pr', "name a sub-attribute"),
    ('emails[type[value pr]]', "nested inside another value filter"),
    ('emails[type eq "w"].value[display pr]', "result of another value filter"),
    ('name.givenName[type pr]', "not to the sub-attribute"),
    ('emails[name.givenName eq "x"]', "use the sub-attribute names of emails"),
    (f'emails[{ENTERPRISE}:x eq "x"]', "use the sub-attribute names of emails"),
    ('emails[type eq "w"].value.x eq "x"', "position"),
    ('userName eq "x" or or b pr', "position"),
    ("$foo pr", "Invalid attribute name"),
])
def test_malformed_filters_raise_invalid_filter(text, message):
    with pytest.raises(InvalidFilterError) as excinfo:
        parse_filter(text)
    assert excinfo.value.scim_type == "invalidFilter" and excinfo.value.status == 400
    assert message in excinfo.value.detail


def test_too_long_filter():
    text = 'userName eq "' + "a" * MAX_FILTER_LENGTH + '"'
    with pytest.raises(InvalidFilterError, match="longer than"):
        parse_filter(text)


def test_too_deeply_nested_filter():
    depth = MAX_FILTER_DEPTH + 1
    with pytest.raises(InvalidFilterError, match="nested too deeply"):
        parse_filter("(" * depth + "a pr" + ")" * depth)


def test_nesting_at_the_limit_is_fine():
    depth = MAX_FILTER_DEPTH
    assert parse_filter("not " * 0 + "(" * depth + "a pr" + ")" * depth) == cmp("a", "pr")


def test_non_string_filter():
    with pytest.raises(InvalidFilterError):
        parse_filter(None)


FUZZ_SEEDS = [text for text, _ in RFC_EXAMPLES] + [
    'emails[type eq "work"].value eq "x@example.com" and userName eq "a\\"b"',
    f'{ENTERPRISE}:employeeNumber gt 12 or x lt 1.5e3',
    'not (members[value eq "x"] or groups.value sw "g")',
]


@pytest.mark.parametrize("seed", range(6))
def test_fuzz_truncations_and_mutations_only_raise_invalid_filter(seed):
    rng = random.Random(seed)
    junk = list('()[]"\\.:$ -_aZ09') + ["and", "or", "not", " eq ", " pr", "true", "1e", "\u00e9", "\x00"]
    for _ in range(400):
        text = rng.choice(FUZZ_SEEDS)
        mode = rng.randrange(3)
        if mode == 0:
            text = text[:rng.randrange(len(text))]
        elif mode == 1:
            cut = rng.randrange(len(text))
            text = text[:cut] + rng.choice(junk) + text[cut:]
        else:
            cut = rng.randrange(len(text))
            text = text[:cut] + text[cut + rng.randrange(1, 4):]
        try:
            parse_filter(text)
        except InvalidFilterError as exc:
            assert exc.detail
