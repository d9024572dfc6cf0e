"""Test fixtures: the app on a real database (SQLite temp file, or TEST_DATABASE_URL for PostgreSQL), a client,
a real SMTP server on 127.0.0.1, authenticated clients, and the test IdPs of the SSO tests."""

import os
import socket
import threading

import pytest

from idp_fixtures.sso import OidcProvider, SamlIdp
from idp_fixtures.sso.dns_server import DnsServer
from models.db import db
from tests.tables import empty_tables

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _reset_postgres(url):
    from playhouse.db_url import connect
    database = connect(url)
    with database.connection_context():
        database.execute_sql("DROP SCHEMA public CASCADE")
        database.execute_sql("CREATE SCHEMA public")
    database.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if TEST_DATABASE_URL:
        if not TEST_DATABASE_URL.startswith("postgres"):
            raise RuntimeError("TEST_DATABASE_URL must be a postgresql:// URL (never the dev database)")
        _reset_postgres(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """Messages received by the test SMTP server."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append({"to": envelope.rcpt_tos, "subject": msg["Subject"],
                                  "body": msg.get_content(), "message": msg})
        return "250 Message accepted for delivery"

    def clear(self):
        with self.lock:
            self.messages.clear()

    def last_to(self, address):
        with self.lock:
            for message in reversed(self.messages):
                if address in message["to"]:
                    return message
        return None


@pytest.fixture(scope="session")
def smtp_server():
    from aiosmtpd.controller import Controller
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture(scope="session")
def app(database_url, smtp_server, tmp_path_factory):
    from models.db import upgrade
    from wsgi import create_app
    from models.services.audit.signing import write_private_key
    instance = tmp_path_factory.mktemp("instance")
    os.environ["ROSTER_INSTANCE_PATH"] = str(instance)
    write_private_key(str(instance / "audit_signing_key.pem"))  # the tests' own key (docs/audit.md)
    controller, _ = smtp_server
    application = create_app({"TESTING": True, "DATABASE_URL": database_url, "PUBLIC_URL": "http://roster.test",
                              "SMTP_HOST": "127.0.0.1", "SMTP_PORT": controller.port, "SECRET_KEY": "test",
                              # The test IdPs listen on 127.0.0.1: the operator switch is on (tests of the
                              # refusal turn it off with tests.api.sso.helpers.allow_private_network).
                              "SSO_ALLOW_PRIVATE_NETWORK": True,
                              "AUDIT_SIGNING_KEY": str(instance / "audit_signing_key.pem"),
                              "RATE_LIMITS": False, "LOG_FORMAT": "text"})
    upgrade()
    return application


@pytest.fixture
def mailbox(smtp_server):
    _, box = smtp_server
    box.clear()
    return box


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Empty every table after each test that used the app, so tests never see each other's rows."""
    yield
    if "app" in request.fixturenames:
        empty_tables()
        request.getfixturevalue("app").config["SSO_ALLOW_PRIVATE_NETWORK"] = True


@pytest.fixture
def ctx(app):
    """An app context with an open connection, for calling services and factories directly."""
    with app.app_context():
        with db.connection_context():
            yield


@pytest.fixture
def client(app):
    return app.test_client()


class AuthClient:
    """A test client that sends a bearer token (and JSON) on every request."""

    def __init__(self, client, token, content_type=None):
        self.client, self.token, self.content_type = client, token, content_type

    def open(self, method, path, json=None, headers=None, **kwargs):
        all_headers = {"Authorization": f"Bearer {self.token}"}
        all_headers.update(headers or {})
        if json is not None and self.content_type:
            import json as jsonlib
            kwargs["data"] = jsonlib.dumps(json)
            all_headers.setdefault("Content-Type", self.content_type)
            json = None
        return self.client.open(path, method=method, json=json, headers=all_headers, **kwargs)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def put(self, path, **kw):
        return self.open("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.open("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


@pytest.fixture
def workspace_setup(app, client):
    """A workspace with an owner; returns a namespace of the workspace, owner and their clients."""
    from tests import factories
    with app.app_context(), db.connection_context():
        ws, owner = factories.make_workspace("Acme", owner_email="owner@acme.test")
        owner_token = factories.make_personal_token(owner)
        admin_token = factories.make_service_token(ws, ["admin"])
        scim_token = factories.make_service_token(ws, ["scim"])
    return factories.Setup(workspace=ws, owner=owner, owner_client=AuthClient(client, owner_token),
                           admin_client=AuthClient(client, admin_token), scim_token=scim_token,
                           scim_client=AuthClient(client, scim_token, "application/scim+json"))


@pytest.fixture
def saml_idp():
    """An in-process SAML IdP (pysaml2, Okta-shaped metadata) for the engine and the API tests."""
    idp = SamlIdp(shape="okta")
    yield idp
    idp.close()


@pytest.fixture
def oidc_provider():
    """A real OpenID provider on 127.0.0.1 for the engine and the API tests."""
    with OidcProvider(default_email="alice@example.com") as provider:
        yield provider


@pytest.fixture
def dns_server(app):
    """A DNS server on 127.0.0.1 that domain verification asks (records: {name: [TXT strings]})."""
    with DnsServer() as server:
        app.config["SSO_DNS_NAMESERVERS"] = (server.nameserver,)
        yield server
        app.config["SSO_DNS_NAMESERVERS"] = ()
