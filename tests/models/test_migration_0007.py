"""Migration 0007 removes the former tenant SSRF switch from stored workspace settings (SQLite and PostgreSQL)."""

import importlib

from models.db import db
from models.workspace import Workspace
from tests import factories

migration = importlib.import_module("models.migrations.0007_sso_trust")


def test_removed_setting_is_dropped_from_stored_settings(ctx):
    ws, _ = factories.make_workspace("Legacy", owner_email="owner@legacy.test")
    Workspace.update(settings={**ws.settings, "sso.allow_private_network": True,
                               "audit.retention_days": 9}).where(Workspace.id == ws.id).execute()
    migration._drop_removed_setting(db.obj)
    settings = Workspace.get_by_id(ws.id).settings
    assert "sso.allow_private_network" not in settings and settings["audit.retention_days"] == 9
