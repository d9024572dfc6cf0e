"""Helpers shared by the admin API and model tests: groups with grants, and whole-database snapshots."""

from models.db import db
from models.directory import Group, GroupMember
from models.services import mutation
from models.services import groups as groups_svc
from tests.factories import CLI

# Reading with a token refreshes its last use; that is not a write the request made.
VOLATILE_COLUMNS = {("token", "last_used_at")}


def make_group(workspace, name, members=(), grants=None):
    """Create a group (as SCIM would) with `members` and role grants {environment: role name}."""
    group = Group.create(workspace=workspace.id, display_name=name, display_name_ci=name.lower(),
                         attributes={"displayName": name})
    for member in members:
        GroupMember.create(workspace=workspace.id, group=group.id, member=member.id)
    if grants:
        with mutation(workspace, CLI) as change:
            groups_svc.replace_grants(change, workspace, group,
                                      [{"environment_type": env, "name": role} for env, role in grants.items()])
    return group


def snapshot():
    """Return every row of every table, to prove a refused request wrote nothing."""
    opened = db.is_closed()
    if opened:
        db.connect()
    try:
        out = {}
        for table in sorted(db.get_tables()):
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


def empty_tables():
    """Delete every row (children first, one transaction): on PostgreSQL far faster than TRUNCATE."""
    with db.connection_context():
        tables = tuple(sorted(t for t in db.get_tables() if t != "schema_migration"))
        if tables not in _delete_orders:
            _delete_orders[tables] = _children_first(tables)
        with db.atomic():
            for table in _delete_orders[tables]:
                db.execute_sql(f'DELETE FROM "{table}"')


def capture():
    """Return {table: (columns, rows)} of every table, to `restore` later."""
    with db.connection_context():
        out = {}
        for table in db.get_tables():
            if table == "schema_migration":
                continue
            cursor = db.execute_sql(f'SELECT * FROM "{table}"')
            out[table] = ([c[0] for c in cursor.description], cursor.fetchall())
        return out


def restore(captured):
    """Insert captured rows back (parents first) into emptied tables, in one transaction."""
    import json
    with db.connection_context():
        tables = tuple(sorted(captured))
        if tables not in _delete_orders:
            _delete_orders[tables] = _children_first(tables)
        order = list(reversed(_delete_orders[tables]))
        with db.atomic():
            for table in order:
                columns, rows = captured[table]
                if not rows:
                    continue
                # JSON columns come back decoded on PostgreSQL; a JSON text literal converts back to jsonb.
                rows = [tuple(json.dumps(v) if isinstance(v, (dict, list)) else v for v in row) for row in rows]
                names = ", ".join(f'"{c}"' for c in columns)
                marks = ", ".join([db.param] * len(columns))
                db.cursor().executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
