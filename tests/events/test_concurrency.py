"""Concurrent writers on separate connections: seqs stay gap-free and ordered, and the chain verifies."""

import threading

from models.db import db
from models.events import ProvisioningEvent as E
from models.services import Actor, audit
from models.services import roles as roles_svc
from models.services.audit import append_events

from .conftest import connected, rows

THREADS = 8
PER_THREAD = 12


def _run_threads(target):
    barrier = threading.Barrier(THREADS)
    errors = []

    def worker(n):
        try:
            db.connect(reuse_if_open=True)  # this thread's own connection
            barrier.wait()
            target(n)
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            if not db.is_closed():
                db.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


def test_concurrent_mutations_get_gap_free_ordered_seqs(setup, app):
    before = len(rows(setup.workspace))

    def work(n):
        actor = Actor(kind="cli", token_label=f"thread-{n}")
        with app.app_context():
            for i in range(PER_THREAD):
                roles_svc.create_role(setup.workspace, actor, f"Role {n}-{i}", ["members:read"])

    _run_threads(work)
    events = rows(setup.workspace)
    assert [e["seq"] for e in events] == list(range(1, before + THREADS * PER_THREAD + 1))
    created = [e for e in events if e["operation"] == "role.created"]
    assert len(created) == THREADS * PER_THREAD
    assert len({e["target_name"] for e in created}) == THREADS * PER_THREAD
    assert all(a["time"] <= b["time"] for a, b in zip(events, events[1:]))
    for n in range(THREADS):  # each writer's own events keep their order
        mine = [int(e["target_name"].split("-")[1]) for e in created
                if e["actor_token_label"] == f"thread-{n}"]
        assert mine == list(range(PER_THREAD))
    with connected():
        result = audit.verify(setup.workspace)
        assert (result["ok"], result["checked"], result["first_bad"]) == (True, len(events), None)
        assert result["signed_checkpoint"]["signature_ok"] is True


def test_concurrent_first_events_create_one_chain_head(app):
    workspace_id = "00000000-0000-4000-8000-00000000c0de"

    def work(n):
        for i in range(3):
            with db.atomic():
                append_events(workspace_id, [{"actor_kind": "cli", "operation": "user.updated",
                                              "target_type": "user", "target_id": f"{n}-{i}", "status": 200}])

    _run_threads(work)
    with connected():
        seqs = [s for (s,) in E.select(E.seq).where(E.workspace_id == workspace_id).order_by(E.seq).tuples()]

        class Ref:
            id = workspace_id
        assert seqs == list(range(1, THREADS * 3 + 1))
        assert audit.verify(Ref)["ok"]
