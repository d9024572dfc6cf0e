"""Helpers shared by the admin API and model tests: groups with grants, and whole-database snapshots."""

from models.db import db, is_postgres
from models.directory import Group, GroupMember
from models.services import groups as groups_svc
from tests.factories import CLI

# Reading with a token refreshes its last use; that is not a write the request made.
VOLATILE_COLUMNS = {("token", "last_used_at")}
# The provisioning log records refused requests too (tests/events prove what it writes); a refusal changes nothing else.
AUDIT_TABLES = {"provisioning_event", "provisioning_chain", "provisioning_event_ref", "provisioning_checkpoint"}


def make_group(workspace, name, members=(), grants=None):
    """Create a group (as SCIM would) with `members` and role grants {environment: role name}."""
    group = Group.create(workspace=workspace.id, display_name=name, display_name_ci=name.lower(),
                         attributes={"displayName": name})
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
        for table in _tables():
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


_delete_orders = {}
_table_lists = {}


def _children_first(tables):
    refs = {t: {fk.dest_table for fk in db.get_foreign_keys(t)} - {t} for t in tables}
    order, placed = [], set()
    while len(order) < len(tables):
        ready = [t for t in tables if t not in placed
                 and all(u in placed for u in tables if u != t and t in refs[u])]
        if not ready:
            raise RuntimeError(f"foreign key cycle among {sorted(set(tables) - placed)}")
        order.extend(ready)
        placed.update(ready)
    return order


def _tables():
    # The schema does not change during a session; asking the catalogue each time is slow on PostgreSQL.
    key = id(db.obj)
    if key not in _table_lists:
        _table_lists[key] = tuple(sorted(t for t in db.get_tables() if t != "schema_migration"))
    return _table_lists[key]


def _order(tables):
    if tables not in _delete_orders:
        _delete_orders[tables] = _children_first(tables)
    return _delete_orders[tables]


def _run_all(statements):
    """Execute (sql, params) statements, in one round trip where the driver allows it (PostgreSQL)."""
    if is_postgres():
        if statements:
            db.execute_sql("; ".join(sql for sql, _ in statements), [p for _, params in statements for p in params])
    else:
        for sql, params in statements:
            db.execute_sql(sql, params)


def empty_tables():
    """Delete every row (children first, one transaction): on PostgreSQL far faster than TRUNCATE."""
    with db.connection_context():
        with db.atomic():
            _run_all([(f'DELETE FROM "{table}"', []) for table in _order(_tables())])


def capture():
    """Return {table: (columns, rows)} of every table, to `restore` later."""
    with db.connection_context():
        out = {}
        for table in _tables():
            cursor = db.execute_sql(f'SELECT * FROM "{table}"')
            out[table] = ([c[0] for c in cursor.description], cursor.fetchall())
        return out


def restore(captured):
    """Insert captured rows back (parents first) into emptied tables, in one transaction."""
    import json
    statements = []
    for table in reversed(_order(tuple(sorted(captured)))):
        columns, rows = captured[table]
        if not rows:
            continue
        names = ", ".join(f'"{c}"' for c in columns)
        row_marks = "(" + ", ".join([db.param] * len(columns)) + ")"
        # JSON columns come back decoded on PostgreSQL; a JSON text literal converts back to jsonb.
        params = [json.dumps(v) if isinstance(v, (dict, list)) else v for row in rows for v in row]
        statements.append((f'INSERT INTO "{table}" ({names}) VALUES {", ".join([row_marks] * len(rows))}', params))
    with db.connection_context():
        with db.atomic():
            _run_all(statements)
