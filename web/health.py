"""Health for load balancers and orchestrators: /healthz (the process answers) and /readyz (it can serve).

Neither needs a token and neither answers more than a status and, when not ready, the reasons. /readyz checks
that the database answers, that its schema is current (`roster db upgrade` applied every migration), and, when
the configuration names an audit signing key (AUDIT_SIGNING_KEY), that the key can be read.
"""

import logging

from flask import current_app, jsonify

from models.db import db, pending_migrations

from .views import operational

log = logging.getLogger("roster.health")

NO_STORE = {"Cache-Control": "no-store"}


def _answer(reasons):
    if reasons:
        return jsonify({"status": "unavailable", "reasons": reasons}), 503, NO_STORE
    return jsonify({"status": "ok"}), 200, NO_STORE


def healthz():
    """Answer 200 while the process serves requests; touches nothing else."""
    return _answer([])


def database_problem():
    """Return why the database cannot serve (unreachable, schema not current), or None."""
    try:
        with db.connection_context():
            db.execute_sql("SELECT 1")
            pending = pending_migrations()
    except Exception as error:
        log.warning("readiness: database unreachable: %s", error.__class__.__name__)
        return "database unreachable"
    if pending:
        return f"database schema not current: {len(pending)} migration(s) pending (run `roster db upgrade`)"
    return None


def signing_key_problem():
    """Return why the configured audit signing key could not be loaded at start-up (web.audit), or None."""
    return current_app.extensions.get("roster.audit_key_problem")


def readyz():
    """Answer 200 when this process can serve: database reachable, schema current, signing key readable."""
    reasons = [problem for problem in (database_problem(),
                                       signing_key_problem())
               if problem]
    return _answer(reasons)


ENDPOINTS = {"healthz": healthz, "readyz": readyz}


def init_app(app):
    """Bind /healthz and /readyz: operational views (no request database connection, no rate limit)."""
    for name, view in ENDPOINTS.items():
        app.add_url_rule(f"/{name}", name, operational(view), methods=["GET"])
