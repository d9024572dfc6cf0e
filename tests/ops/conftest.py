"""Apps of their own for the operations tests: rate limits on, a metrics token, another database."""

import pytest

from models.db import init_db


@pytest.fixture
def make_app(app, database_url, smtp_server):
    """Return a factory of apps on the test database (or another) with config overrides; the session app's
    database binding is restored afterwards."""
    from wsgi import create_app
    controller, _ = smtp_server

    def build(**overrides):
        config = {"TESTING": True, "DATABASE_URL": database_url, "PUBLIC_URL": "http://roster.test",
                  "SMTP_HOST": "127.0.0.1", "SMTP_PORT": controller.port, "SECRET_KEY": "test",
                  "RATE_LIMITS": False, "LOG_FORMAT": "text"}
        config.update(overrides)
        return create_app(config)

    yield build
    init_db(database_url)
