"""Retention: pruning leaves a hashed checkpoint; the chain still verifies and tampering still shows."""

import datetime

import time_machine
from click.testing import CliRunner

from models.db import utcnow
from models.events import GENESIS_HASH, ProvisioningCheckpoint, ProvisioningEvent as E, checkpoint_hash
from models.services import audit, mutation
from models.services import workspaces as ws_svc
from tests import factories

from .conftest import connected, rows

PRUNE = "/api/v1/workspaces/acme/events/prune"


def _old_events(setup, count=5, days_ago=400):
    with connected(), time_machine.travel(utcnow() - datetime.timedelta(days=days_ago), tick=True):
        for i in range(count):
            with mutation(setup.workspace, factories.CLI) as change:
                change.record("user.updated", "user", f"old{i}", f"old{i}@acme.test", after={"n": i})


def _retention(setup, days):
    with connected():
        ws_svc.replace_settings(setup.workspace, factories.CLI, {"audit.retention_days": days})
    setup.workspace = ws_svc.find_workspace("acme")


def test_prune_removes_old_events_and_the_chain_still_verifies(setup):
    first_before = rows(setup.workspace)  # setup's own events are "now"
    _old_events(setup)
    _retention(setup, 365)
    r = setup.owner_client.post(PRUNE)
    assert r.status_code == 200, r.json
    # The prefix up to the last old event goes (seq order is the chain order, so recent setup events before
    # the old ones cannot survive without breaking it): everything through the old events' last seq.
    through = r.json["through_seq"]
    assert r.json["pruned"] == through and r.json["retention_days"] == 365
    remaining = rows(setup.workspace)
    assert remaining[0]["seq"] == through + 1
    pruned_event = remaining[-1]
    assert pruned_event["operation"] == "audit.pruned" and pruned_event["after"]["through_seq"] == through
    assert pruned_event["after"]["checkpoint_hash"] == r.json["checkpoint_hash"]
    result = setup.audit_client.get("/api/v1/workspaces/acme/events/verify").json
    assert result["ok"] is True and result["checked"] == len(remaining)
    assert result["checkpoint"]["seq"] == through and result["checkpoint"]["pruned_count"] == through
    assert len(first_before) < through


def test_prune_without_retention_or_old_events_does_nothing(setup):
    r = setup.owner_client.post(PRUNE)
    assert r.json == {"pruned": 0, "through_seq": None, "retention_days": 0}
    _retention(setup, 365)
    count = len(rows(setup.workspace))
    r = setup.owner_client.post(PRUNE)
    assert r.json["pruned"] == 0 and len(rows(setup.workspace)) == count


def test_tampering_after_a_prune_is_still_found(setup):
    _old_events(setup)
    _retention(setup, 365)
    through = setup.owner_client.post(PRUNE).json["through_seq"]
    with connected():
        E.update(after={"n": 42}).where(E.workspace_id == setup.workspace.id, E.seq == through + 2).execute()
        assert audit.verify(setup.workspace)["first_bad"]["seq"] == through + 2
        assert audit.verify(setup.workspace)["first_bad"]["problem"] == "modified"


def test_a_first_remaining_event_deleted_after_a_prune_is_found(setup):
    _old_events(setup)
    _retention(setup, 365)
    through = setup.owner_client.post(PRUNE).json["through_seq"]
    with connected():
        E.delete().where(E.workspace_id == setup.workspace.id, E.seq == through + 1).execute()
        bad = audit.verify(setup.workspace)["first_bad"]
        assert (bad["seq"], bad["problem"]) == (through + 1, "deleted")


def test_an_altered_checkpoint_is_found(setup):
    _old_events(setup)
    _retention(setup, 365)
    through = setup.owner_client.post(PRUNE).json["through_seq"]
    with connected():
        ProvisioningCheckpoint.update(pruned_count=1).where(
            ProvisioningCheckpoint.workspace_id == setup.workspace.id).execute()
        bad = audit.verify(setup.workspace)["first_bad"]
        assert (bad["seq"], bad["problem"]) == (through, "modified")


def test_a_forged_checkpoint_hiding_deleted_events_is_found(setup):
    """Deleting the oldest events behind a self-consistent checkpoint is not a prune: nothing attests it."""
    with connected():
        events = rows(setup.workspace)
        victim = events[3]
        E.delete().where(E.workspace_id == setup.workspace.id, E.seq <= victim["seq"]).execute()
        forged = {"workspace_id": setup.workspace.id, "seq": victim["seq"], "last_hash": victim["hash"],
                  "pruned_count": victim["seq"], "pruned_before": utcnow(), "created_at": utcnow(),
                  "prev_checkpoint_hash": GENESIS_HASH}
        forged["hash"] = checkpoint_hash(forged)
        ProvisioningCheckpoint.create(**forged)
        bad = audit.verify(setup.workspace)["first_bad"]
        assert (bad["seq"], bad["problem"]) == (victim["seq"], "deleted")


def test_two_prunes_chain_their_checkpoints(setup):
    _old_events(setup, days_ago=400)
    _retention(setup, 365)
    first = setup.owner_client.post(PRUNE).json
    with connected(), time_machine.travel(utcnow() + datetime.timedelta(days=400)):
        second = audit.prune(setup.workspace, factories.CLI)
        assert second["through_seq"] > first["through_seq"]
        cps = list(ProvisioningCheckpoint.select()
                   .where(ProvisioningCheckpoint.workspace_id == setup.workspace.id)
                   .order_by(ProvisioningCheckpoint.seq))
        assert cps[1].prev_checkpoint_hash == cps[0].hash
        result = audit.verify(setup.workspace)
        assert result["ok"] and result["checkpoint"]["seq"] == second["through_seq"]
        assert [e["operation"] for e in rows(setup.workspace)] == ["audit.pruned"]


def test_command_line_prunes_every_workspace_with_retention(setup, app, monkeypatch):
    import cli
    _old_events(setup)
    _retention(setup, 365)
    with connected():
        factories.make_workspace("Other", owner_email="boss@other.test")
    monkeypatch.setattr(cli, "make_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["audit", "prune"])
    assert result.exit_code == 0, result.output
    assert "acme: pruned" in result.output and "other" not in result.output
    assert rows(setup.workspace)[-1]["actor_kind"] == "cli"
    again = CliRunner().invoke(cli.main, ["audit", "prune", "--workspace", "acme"])
    assert again.exit_code == 0 and "pruned 0 events" in again.output
