"""Helpers shared by the admin API and model tests: groups with grants, and whole-database snapshots."""

from models.db import db
from models.directory import Group, GroupMember
from models.services import groups as groups_svc
from tests.factories import CLI
from tests.tables import table_names

# Reading with a token refreshes its last use and its person's last activity; not writes the request made.
VOLATILE_COLUMNS = {("token", "last_used_at"), ("member", "last_active_at")}
# The provisioning log records refused requests too (tests/events prove what it writes); a refusal changes nothing else.
AUDIT_TABLES = {"provisioning_event", "provisioning_chain", "provisioning_event_ref", "provisioning_checkpoint",
                "provisioning_signed_checkpoint", "auth_refusal",
                "provisioning_daily"}


def make_group(workspace, name, members=(), grants=None, source="scim:okta"):
    """Create a group (as SCIM from Okta would, unless `source` says otherwise) with `members` and role grants
    {environment: role name}."""
    group = Group.create(workspace=workspace.id, display_name=name, display_name_ci=name.lower(),
                         attributes={"displayName": name}, source=source)
    for member in members:
        GroupMember.create(workspace=workspace.id, group=group.id, member=member.id)
    if grants:
        groups_svc.replace_grants(workspace, CLI, group.id,
                                  [{"environment_type": env, "name": role} for env, role in grants.items()])
    return group


def snapshot():
    """Return every row of every table, to prove a refused request wrote nothing."""
    opened = db.is_closed()
    if opened:
        db.connect()
    try:
        out = {}
        for table in table_names():
            if table in AUDIT_TABLES:
                continue
            cursor = db.execute_sql(f'SELECT * FROM "{table}"')
            columns = [c[0] for c in cursor.description]
            rows = [tuple((col, repr(value)) for col, value in zip(columns, row)
                          if (table, col) not in VOLATILE_COLUMNS) for row in cursor.fetchall()]
            out[table] = sorted(rows)
        return out
    finally:
        if opened:
            db.close()


def count_rows(table):
    """Return the number of rows in `table`."""
    return len(snapshot()[table])


# Who tries a refused request, and what each must get (401 unauthenticated, 404 other workspace, 403 rights).
INTRUDERS = {"anon": 401, "invalid": 401, "revoked": 401, "expired": 401, "scim": 403,
             "other_admin": 404, "other_owner": 404, "noaccess": 403}
READERS = ("readonly", "member")


def assert_error(response, status):
    """Assert an error response in flask-smorest's shape with `status`."""
    assert response.status_code == status, (response.status_code, response.get_json())
    body = response.get_json()
    assert body["code"] == status, body
    assert body["status"], body
    return body


def assert_guarded(world, method, path, json=None, write=True):
    """Check every intruder is refused with the right status and nothing is written.

    Readonly and Member personal tokens are refused writes (403) and allowed reads (200).
    """
    before = snapshot()
    expected = dict(INTRUDERS)
    if write:
        expected.update({name: 403 for name in READERS})
    for name, status in expected.items():
        response = world.clients[name].open(method, path, json=json)
        assert response.status_code == status, (name, response.status_code, response.get_json())
        body = response.get_json()
        assert body["code"] == status and body["message"], (name, body)
        if status == 401:
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert snapshot() == before
    if not write:
        for name in READERS:
            response = world.clients[name].open(method, path, json=json)
            assert response.status_code == 200, (name, response.status_code, response.get_json())
