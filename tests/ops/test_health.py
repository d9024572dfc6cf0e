"""/healthz and /readyz: no token, nothing but a status and the reasons, 503 when this process cannot serve."""

import os

from models.services.audit.signing import write_private_key

from models.db import MIGRATIONS_DIR, upgrade


def test_healthz_answers_without_token_or_database(make_app, tmp_path):
    # A database that cannot even be opened: /healthz does not touch it.
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/roster.db")
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}
    assert r.headers["Cache-Control"] == "no-store"


def test_readyz_ok_on_a_current_schema(client):
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_readyz_unreachable_database(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/roster.db")
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.json == {"status": "unavailable", "reasons": ["database unreachable"]}


def test_readyz_pending_migrations_until_upgrade(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/fresh.db")
    client = app.test_client()
    r = client.get("/readyz")
    assert r.status_code == 503
    migrations = len([name for name in os.listdir(MIGRATIONS_DIR) if name[:4].isdigit()])
    assert r.json == {"status": "unavailable", "reasons": [
        f"database schema not current: {migrations} migration(s) pending (run `roster db upgrade`)"]}
    upgrade()
    assert client.get("/readyz").status_code == 200


def test_readyz_checks_the_audit_signing_key(make_app, tmp_path):
    missing = make_app(AUDIT_SIGNING_KEY="/nonexistent/roster/audit-signing.pem").test_client().get("/readyz")
    assert missing.status_code == 503
    assert missing.json == {"status": "unavailable", "reasons": ["audit signing key unreadable"]}
    path = tmp_path / "audit-signing.pem"
    write_private_key(str(path))
    assert make_app(AUDIT_SIGNING_KEY=str(path)).test_client().get("/readyz").status_code == 200
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n")
    assert make_app(AUDIT_SIGNING_KEY=str(garbage)).test_client().get("/readyz").status_code == 503
    # A directory where the file should be cannot be read either (whoever runs the tests, root included).
    assert make_app(AUDIT_SIGNING_KEY=str(tmp_path)).test_client().get("/readyz").status_code == 503
    assert make_app(AUDIT_SIGNING_KEY="").test_client().get("/readyz").status_code == 200  # tests run without one


def test_health_endpoints_are_not_rate_limited(make_app):
    app = make_app(RATE_LIMITS=True)
    client = app.test_client()
    statuses = {client.get("/healthz").status_code for _ in range(60)}
    statuses |= {client.get("/readyz").status_code for _ in range(60)}
    assert statuses == {200}
