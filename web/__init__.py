"""The neutral web core that the admin API (`api`) and the SCIM endpoints (`scim`) both stand on.

It owns what every HTTP request shares, whatever blueprint answers it: the request id, the per-request
database connection, the provisioning log's request hooks, bearer-token authentication (`web.auth`) and
error rendering (`web.errors`). It imports neither `api` nor `scim`; they register their error renderers
with it (`web.errors.register_renderer`) when the app is built.
"""

import uuid

from flask import g, request

from models.db import db, unavailable

from . import audit, errors, inputs


def init_app(app):
    """Wire the request lifecycle: request id, database connection, provisioning log hooks, error handlers."""

    @app.before_request
    def _open_db():
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(exc):
        if not db.is_closed():
            try:
                db.close()
            except Exception as error:  # a dropped connection: the answer stands, the pool discards it
                if not unavailable(error):
                    raise

    errors.init_app(app)
    audit.init_app(app)
    # After the log noted the request, so a refusal here is recorded like any other.
    app.before_request(inputs.check_request)
