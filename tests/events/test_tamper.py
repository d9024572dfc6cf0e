"""Verification: an intact chain passes; a modified, deleted, inserted or reordered event is named."""

import pytest
from click.testing import CliRunner

from models.events import GENESIS_HASH, ProvisioningChain, ProvisioningEvent as E, event_hash
from models.services import audit, mutation
from tests import factories

from .conftest import connected, rows


@pytest.fixture
def chain(setup, app):
    """The setup workspace with ten more events (seq 1..N); returns (workspace, N). Queries autoconnect."""
    with app.app_context(), connected():
        for i in range(10):
            with mutation(setup.workspace, factories.CLI) as change:
                change.record("user.updated", "user", f"u{i}", f"user{i}@acme.test", before={"n": i},
                              after={"n": i + 1})
    return setup.workspace, len(rows(setup.workspace))


def _where(ws, seq):
    return (E.workspace_id == ws.id) & (E.seq == seq)


def _first_bad(ws):
    result = audit.verify(ws)
    assert not result["ok"]
    return result["first_bad"]["seq"], result["first_bad"]["problem"]


def _rehash(ws, seq, prev=None):
    row = E.select().where(_where(ws, seq)).dicts().get()
    prev = row["prev_hash"] if prev is None else prev
    new = event_hash(row, prev)
    E.update(hash=new, prev_hash=prev).where(_where(ws, seq)).execute()
    return new


def test_an_intact_chain_verifies(chain, setup):
    ws, n = chain
    result = audit.verify(ws)
    assert {k: result[k] for k in ("ok", "checked", "first_bad", "checkpoint", "expected_head")} == \
        {"ok": True, "checked": n, "first_bad": None, "checkpoint": None, "expected_head": None}
    assert result["signed_checkpoint"]["signature_ok"] is True
    r = setup.audit_client.get("/api/v1/workspaces/acme/events/verify")
    assert r.status_code == 200 and r.json["ok"] is True and r.json["checked"] == n


def test_modified_content_is_found(chain):
    ws, _ = chain
    E.update(after={"n": 999}).where(_where(ws, 5)).execute()
    assert _first_bad(ws) == (5, "modified")


def test_modified_and_rehashed_is_found_by_the_next_link(chain):
    ws, _ = chain
    E.update(target_name="mallory@evil.test").where(_where(ws, 5)).execute()
    _rehash(ws, 5)
    assert _first_bad(ws) == (5, "modified")


def test_modified_and_rehashed_last_event_is_found_by_the_head(chain):
    ws, n = chain
    E.update(status=500).where(_where(ws, n)).execute()
    _rehash(ws, n)
    assert _first_bad(ws) == (n, "modified")


def test_deleted_event_is_found(chain):
    ws, _ = chain
    E.delete().where(_where(ws, 4)).execute()
    assert _first_bad(ws) == (4, "deleted")


def test_deleted_last_event_is_found(chain):
    ws, n = chain
    E.delete().where(_where(ws, n)).execute()
    assert _first_bad(ws) == (n, "deleted")


def test_deleted_and_renumbered_is_found(chain):
    ws, n = chain
    E.delete().where(_where(ws, 4)).execute()
    for seq in range(5, n + 1):
        E.update(seq=seq - 1).where(_where(ws, seq)).execute()
    ProvisioningChain.update(last_seq=n - 1).where(ProvisioningChain.workspace_id == ws.id).execute()
    assert _first_bad(ws) == (4, "deleted")


def test_inserted_after_the_head_is_found_even_with_a_valid_hash(chain):
    ws, n = chain
    last = E.select().where(_where(ws, n)).dicts().get()
    forged = dict(last, id="forged", seq=n + 1, operation="role.granted", after={"role": "Admin"})
    forged["prev_hash"] = last["hash"]
    forged["hash"] = event_hash(forged, last["hash"])
    E.insert(forged).execute()
    assert _first_bad(ws) == (n + 1, "inserted")


def _shift_up_from(ws, seq, n):
    for s in range(n, seq - 1, -1):
        E.update(seq=s + 1).where(_where(ws, s)).execute()


def test_inserted_in_the_middle_with_a_valid_link_is_found(chain):
    ws, n = chain
    prev = E.select().where(_where(ws, 3)).dicts().get()
    _shift_up_from(ws, 4, n)
    forged = dict(prev, id="forged", seq=4, operation="role.granted", after={"role": "Admin"})
    forged["prev_hash"] = prev["hash"]
    forged["hash"] = event_hash(forged, prev["hash"])
    E.insert(forged).execute()
    ProvisioningChain.update(last_seq=n + 1).where(ProvisioningChain.workspace_id == ws.id).execute()
    assert _first_bad(ws) == (4, "inserted")


def test_inserted_in_the_middle_carelessly_is_found(chain):
    ws, n = chain
    prev = E.select().where(_where(ws, 3)).dicts().get()
    _shift_up_from(ws, 4, n)
    E.insert(dict(prev, id="forged", seq=4, prev_hash="f" * 64, hash="e" * 64)).execute()
    ProvisioningChain.update(last_seq=n + 1).where(ProvisioningChain.workspace_id == ws.id).execute()
    assert _first_bad(ws) == (4, "inserted")


def _swap(ws, a, b):
    E.update(seq=-1).where(_where(ws, a)).execute()
    E.update(seq=a).where(_where(ws, b)).execute()
    E.update(seq=b).where(_where(ws, -1)).execute()


def test_swapped_neighbours_are_reordered(chain):
    ws, _ = chain
    _swap(ws, 6, 7)
    assert _first_bad(ws) == (6, "reordered")


def test_distant_swap_is_reordered(chain):
    ws, _ = chain
    _swap(ws, 3, 9)
    assert _first_bad(ws) == (3, "reordered")


def test_first_event_modified(chain):
    ws, _ = chain
    E.update(prev_hash="1" * 64).where(_where(ws, 1)).execute()
    assert _first_bad(ws)[1] in ("modified", "deleted")
    E.update(prev_hash=GENESIS_HASH, target_name="other").where(_where(ws, 1)).execute()
    assert _first_bad(ws) == (1, "modified")


def test_one_workspace_tampering_does_not_affect_another(chain):
    ws, _ = chain
    other, _ = factories.make_workspace("Other", owner_email="boss@other.test")
    E.update(after={"n": 0}).where(_where(ws, 2)).execute()
    assert audit.verify(other)["ok"]
    assert _first_bad(ws) == (2, "modified")


def test_api_and_command_line_name_the_problem(chain, setup, app, monkeypatch):
    import cli
    ws, _ = chain
    monkeypatch.setattr(cli, "make_app", lambda: app)
    ok = CliRunner().invoke(cli.main, ["audit", "verify", "--workspace", "acme"])
    assert ok.exit_code == 0 and ok.output.startswith("ok: ")
    E.delete().where(_where(ws, 5)).execute()
    r = setup.audit_client.get("/api/v1/workspaces/acme/events/verify")
    assert r.json["ok"] is False and r.json["first_bad"]["seq"] == 5
    assert r.json["first_bad"]["problem"] == "deleted"
    bad = CliRunner().invoke(cli.main, ["audit", "verify", "--workspace", "acme"])
    assert bad.exit_code == 1 and "event 5 deleted" in bad.output
    unknown = CliRunner().invoke(cli.main, ["audit", "verify", "--workspace", "nope"])
    assert unknown.exit_code == 1
