"""Fixtures for the provisioning log: an audit:read client, and helpers to read and tamper with events."""

import contextlib

import pytest

from models.db import db
from models.events import ProvisioningEvent
from tests.conftest import AuthClient


@pytest.fixture(autouse=True)
def _audit_settings_of_the_test_app(app):
    """The log's keys are process-wide, set by create_app: another test's app may have replaced them."""
    from models.services import audit
    audit.use_settings(app.extensions["roster.audit"])


@pytest.fixture
def setup(workspace_setup, app, client):
    """The Acme workspace (dev, test, prod) with owner, admin, scim and audit:read clients."""
    from tests import factories
    s = workspace_setup
    with app.app_context(), db.connection_context():
        from models.services import workspaces as ws_svc
        ws_svc.update_workspace(s.workspace, factories.CLI, {"environments": ["dev", "test", "prod"]})
        s.audit_token = factories.make_service_token(s.workspace, ["audit:read"], label="auditor")
    s.audit_client = AuthClient(client, s.audit_token)
    return s


def rows(workspace, **where):
    """Return the workspace's events as dicts in seq order, optionally filtered by column values."""
    query = ProvisioningEvent.select().where(ProvisioningEvent.workspace_id == workspace.id)
    for column, value in where.items():
        query = query.where(getattr(ProvisioningEvent, column) == value)
    with connected():
        return list(query.order_by(ProvisioningEvent.seq).dicts())


def ops(workspace):
    """Return the operations of the workspace's events in seq order."""
    return [r["operation"] for r in rows(workspace)]


@contextlib.contextmanager
def connected():
    """Use the open connection, or open one for the block (connection_context would close it)."""
    opened = db.is_closed()
    if opened:
        db.connect()
    try:
        yield
    finally:
        if opened:
            db.close()
