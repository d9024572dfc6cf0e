"""compile_filter/sort_key: filters run in SQLite and PostgreSQL, and agree with the in-memory matcher."""

import datetime
import os

import psycopg2
import pytest
from peewee import (BooleanField, CharField, DatabaseProxy, DateTimeField, JSONField, Model,
                    PostgresqlDatabase, SqliteDatabase)

from models import MODELS, Group, GroupMember, Member, Person, Workspace

from scim.errors import InvalidFilterError, InvalidValueError
from scim.filters import (compile_filter, group_resource_map, matches, order_by, sort_key, user_resource_map)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")

USERS = user_resource_map(Member, GroupMember, Group)
GROUPS = group_resource_map(Group, GroupMember, Member)


def _utc(text):
    return datetime.datetime.fromisoformat(text)


SEED_USERS = [
    {
        "id": "u-bjensen", "userName": "BJensen@example.com", "externalId": "bj-ext",
        "displayName": "Babs Jensen", "active": True, "title": "Tour Guide", "userType": "Employee",
        "nickName": "Babs",
        "name": {"familyName": "O'Malley", "givenName": "Barbara"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                   {"value": "babs@jensen.org", "type": "home"}],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "u-boss"}},
        "meta": {"created": "2010-01-23T04:56:22", "lastModified": "2011-05-13T04:42:34"},
    },
    {
        # The cross-element trap: work email is y, home email is x.
        "id": "u-trap", "userName": "trap", "displayName": "Trap Door", "active": True, "userType": "Intern",
        "emails": [{"value": "y@corp.com", "type": "work"},
                   {"value": "x@home.com", "type": "home", "primary": True}],
        "meta": {"created": "2012-06-01T00:00:00", "lastModified": "2012-06-02T00:00:00"},
    },
    {
        "id": "u-pct", "userName": "50% off", "displayName": "50% Off_Sale", "active": False, "title": "",
        "emails": [],
        ENTERPRISE: {"employeeNumber": "7"},
        "meta": {"created": "2020-01-01T00:00:00", "lastModified": "2020-01-01T00:00:00"},
    },
    {
        "id": "u-500", "userName": "500 units", "displayName": "500XOffYSale", "active": True,
        "externalId": "BJ-EXT",
        "meta": {"created": "2021-03-04T05:06:07.250000", "lastModified": "2021-03-04T05:06:07.250000"},
    },
    {
        "id": "u-back", "userName": "back\\slash", "displayName": "Under_score", "active": True,
        "name": {"givenName": "Zed"},
        "emails": [{"value": "Zed@Example.com", "type": "work"}],
        "meta": {"created": "2022-01-01T00:00:00", "lastModified": "2022-01-01T00:00:00"},
    },
    {
        "id": "u-boss", "userName": "boss", "displayName": "The Boss", "active": True,
        "emails": [{"value": "boss@example.com", "type": "work", "primary": True}],
        "meta": {"created": "2009-01-01T00:00:00", "lastModified": "2009-01-01T00:00:00"},
    },
]

OTHER_WORKSPACE_USER = {
    "id": "u-other", "userName": "BJensen@example.com", "displayName": "Babs Jensen", "active": True,
    "meta": {"created": "2010-01-23T04:56:22", "lastModified": "2011-05-13T04:42:34"},
}

SEED_GROUPS = [
    {"id": "g-eng", "displayName": "Engineering", "externalId": "eng",
     "meta": {"created": "2015-01-01T00:00:00", "lastModified": "2015-01-01T00:00:00"},
     "members": ["u-bjensen", "u-trap"]},
    {"id": "g-sales", "displayName": "Sales", "meta": {"created": "2016-01-01T00:00:00",
                                                        "lastModified": "2016-01-01T00:00:00"},
     "members": []},
    {"id": "g-ops", "displayName": "Ops", "meta": {"created": "2017-01-01T00:00:00",
                                                    "lastModified": "2017-01-01T00:00:00"},
     "members": ["u-boss"]},
]


def _member_row(doc, workspace):
    primary = next((e["value"] for e in doc.get("emails", []) if e.get("primary")), None)
    return {
        "id": doc["id"], "workspace": workspace, "person": f"p-{doc['id']}", "user_name": doc["userName"],
        "user_name_ci": doc["userName"].lower(), "external_id": doc.get("externalId"),
        "display_name": doc.get("displayName"),
        "status": "active" if doc.get("active", True) else "suspended",
        "email_ci": primary.lower() if primary else None,
        "attributes": {k: v for k, v in doc.items() if k not in ("id", "meta")},
        "created_at": _utc(doc["meta"]["created"]), "updated_at": _utc(doc["meta"]["lastModified"]),
    }


def _postgres_beside_test_database():
    """A PostgreSQL database of this module's own on TEST_DATABASE_URL's server (it drops and creates tables,
    so it never shares the suite's database); created when missing."""
    from urllib.parse import urlparse
    url = urlparse(TEST_DATABASE_URL)
    name = (url.path.lstrip("/") or "test") + "_filters"
    conn = psycopg2.connect(TEST_DATABASE_URL, connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return PostgresqlDatabase(name, host=url.hostname or "127.0.0.1", port=url.port or 5432,
                              user=url.username or "postgres", password=url.password)


def _make_database(kind, tmp_path_factory):
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("filters") / "filters.db"
        return SqliteDatabase(str(path))
    if not TEST_DATABASE_URL:
        pytest.skip("the PostgreSQL variant runs in the PostgreSQL pass (TEST_DATABASE_URL is set there)")
    return _postgres_beside_test_database()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request, tmp_path_factory):
    """Roster's real models (models/directory.py), bound to this module's own database."""
    db = _make_database(request.param, tmp_path_factory)
    with db.bind_ctx(MODELS):
        db.connect(reuse_if_open=True)
        db.drop_tables(MODELS, safe=True, cascade=isinstance(db, PostgresqlDatabase))
        db.create_tables(MODELS)
        for workspace in ("w1", "w2"):
            Workspace.insert(id=workspace, name=workspace, slug=workspace).execute()
        for doc in SEED_USERS + [OTHER_WORKSPACE_USER]:
            Person.insert(id=f"p-{doc['id']}", email=f"{doc['id']}@people.test").execute()
        for doc in SEED_USERS:
            Member.insert(**_member_row(doc, "w1")).execute()
        Member.insert(**_member_row(OTHER_WORKSPACE_USER, "w2")).execute()
        for doc in SEED_GROUPS:
            Group.insert(id=doc["id"], workspace="w1", display_name=doc["displayName"],
                         display_name_ci=doc["displayName"].lower(), external_id=doc.get("externalId"),
                         attributes={"displayName": doc["displayName"]},
                         created_at=_utc(doc["meta"]["created"]),
                         updated_at=_utc(doc["meta"]["lastModified"])).execute()
            for member_id in doc["members"]:
                GroupMember.insert(workspace="w1", group=doc["id"], member=member_id).execute()
        yield db
        db.drop_tables(MODELS, safe=True, cascade=isinstance(db, PostgresqlDatabase))
        db.close()


def users(text, workspace="w1"):
    query = (Member.select(Member.id)
             .where(Member.workspace == workspace, compile_filter(text, USERS))
             .order_by(Member.id))
    return [row.id for row in query]


def groups(text):
    query = (Group.select(Group.id).where(Group.workspace == "w1", compile_filter(text, GROUPS))
             .order_by(Group.id))
    return [row.id for row in query]


def _scim_user(doc):
    """The SCIM document the in-memory matcher sees for a seeded user, groups included."""
    full = dict(doc)
    full["meta"] = {"created": doc["meta"]["created"] + "Z",
                    "lastModified": doc["meta"]["lastModified"] + "Z"}
    full["groups"] = [{"value": g["id"], "display": g["displayName"]} for g in SEED_GROUPS
                      if doc["id"] in g["members"]]
    return full


def in_memory(text):
    return sorted(d["id"] for d in SEED_USERS if matches(text, _scim_user(d), resource_type="User"))


# -- one test per operator and form --------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('userName eq "bjensen@EXAMPLE.com"', ["u-bjensen"]),
    ('userName ne "bjensen@example.com"', ["u-500", "u-back", "u-boss", "u-pct", "u-trap"]),
    ('userName co "JENSEN"', ["u-bjensen"]),
    ('userName sw "B"', ["u-back", "u-bjensen", "u-boss"]),
    ('userName ew "UNITS"', ["u-500"]),
    ('userName gt "boss"', ["u-trap"]),
    ('userName ge "boss"', ["u-boss", "u-trap"]),
    ('userName lt "b"', ["u-pct", "u-500"]),
    ('userName le "500 units"', ["u-pct", "u-500"]),
    ("title pr", ["u-bjensen"]),
])
def test_each_operator(database, text, expected):
    assert users(text) == sorted(expected)


def test_username_lookup_is_case_insensitive_and_scoped_to_the_workspace(database):
    # Okta's case test: userName eq "<UPPER>" finds the user (RFC 7643 §4.1.1 caseExact false).
    assert users('userName eq "BJENSEN@EXAMPLE.COM"') == ["u-bjensen"]
    assert users('userName eq "BJENSEN@EXAMPLE.COM"', workspace="w2") == ["u-other"]
    assert users('userName eq "nobody@example.com"') == []


def test_username_eq_uses_the_lower_cased_column_with_a_bound_parameter(database):
    query = Member.select(Member.id).where(Member.workspace == "w1",
                                           compile_filter('userName eq "BJensen@Example.com"', USERS))
    sql, params = query.sql()
    assert '"user_name_ci" = ' in sql and "lower" not in sql.lower()
    assert "bjensen@example.com" in params and "bjensen" not in sql.lower()


def test_username_lookup_uses_the_index(database):
    query = Member.select(Member.id).where(Member.workspace == "w1",
                                           compile_filter('userName eq "bjensen@example.com"', USERS))
    sql, params = query.sql()
    if isinstance(database, SqliteDatabase):
        plan = " ".join(str(row) for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert "USING INDEX" in plan and "user_name_ci" in plan
    else:
        # Give the planner a workspace worth indexing (rolled back afterwards).
        with database.atomic() as transaction:
            now = datetime.datetime(2024, 1, 1)
            Person.insert_many([{"id": f"bulk-{i}", "email": f"bulk-{i}@people.test"}
                                for i in range(3000)]).execute()
            Member.insert_many([{"id": f"bulk-{i}", "workspace": "w1", "person": f"bulk-{i}",
                                 "user_name": f"bulk-{i}", "user_name_ci": f"bulk-{i}", "created_at": now,
                                 "updated_at": now, "attributes": {}} for i in range(3000)]).execute()
            database.execute_sql("ANALYZE member")
            plan = " ".join(r[0] for r in database.execute_sql("EXPLAIN " + sql, params))
            transaction.rollback()
        assert "member_workspace_id_user_name_ci" in plan and "Seq Scan" not in plan


def test_values_are_never_in_the_sql_text(database):
    hostile = "x' OR '1'='1"
    for text in (f'userName eq "{hostile}"', f'title co "{hostile}"', f'emails[value sw "{hostile}"]',
                 f'{ENTERPRISE}:employeeNumber eq "{hostile}"', f'members.value eq "{hostile}"'):
        mapping = GROUPS if text.startswith("members") else USERS
        model = Group if mapping is GROUPS else Member
        sql, params = model.select(model.id).where(compile_filter(text, mapping)).sql()
        assert hostile.lower() not in sql.lower() and "OR '1'" not in sql
    assert users(f'userName eq "{hostile}"') == []


# -- RFC 7644 §3.4.2.2 examples -------------------------------------------------------------------------

RFC_EXAMPLES = [
    'userName eq "bjensen"',
    'name.familyName co "O\'Malley"',
    'userName sw "J"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
    "title pr",
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'meta.lastModified ge "2011-05-13T04:42:34Z"',
    'meta.lastModified lt "2011-05-13T04:42:34Z"',
    'meta.lastModified le "2011-05-13T04:42:34Z"',
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
]


@pytest.mark.parametrize("text", RFC_EXAMPLES)
def test_rfc7644_examples_agree_with_the_matcher(database, text):
    assert users(text) == in_memory(text)


def test_rfc7644_examples_select_the_right_users(database):
    assert users('name.familyName co "O\'Malley"') == ["u-bjensen"]
    assert users('meta.lastModified ge "2011-05-13T04:42:34Z"') == ["u-500", "u-back", "u-bjensen", "u-pct",
                                                                     "u-trap"]
    assert users('meta.lastModified gt "2011-05-13T04:42:34Z"') == ["u-500", "u-back", "u-pct", "u-trap"]
    assert users('title pr or userType eq "Intern"') == ["u-bjensen", "u-trap"]
    text = 'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")'
    assert users(text) == ["u-500", "u-pct", "u-trap"]


# More filters where SQL and the in-memory matcher must agree on both databases.
AGREEMENT = [
    'displayName eq "babs jensen"', 'displayName ne "Babs Jensen"', 'externalId eq "bj-ext"',
    'externalId eq "BJ-EXT"', 'externalId co "EXT"', "externalId pr", "externalId eq null",
    "externalId ne null",
    "active eq true", "active eq false", "active ne true", 'active eq "False"',
    'nickName pr', 'nickName eq null', 'nickName ne "babs"', 'title pr', 'title eq ""',
    'title ne "Tour Guide"',
    'emails pr', 'emails.value pr', 'emails eq null', 'emails.type ne "work"', 'emails[type ne "work"]',
    'emails[not (type eq "work")]', 'emails[primary eq true and value ew ".COM"]', 'emails.primary eq true',
    'emails[type eq "work"].value eq "ZED@example.com"', 'emails co "EXAMPLE"',
    f'{ENTERPRISE}:employeeNumber eq "701984"', 'employeeNumber gt "70"', 'employeeNumber lt "701985"',
    f'{ENTERPRISE}:manager.value eq "u-boss"', f'{ENTERPRISE}:manager eq "u-boss"',
    f"{ENTERPRISE}:manager pr",
    'manager[value eq "u-boss"]', 'name.givenName sw "b"', 'name pr', 'not (name pr)',
    'meta.created lt "2010-01-23T05:56:22+01:00"', 'meta.created eq "2010-01-23T06:56:22+02:00"',
    'meta.created gt "2021-03-04T05:06:07.2Z"', 'meta.created le "2021-03-04T05:06:07.25Z"',
    'groups.value eq "g-eng"', 'groups.value ne "g-eng"', 'groups pr', 'not (groups pr)',
    'groups[value eq "g-eng" or value eq "g-ops"]', 'groups.display eq "engineering"',
    'groups.display co "PS"',
    'groups.value eq null',
    'userName eq "trap" or userName eq "boss" or userName eq "500 units" and active eq true',
    '(userName eq "trap" or userName eq "boss") and not (emails[type eq "home"])',
    'userName eq "back\\\\slash"', 'userName co "\\\\"', 'displayName co "_"', 'displayName sw "50%"',
]


@pytest.mark.parametrize("text", AGREEMENT)
def test_sql_agrees_with_the_matcher(database, text):
    assert users(text) == in_memory(text)


# -- LIKE escaping ------------------------------------------------------------------------------------------

def test_like_escaping_percent(database):
    assert users('userName co "50%"') == ["u-pct"]  # must not match "500 units"
    assert users('displayName sw "50%"') == ["u-pct"]


def test_like_escaping_underscore(database):
    assert users('displayName co "Off_Sale"') == ["u-pct"]  # not "500XOffYSale"
    assert users('displayName co "_"') == ["u-back", "u-pct"]


def test_like_escaping_backslash(database):
    assert users('userName co "k\\\\s"') == ["u-back"]
    assert users('userName ew "\\\\slash"') == ["u-back"]


def test_case_exact_substring(database):
    # externalId is caseExact (RFC 7643 §3.1): SQLite's LIKE alone would ignore case.
    assert users('externalId co "EXT"') == ["u-500"]
    assert users('externalId sw "bj"') == ["u-bjensen"]
    assert users('externalId ew "Ext"') == []
    assert users('externalId co ""') == ["u-500", "u-bjensen"]


# -- multi-valued attributes ---------------------------------------------------------------------------

def test_cross_element_trap(database):
    # One bracket: the same email must be work AND contain x. trap's work email is y, its home email is x.
    assert users('emails[type eq "work" and value co "x@"]') == []
    assert users('emails[type eq "home" and value co "x@"]') == ["u-trap"]
    # Without brackets each condition may hold for a different email (RFC 7644 §3.4.2.2).
    assert users('emails.type eq "work" and emails.value co "x@"') == ["u-trap"]


def test_entra_value_path_form(database):
    assert users('emails[type eq "work"].value eq "Y@CORP.com"') == ["u-trap"]
    assert users('emails[type eq "home"].value eq "y@corp.com"') == []


def test_multi_valued_any_value(database):
    assert users('emails.value eq "babs@jensen.org"') == ["u-bjensen"]
    assert users('emails.value ew ".org"') == ["u-bjensen"]


# -- relations -----------------------------------------------------------------------------------------

def test_groups_value_on_users(database):
    assert users('groups.value eq "g-eng"') == ["u-bjensen", "u-trap"]
    assert users('groups.value eq "G-ENG"') == []  # ids are case-sensitive
    assert users('groups[value eq "g-ops"]') == ["u-boss"]


def test_members_on_groups(database):
    assert groups('members.value eq "u-trap"') == ["g-eng"]
    assert groups('members[value eq "u-boss"]') == ["g-ops"]
    assert groups('members[value eq "u-boss" or value eq "u-trap"]') == ["g-eng", "g-ops"]
    assert groups("members pr") == ["g-eng", "g-ops"]
    assert groups("not (members pr)") == ["g-sales"]
    assert groups('members.value ne "u-trap"') == ["g-ops", "g-sales"]
    assert groups('members.display eq "the boss"') == ["g-ops"]


def test_members_value_eq_joins_only_the_link_table(database):
    sql, _ = Group.select(Group.id).where(compile_filter('members.value eq "u-trap"', GROUPS)).sql()
    assert "group_member" in sql and '"member"' not in sql and "EXISTS" in sql


def test_groups_by_display_name_and_external_id(database):
    assert groups('displayName eq "ENGINEERING"') == ["g-eng"]
    assert groups('externalId eq "eng"') == ["g-eng"]
    assert groups('meta.created gt "2015-06-01T00:00:00Z"') == ["g-ops", "g-sales"]


def test_group_membership_filter_that_cannot_run(database):
    with pytest.raises(InvalidFilterError, match="members.\\$ref"):
        compile_filter('members.$ref eq "x"', GROUPS)


# -- errors ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ('nosuch eq "x"', "Unknown attribute 'nosuch'"),
    ('emails[nosuch eq "x"]', "Unknown attribute 'emails.nosuch'"),
    ('urn:example:nope:userName eq "x"', "Unknown schema"),
    ("active gt true", "gt"),
    ("active lt false", "lt"),
    ('active co "t"', "boolean"),
    ('meta.created gt "last week"', "dateTime"),
    ('userName eq 12', "string"),
    ('name eq "x"', "complex"),
    ('userName eq "x" and bogus pr', "bogus"),
])
def test_invalid_filters(database, text, message):
    with pytest.raises(InvalidFilterError, match=message):
        compile_filter(text, USERS)


def test_members_is_unknown_on_users(database):
    with pytest.raises(InvalidFilterError, match="members"):
        compile_filter('members.value eq "x"', USERS)


def test_long_or_list_runs(database):
    text = " or ".join(f'userName eq "user{i}"' for i in range(150)) + ' or userName eq "boss"'
    assert users(text) == ["u-boss"]


# -- sorting ---------------------------------------------------------------------------------------------

def sorted_ids(path, descending=False, mapping=USERS, model=Member):
    query = model.select(model.id).where(model.workspace == "w1").order_by(
        *order_by(path, mapping, descending=descending))
    return [row.id for row in query]


def test_sort_by_user_name_case_insensitive(database):
    assert sorted_ids("userName") == ["u-pct", "u-500", "u-back", "u-bjensen", "u-boss", "u-trap"]
    assert sorted_ids("USERNAME", descending=True) == ["u-trap", "u-boss", "u-bjensen", "u-back", "u-500",
                                                       "u-pct"]


def test_sort_by_json_sub_attribute_missing_last(database):
    assert sorted_ids("name.givenName")[:2] == ["u-bjensen", "u-back"]
    assert sorted_ids("name.givenName", descending=True)[:2] == ["u-back", "u-bjensen"]


def test_sort_by_multi_valued_uses_primary_then_first(database):
    # bjensen: primary bjensen@; trap: primary x@home; back: first Zed@; boss: primary boss@.
    assert sorted_ids("emails")[:4] == ["u-bjensen", "u-boss", "u-trap", "u-back"]


def test_sort_by_meta_created(database):
    assert sorted_ids("meta.created")[:2] == ["u-boss", "u-bjensen"]


def test_sort_by_enterprise_attribute(database):
    # Strings sort as strings: "7" < "701984".
    assert sorted_ids(f"{ENTERPRISE}:employeeNumber")[:2] == ["u-pct", "u-bjensen"]


def test_sort_groups_by_display_name(database):
    assert sorted_ids("displayName", mapping=GROUPS, model=Group) == ["g-eng", "g-ops", "g-sales"]


@pytest.mark.parametrize("path", ["nosuch", "groups", "userName eq", "", "name["])
def test_sort_by_invalid_attribute(database, path):
    with pytest.raises(InvalidValueError):
        sort_key(path, USERS)


# -- dialect selection ------------------------------------------------------------------------------------

def test_dialect_follows_the_models_database(database):
    sql, _ = Member.select().where(compile_filter('emails.value eq "x"', USERS)).sql()
    assert ("json_each" in sql) is isinstance(database, SqliteDatabase)
    assert ("jsonb_array_elements" in sql) is isinstance(database, PostgresqlDatabase)


def test_dialect_is_found_behind_a_database_proxy(database):
    proxy = DatabaseProxy()
    proxy.initialize(database)
    expr = compile_filter('emails.value eq "x"', USERS, database=proxy)
    sql, _ = Member.select().where(expr).sql()
    assert ("json_each" in sql) is isinstance(database, SqliteDatabase)


def test_explicit_database_overrides_the_model(database):
    is_postgres = isinstance(database, PostgresqlDatabase)
    other = SqliteDatabase(":memory:") if is_postgres else PostgresqlDatabase("x")
    expr = compile_filter('emails.value eq "x"', USERS, database=other)
    with other.bind_ctx([Member]):
        sql, _ = Member.select().where(expr).sql()
    assert ("json_each" in sql) is isinstance(other, SqliteDatabase)


# -- random filters: every one runs on both databases and agrees with the matcher ----------------------

PATHS = ["userName", "displayName", "externalId", "title", "nickName", "active", "name.givenName",
         "name.familyName", "emails", "emails.value", "emails.type", "emails.primary", "meta.created",
         "meta.lastModified", "groups.value", "groups.display", f"{ENTERPRISE}:employeeNumber",
         f"{ENTERPRISE}:manager.value", "ims.value", "userType", "id"]
VALUES = ['"b"', '"BJ"', '"x@"', '"50%"', '"_"', '"work"', '"g-eng"', '"u-boss"', '"2012-06-01T00:00:00Z"',
          "true", "false", "null", '"701984"', '""', '"Engineering"', '"trap"', "7"]
OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]


def _random_filter(rng, depth=0):
    roll = rng.random()
    if depth < 2 and roll < 0.3:
        word = rng.choice(["and", "or"])
        return f"({_random_filter(rng, depth + 1)} {word} {_random_filter(rng, depth + 1)})"
    if depth < 2 and roll < 0.4:
        return f"not ({_random_filter(rng, depth + 1)})"
    if depth < 2 and roll < 0.5:
        inner = rng.choice(['type eq "work"', 'value co "@"', 'primary eq true', 'not (type eq "home")',
                            'value sw "b" or type eq "home"'])
        return f"emails[{inner}]"
    op = rng.choice(OPS)
    path = rng.choice(PATHS)
    return f"{path} pr" if op == "pr" else f"{path} {op} {rng.choice(VALUES)}"


@pytest.mark.parametrize("seed", range(4))
def test_random_filters_agree_with_the_matcher(database, seed):
    import random
    rng = random.Random(seed)
    checked = 0
    for _ in range(150):
        text = _random_filter(rng)
        try:
            expected = in_memory(text)
        except InvalidFilterError:
            with pytest.raises(InvalidFilterError):
                users(text)
            continue
        assert users(text) == expected, text
        checked += 1
    assert checked > 40


def test_active_uses_a_boolean_column_when_the_model_has_one(database):
    # The brief's storage shape has `active` as a boolean column; Roster's Member derives it from `status`.
    class ActiveMember(Model):
        id = CharField(36, primary_key=True)
        workspace = CharField(36)
        user_name = CharField(320)
        user_name_ci = CharField(320)
        external_id = CharField(320, null=True)
        display_name = CharField(320, null=True)
        active = BooleanField(default=True)
        attributes = JSONField(default=dict)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            table_name = "active_member"

    ActiveMember.bind(database)
    mapping = user_resource_map(ActiveMember, GroupMember, Group)
    database.create_tables([ActiveMember])
    try:
        now = datetime.datetime(2024, 1, 1)
        for ident, active in (("a", True), ("b", False)):
            ActiveMember.insert(id=ident, workspace="w1", user_name=ident, user_name_ci=ident, active=active,
                                created_at=now, updated_at=now).execute()
        found = ActiveMember.select(ActiveMember.id).where(compile_filter("active eq false", mapping))
        assert [row.id for row in found] == ["b"]
        assert '"status"' not in found.sql()[0]
    finally:
        database.drop_tables([ActiveMember])


def test_roster_member_active_is_not_suspended(database):
    sql, params = Member.select().where(compile_filter("active eq false", USERS)).sql()
    assert '"status" != ' in sql and "suspended" in params
    assert users("active eq false") == ["u-pct"]
