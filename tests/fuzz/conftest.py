"""A live Roster (gunicorn, two workers, 127.0.0.1) on a database of its own, for the fuzzers and the
concurrent writers over real HTTP: a temporary SQLite file, or with TEST_DATABASE_URL a schema of its own in
that PostgreSQL database (so the suite's table cleaning between tests never touches it)."""

import tempfile
import shutil
import types
from urllib.parse import quote

import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.live import LiveServer, roster_cli, roster_env

LIVE_SCHEMA = "roster_fuzz"


def _postgres_schema(url, statement):
    from playhouse.db_url import connect
    database = connect(url)
    with database.connection_context():
        database.execute_sql(statement)
    database.close()


@pytest.fixture(scope="package")
def live_roster():
    directory = tempfile.mkdtemp(prefix="roster-fuzz-")
    if TEST_DATABASE_URL:
        _postgres_schema(TEST_DATABASE_URL, f"DROP SCHEMA IF EXISTS {LIVE_SCHEMA} CASCADE")
        _postgres_schema(TEST_DATABASE_URL, f"CREATE SCHEMA {LIVE_SCHEMA}")
        separator = "&" if "?" in TEST_DATABASE_URL else "?"
        url = f"{TEST_DATABASE_URL}{separator}options={quote(f'-c search_path={LIVE_SCHEMA}')}"
    else:
        url = f"sqlite:///{directory}/fuzz.db"
    env = roster_env(url, directory)
    server = None
    try:
        roster_cli(env, "db", "upgrade")
        slug = roster_cli(env, "workspace", "create", "Fuzz", "--owner", "owner@fuzz.test",
                          "--environments", "dev,test,prod").splitlines()[-1]
        scim = roster_cli(env, "token", "create", "--workspace", slug, "--scope", "scim").splitlines()[-1]
        owner = roster_cli(env, "token", "create", "--person", "owner@fuzz.test").splitlines()[-1]
        server = LiveServer(env, workers=2, log_path=f"{directory}/gunicorn.log")
        yield types.SimpleNamespace(url=server.url, slug=slug, scim_token=scim, owner_token=owner,
                                    log=f"{directory}/gunicorn.log", database_url=url)
    finally:
        if server is not None:
            server.stop()
        if TEST_DATABASE_URL:
            _postgres_schema(TEST_DATABASE_URL, f"DROP SCHEMA IF EXISTS {LIVE_SCHEMA} CASCADE")
        shutil.rmtree(directory, ignore_errors=True)
