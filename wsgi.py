"""The WSGI entry point: `create_app()` builds Roster; `gunicorn wsgi:app` serves it."""

import os

from flask import Flask

import config as roster_config


def create_app(config=None):
    """Create the Roster application; `config` overrides the environment (tests pass a mapping)."""
    app = Flask(__name__, instance_path=os.environ.get("ROSTER_INSTANCE_PATH") or None,
                instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(roster_config.load(app.instance_path, config))

    from models.db import init_db
    from models.mail import Mailer

    init_db(app.config["DATABASE_URL"])
    app.extensions["roster.mailer"] = Mailer.from_config(app.config)

    import api
    import console
    import scim
    import web
    web.init_app(app)
    api.init_app(app)
    scim.init_app(app)
    console.init_app(app)
    return app


def __getattr__(name):
    # Built on first use so importing create_app (tests, the CLI) never builds a default app.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
