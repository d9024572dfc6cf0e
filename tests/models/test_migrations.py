"""`upgrade()` creates the whole schema on an empty database and is a no-op when re-run (SQLite, PostgreSQL)."""

import os

import pytest
from playhouse.db_url import connect

from models import MODELS
from models.db import MIGRATIONS_DIR, db, init_db, pending_migrations, upgrade

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
CHECK_SCHEMA = "roster_migration_check"


def _migration_names():
    """Every migration file, in order: a new database gets all of them."""
    return sorted(os.path.splitext(f)[0] for f in os.listdir(MIGRATIONS_DIR) if f[:4].isdigit() and f.endswith(".py"))


def _expected_tables():
    return {model._meta.table_name for model in MODELS} | {"schema_migration"}


@pytest.fixture
def bound_to():
    """Bind the shared database proxy to another database for one test, then rebind it as it was."""
    original = db.obj

    def bind(url):
        return init_db(url)

    yield bind
    if not db.is_closed():
        db.close()
    db.initialize(original)


def _check_upgrade_twice():
    assert pending_migrations() == _migration_names()
    assert upgrade() == _migration_names()
    with db.connection_context():
        tables = set(db.get_tables())
        assert tables == _expected_tables()
        for model in MODELS:
            columns = {c.name for c in db.get_columns(model._meta.table_name)}
            assert columns == {f.column_name for f in model._meta.sorted_fields}, model.__name__
            indexes = {tuple(i.columns) for i in db.get_indexes(model._meta.table_name)}
            for fields, _unique in model._meta.indexes:
                wanted = tuple(model._meta.fields[f].column_name for f in fields)
                assert wanted in indexes, (model.__name__, wanted)
        db.execute_sql("INSERT INTO person (id, email, name, created_at) VALUES ('p1', 'a@b.test', '', "
                       "CURRENT_TIMESTAMP)")
    # Re-running applies nothing and keeps the data.
    assert upgrade() == []
    assert pending_migrations() == []
    with db.connection_context():
        assert set(db.get_tables()) == _expected_tables()
        assert db.execute_sql("SELECT email FROM person").fetchall() == [("a@b.test",)]
        assert sorted(r[0] for r in db.execute_sql("SELECT name FROM schema_migration").fetchall()) == \
            _migration_names()


def test_upgrade_on_an_empty_sqlite_file(tmp_path, bound_to):
    database = bound_to(f"sqlite:///{tmp_path / 'empty.db'}")
    with db.connection_context():
        assert db.get_tables() == []
    _check_upgrade_twice()
    with db.connection_context():
        assert db.execute_sql("PRAGMA foreign_keys").fetchone() == (1,)
        assert db.execute_sql("PRAGMA journal_mode").fetchone() == ("wal",)
    assert database is db.obj


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL runs with TEST_DATABASE_URL (the CI's second pass)")
def test_upgrade_on_an_empty_postgres_schema(bound_to):
    admin = connect(TEST_DATABASE_URL)
    with admin.connection_context():
        admin.execute_sql(f'DROP SCHEMA IF EXISTS "{CHECK_SCHEMA}" CASCADE')
        admin.execute_sql(f'CREATE SCHEMA "{CHECK_SCHEMA}"')
    try:
        separator = "&" if "?" in TEST_DATABASE_URL else "?"
        bound_to(f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{CHECK_SCHEMA}")
        with db.connection_context():
            assert db.execute_sql("SELECT current_schema()").fetchone() == (CHECK_SCHEMA,)
            assert db.get_tables() == []
        _check_upgrade_twice()
        with db.connection_context():
            kinds = dict(db.execute_sql(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'workspace'", (CHECK_SCHEMA,)).fetchall())
        assert kinds["settings"] == "jsonb"
    finally:
        with admin.connection_context():
            admin.execute_sql(f'DROP SCHEMA IF EXISTS "{CHECK_SCHEMA}" CASCADE')
        admin.close()
