"""The neutral web core that the admin API (`api`) and the SCIM endpoints (`scim`) both stand on.

It owns what every HTTP request shares, whatever blueprint answers it: the request id and the request log
line (`web.logging`), the per-request database connection, the provisioning log's request hooks, bearer-token
authentication (`web.auth`), error rendering (`web.errors`), rate limits (`web.limits`), metrics
(`web.metrics`) and the health endpoints (`web.health`). It imports neither `api` nor `scim`; they register
their error renderers with it (`web.errors.register_renderer`) when the app is built.
"""

from werkzeug.middleware.proxy_fix import ProxyFix

from models.db import db, unavailable

from . import audit, errors, health, inputs, limits, logging, metrics
from .views import is_operational


def init_app(app):
    """Wire the request lifecycle: request id and log line, metrics, database connection, provisioning log
    hooks, error handlers, health endpoints and rate limits (last: they may look the token up)."""
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    logging.init_app(app)
    metrics.init_app(app)

    @app.before_request
    def _open_db():
        if not is_operational():
            db.connect(reuse_if_open=True)
            metrics.note_pool(db.obj)

    @app.teardown_request
    def _close_db(exc):
        if not db.is_closed():
            try:
                db.close()
            except Exception as error:  # a dropped connection: the answer stands, the pool discards it
                if not unavailable(error):
                    raise
        metrics.note_pool(db.obj)

    errors.init_app(app)
    audit.init_app(app)
    # After the log noted the request, so a refusal here is recorded like any other.
    app.before_request(inputs.check_request)
    health.init_app(app)
    limits.init_app(app)
