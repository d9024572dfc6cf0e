"""The database handle, the base model and the schema migrations.

`db` is a proxy bound by `init_db(url)`: SQLite (WAL, foreign keys, IMMEDIATE write transactions so
concurrent writers queue instead of failing to upgrade a read lock) or PostgreSQL over a real connection.
Every tenant table carries `workspace_id` and every query filters on it (docs/architecture.md, "Tenancy and scale-out").
"""

import datetime
import os
import uuid

from peewee import DatabaseProxy, Model, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect
from playhouse.migrations import Runner

db = DatabaseProxy()

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 10000,
    "cache_size": -32000,
}


def utcnow():
    """Return the current UTC time as a naive datetime (how every timestamp is stored)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def new_id():
    """Return a new opaque, never-reused resource id."""
    return str(uuid.uuid4())


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False

    def _pk_expr(self):
        # save() and delete_instance() of a tenant row also name its workspace, so every write filters on
        # workspace_id (docs/architecture.md: the schema stays distributable by workspace).
        expr = super()._pk_expr()
        field = self._meta.fields.get("workspace") or self._meta.fields.get("workspace_id")
        if field is not None and field is not self._meta.primary_key:
            expr &= field == self.__data__.get(field.name)
        return expr


POOL = {"max_connections": 32, "stale_timeout": 300}


def make_database(url):
    """Create (not connect) the pooled peewee database for a DATABASE_URL.

    Connections are pooled: "closing" one after a request hands it back. Besides saving the connect, this
    keeps SQLite from checkpointing the WAL whenever the last connection closes (3 ms a write, measured).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like sqlite:///path or postgresql://user@host/db")
    if scheme in ("sqlite", "sqlite+pool"):
        return connect(f"sqlite+pool://{rest}", pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                       check_same_thread=False, **POOL)
    if scheme in ("postgres", "postgresql", "postgres+pool", "postgresql+pool"):
        return connect(f"postgresql+pool://{rest}", **POOL)
    raise ValueError(f"Unsupported DATABASE_URL scheme: {scheme}")


def init_db(url):
    """Bind the proxy to the database at `url` and return it."""
    database = make_database(url)
    db.initialize(database)
    return database


# SQLSTATEs that say the server cannot serve now (PostgreSQL Appendix A): class 08 (connection exception),
# too many connections, and the server shutting down, crashed or still starting.
_UNAVAILABLE_SQLSTATES = ("53300", "57P01", "57P02", "57P03")
# SQLite's messages for a database that cannot be reached or written now (the busy timeout ran out, the file
# vanished or the disk failed), as opposed to a bad statement ("no such table", "syntax error").
_UNAVAILABLE_SQLITE = ("database is locked", "database table is locked", "unable to open database",
                       "disk i/o error", "locking protocol")


def _causes(error):
    seen = []
    while error is not None and error not in seen and len(seen) < 8:
        seen.append(error)
        wrapped = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
        error = wrapped or error.__cause__ or error.__context__
    return seen


def unavailable(error):
    """Tell whether a database error means the database cannot be reached right now (down, starting, shutting
    down, the connection dropped, SQLite busy past its timeout), as opposed to a bad query (a bug)."""
    import sqlite3

    import psycopg2

    for cause in _causes(error):
        if isinstance(cause, psycopg2.InterfaceError):
            return True  # the connection is closed
        if isinstance(cause, psycopg2.OperationalError):
            code = getattr(cause, "pgcode", None)
            return code is None or code.startswith("08") or code in _UNAVAILABLE_SQLSTATES
        if isinstance(cause, sqlite3.OperationalError):
            message = str(cause).lower()
            return any(text in message for text in _UNAVAILABLE_SQLITE)
    return False


def is_postgres():
    """Tell whether the bound database is PostgreSQL."""
    return isinstance(db.obj, PostgresqlDatabase)


def is_sqlite():
    """Tell whether the bound database is SQLite."""
    return isinstance(db.obj, SqliteDatabase)


def migration_runner():
    """Return the migration runner for the bound database."""
    return Runner(db.obj, directory=MIGRATIONS_DIR, table_name="schema_migration")


def upgrade():
    """Apply pending migrations; a no-op when the schema is current. Return the names applied."""
    with db.connection_context():
        return migration_runner().up()


def pending_migrations():
    """Return the names of migrations not yet applied."""
    with db.connection_context():
        return [m.name for m in migration_runner().status() if m.path and not m.applied]


def escape_like(text):
    """Escape LIKE wildcards so `text` matches literally (pair with `ESCAPE '\\'`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_ci(column, text):
    """Return `lower(column) LIKE %text%` with the wildcards in `text` escaped."""
    from peewee import SQL, NodeList, fn
    return NodeList((fn.LOWER(column), SQL("LIKE"), f"%{escape_like(text.lower())}%", SQL("ESCAPE '\\'")))


def column_list(model, alias):
    """Return `alias."col", ...` for every field of `model`, in field order (for hand-written hot queries)."""
    return ", ".join(f'{alias}."{f.column_name}"' for f in model._meta.sorted_fields)


def hydrate(model, values):
    """Build a `model` instance from a row of `column_list(model, ...)` values; None for an empty join."""
    fields = model._meta.sorted_fields
    if values[0] is None:
        return None
    return model(**{f.name: f.python_value(v) for f, v in zip(fields, values)})


def id_list_sql(ids):
    """Return (SQL fragment, param) yielding `ids` from one bound JSON parameter, whatever their number."""
    import json
    if is_postgres():
        return "(SELECT jsonb_array_elements_text(%s::jsonb))", json.dumps(list(ids))
    return "(SELECT value FROM json_each(?))", json.dumps(list(ids))


def tenant_filter(column, workspace_id):
    """Return `column = workspace_id` for a query that selects rows by their own ids (or a group's id).

    Every query keeps its tenant filter; on SQLite it is written `+column` so it never drives the plan:
    without statistics SQLite would otherwise walk a whole workspace's index (100,000 entries: 22 ms,
    measured) instead of looking the ids up. PostgreSQL plans from its statistics: the plain column.
    """
    from peewee import SQL, NodeList
    if is_sqlite():
        return NodeList((SQL("+"), column), glue="") == workspace_id
    return column == workspace_id


def tenant_sql(qualified_column):
    """The raw-SQL form of tenant_filter's left side: `+t."workspace_id"` on SQLite."""
    return f"+{qualified_column}" if is_sqlite() else qualified_column


ID_MAX = 64
# Above this many ids an IN list becomes one JSON parameter (SQLite allows 32766 bound variables).
INLINE_IDS = 200


def valid_id(value):
    """True for a string that can be a row id: no id is empty, longer than 64 or holds NUL (which PostgreSQL
    cannot even compare)."""
    return isinstance(value, str) and 0 < len(value) <= ID_MAX and "\x00" not in value


def _id_list(ids):
    """Return a subquery yielding `ids` from one bound JSON parameter (for lists of any length)."""
    from peewee import SQL
    fragment, param = id_list_sql(ids)
    return SQL(fragment, [param])


def in_ids(column, ids):
    """Return `column IN ids`: inline for short lists, one JSON parameter for long ones."""
    ids = list(ids)
    return column.in_(ids) if len(ids) <= INLINE_IDS else column.in_(_id_list(ids))


def not_in_ids(column, ids):
    """Return `column NOT IN ids`, like in_ids."""
    ids = list(ids)
    return column.not_in(ids) if len(ids) <= INLINE_IDS else column.not_in(_id_list(ids))


def workspace_row(model, workspace_id, row_id, lock=False):
    """Return the workspace's `model` row `row_id` (locked FOR UPDATE on PostgreSQL when `lock`), or None."""
    if not valid_id(row_id):
        return None
    query = model.select().where(model.id == row_id, model.workspace == workspace_id)
    if lock and is_postgres():
        query = query.for_update()
    return query.first()
