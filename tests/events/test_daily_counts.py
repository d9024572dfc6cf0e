"""The per-day counts (provisioning_daily) stay equal to counting the events themselves: after successes and
refusals from several IdPs, after a prune, and when migration 0010 fills them from an existing log."""

import datetime
import importlib

import time_machine

from models.db import db, is_postgres, utcnow
from models.events import ProvisioningDaily as D
from models.services import audit, mutation
from models.services import workspaces as ws_svc
from tests import factories

from .conftest import connected


def _by_scan(workspace):
    """The per-day report computed from the events (a range not on midnights takes that path)."""
    return audit.report_daily_operations(workspace, since=datetime.datetime(2000, 1, 1, 0, 0, 1))["items"]


def _traffic(setup):
    for email in ("a@acme.test", "b@acme.test"):
        assert setup.scim_client.post("/scim/v2/Users", json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email}).status_code == 201
    assert setup.scim_client.post("/scim/v2/Users", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@acme.test"}).status_code == 409
    with connected(), time_machine.travel(utcnow() - datetime.timedelta(days=400), tick=True):
        for i in range(3):
            with mutation(setup.workspace, factories.CLI) as change:
                change.record("user.updated", "user", f"old{i}", f"old{i}@acme.test", after={"n": i})


def test_counts_follow_writes_refusals_and_prunes(setup):
    _traffic(setup)
    with connected():
        counted = audit.report_daily_operations(setup.workspace)["items"]
        assert counted == _by_scan(setup.workspace)
        assert any(i["operation"] == "user.created" and i["failure"] == 1 and i["success"] == 2 for i in counted)
        assert len({i["day"] for i in counted}) == 2
        ws_svc.replace_settings(setup.workspace, factories.CLI, {"audit.retention_days": 365})  # the floor
        workspace = ws_svc.find_workspace("acme")
        assert audit.prune(workspace, factories.CLI)["pruned"] > 0
        counted = audit.report_daily_operations(workspace)["items"]
        assert counted == _by_scan(workspace) and len({i["day"] for i in counted}) == 1
        assert not D.select().where((D.success == 0) & (D.failure == 0)).exists()


def test_activity_chart_reads_the_counts(setup):
    _traffic(setup)
    with connected():
        activity = audit.report_activity(setup.workspace)
        today = activity["days"][-1]
        for kind, operations in audit.ACTIVITY_KINDS.items():
            expected = sum(i["success"] for i in _by_scan(setup.workspace)
                           if i["day"] == today and i["operation"] in operations)
            assert sum(series[kind][-1] for series in activity["series"].values()) == expected, kind
        assert sum(sum(series["created"]) for series in activity["series"].values()) >= 2


def test_migration_fills_the_counts_from_an_existing_log(setup):
    _traffic(setup)
    with connected():
        expected = audit.report_daily_operations(setup.workspace)["items"]
        D.delete().execute()
        migration = importlib.import_module("models.migrations.0010_provisioning_daily")
        dialect = "postgres" if is_postgres() else "sqlite"
        db.execute_sql(migration.BACKFILL.format(day=migration.DAY[dialect]))
        assert audit.report_daily_operations(setup.workspace)["items"] == expected
