"""Signed checkpoints: what a database writer without the signing key can no longer do unnoticed, heads an auditor
keeps elsewhere, key rotation, the checkpoint stream, and the operator's retention floor (docs/audit.md)."""

import base64
import datetime
import json
import os

import pytest
import time_machine
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from models.db import utcnow
from models.events import ProvisioningChain, ProvisioningEvent as E, SignedCheckpoint, event_hash
from models.services import audit, mutation
from models.services import workspaces as ws_svc
from models.services.audit import signing
from tests import factories

from .conftest import connected, rows

VERIFY = "/api/v1/workspaces/acme/events/verify"
HEAD = "/api/v1/workspaces/acme/events/head"


@pytest.fixture
def keys(tmp_path):
    """Write signing keys on demand; restore the app's audit settings after the test."""
    made = {}

    def make(name):
        path = tmp_path / f"{name}.pem"
        key = signing.write_private_key(str(path))
        (tmp_path / "public").mkdir(exist_ok=True)
        (tmp_path / "public" / f"{name}.pem").write_bytes(signing.public_key_pem(key.public_key()))
        made[name] = str(path)
        return str(path)

    make.dir = tmp_path
    previous = signing.settings()
    yield make
    signing.use(previous)


def _events(workspace, count, start=0):
    for i in range(start, start + count):
        with mutation(workspace, factories.CLI) as change:
            change.record("user.updated", "user", f"u{i}", f"user{i}@acme.test", before={"n": i}, after={"n": i + 1})


@pytest.fixture
def signed(setup, app):
    """The setup workspace with ten more events and its head signed on demand; returns (workspace, head seq)."""
    with app.app_context(), connected():
        _events(setup.workspace, 10)
        audit.sign_now(setup.workspace)
    return setup.workspace, len(rows(setup.workspace))


def _where(ws, seq):
    return (E.workspace_id == ws.id) & (E.seq == seq)


def _problem(ws, expected_head=None):
    result = audit.verify(ws, expected_head)
    assert not result["ok"], result
    return result["first_bad"]["seq"], result["first_bad"]["problem"], result["first_bad"]["detail"]


def _set_head(ws, seq):
    last = E.select(E.hash).where(_where(ws, seq)).scalar()
    ProvisioningChain.update(last_seq=seq, last_hash=last).where(ProvisioningChain.workspace_id == ws.id).execute()


def _rehash_from(ws, start, n):
    """Recompute every hash from `start` to `n` and move the head: a chain consistent in itself."""
    prev = E.select(E.prev_hash).where(_where(ws, start)).scalar()
    for seq in range(start, n + 1):
        row = E.select().where(_where(ws, seq)).dicts().get()
        new = event_hash(row, prev)
        E.update(prev_hash=prev, hash=new).where(_where(ws, seq)).execute()
        prev = new
    ProvisioningChain.update(last_hash=prev).where(ProvisioningChain.workspace_id == ws.id).execute()


def test_an_intact_signed_log_verifies_on_the_api_and_the_command_line(signed, setup, app, monkeypatch):
    import cli
    ws, n = signed
    r = setup.audit_client.get(VERIFY)
    assert r.status_code == 200 and r.json["ok"] is True and r.json["checked"] == n
    assert r.json["signed_checkpoint"]["seq"] == n and r.json["signed_checkpoint"]["signature_ok"] is True
    monkeypatch.setattr(cli, "make_app", lambda: app)
    out = CliRunner().invoke(cli.main, ["audit", "verify", "--workspace", "acme"])
    assert out.exit_code == 0 and f"signed checkpoint at event {n}" in out.output


def test_the_last_three_events_deleted_and_the_head_rolled_back_are_reported(signed):
    ws, n = signed
    with connected():
        E.delete().where(E.workspace_id == ws.id, E.seq > n - 3).execute()
        _set_head(ws, n - 3)
        assert audit.verify.__module__.endswith("checkpoints")
        from models.services.audit.chain import verify as chain_only
        assert chain_only(ws)["ok"] is True  # the chain alone is consistent: this is what signing adds
        seq, problem, detail = _problem(ws)
    assert (seq, problem) == (n - 2, "deleted")
    assert f"events {n - 2} to {n} are missing" in detail and "signed" in detail


def test_a_rehashed_chain_no_longer_matches_its_signed_head(signed):
    ws, n = signed
    with connected():
        E.update(after={"n": 999}).where(_where(ws, 3)).execute()
        _rehash_from(ws, 3, n)
        seq, problem, detail = _problem(ws)
    assert (seq, problem) == (n, "modified") and "rewritten" in detail


def test_a_rehashed_chain_with_rewritten_checkpoints_fails_the_signature(signed):
    """The writer also rewrites the signed checkpoints to the new hashes: without the key, the signature fails."""
    ws, n = signed
    with connected():
        E.update(after={"n": 999}).where(_where(ws, 3)).execute()
        _rehash_from(ws, 3, n)
        new_head = ProvisioningChain.get(ProvisioningChain.workspace_id == ws.id).last_hash
        for row in SignedCheckpoint.select().where(SignedCheckpoint.workspace_id == ws.id):
            statement = json.loads(row.statement)
            new_hash = E.select(E.hash).where(_where(ws, row.seq)).scalar() or new_head
            statement["hash"] = new_hash
            SignedCheckpoint.update(hash=new_hash, statement=json.dumps(statement, sort_keys=True,
                                                                        separators=(",", ":"))) \
                .where(SignedCheckpoint.id == row.id).execute()
        seq, problem, detail = _problem(ws)
    assert (seq, problem) == (n, "signature") and "does not verify" in detail


def test_a_checkpoint_signed_with_a_key_roster_does_not_know_is_refused(signed, keys):
    """A writer who forges checkpoints with a key of their own gets `signature`: the key id is unknown."""
    ws, n = signed
    app_settings = signing.settings()
    signing.configure(keys("mallory"))
    with connected():
        E.delete().where(E.workspace_id == ws.id, E.seq > n - 3).execute()
        _set_head(ws, n - 3)
        SignedCheckpoint.delete().where(SignedCheckpoint.workspace_id == ws.id).execute()
        forged = audit.sign_now(ws)
        signing.use(app_settings)
        seq, problem, detail = _problem(ws)
    assert (seq, problem) == (forged["seq"], "signature") and "not among the verification keys" in detail


def test_a_saved_head_is_extended_then_reported_when_the_log_is_rewritten_or_cut(signed, setup):
    ws, n = signed
    saved = setup.audit_client.get(HEAD).json["signed"]
    expected = f"{saved['seq']}:{saved['hash']}"
    with connected():
        _events(ws, 2, start=50)
    ok = setup.audit_client.get(VERIFY, query_string={"expected_head": expected}).json
    assert ok["ok"] is True and ok["expected_head"]["extended"] is True
    with connected():
        E.update(target_name="mallory").where(_where(ws, 2)).execute()
        _rehash_from(ws, 2, n + 2)
        SignedCheckpoint.delete().where(SignedCheckpoint.workspace_id == ws.id).execute()  # hide the signed ones
        assert audit.verify(ws)["ok"] is True  # nothing left in the database to compare with
    bad = setup.audit_client.get(VERIFY, query_string={"expected_head": expected}).json
    assert bad["ok"] is False and bad["first_bad"]["problem"] == "diverged"
    assert bad["expected_head"]["extended"] is False and bad["first_bad"]["seq"] == n
    with connected():
        E.delete().where(E.workspace_id == ws.id, E.seq > n - 3).execute()
        _set_head(ws, n - 3)
    cut = setup.audit_client.get(VERIFY, query_string={"expected_head": expected}).json
    assert (cut["ok"], cut["first_bad"]["problem"]) == (False, "deleted")
    assert "cut short" in cut["expected_head"]["detail"]


def test_expected_head_on_the_command_line_and_malformed_heads(signed, setup, app, monkeypatch):
    import cli
    ws, n = signed
    monkeypatch.setattr(cli, "make_app", lambda: app)
    saved = setup.audit_client.get(HEAD).json["signed"]
    good = CliRunner().invoke(cli.main, ["audit", "verify", "--workspace", "acme", "--expected-head",
                                         f"{saved['seq']}:{saved['hash']}"])
    assert good.exit_code == 0 and f"extends the saved head {n}" in good.output
    wrong = CliRunner().invoke(cli.main, ["audit", "verify", "--workspace", "acme", "--expected-head",
                                          f"{saved['seq']}:{'0' * 64}"])
    assert wrong.exit_code == 1 and "diverged" in wrong.output
    garbled = CliRunner().invoke(cli.main, ["audit", "verify", "--workspace", "acme", "--expected-head", "x"])
    assert garbled.exit_code == 1 and "expected_head" in garbled.output
    for value in ("12", "1:abc", "-1:" + "0" * 64, "1:" + "g" * 64):
        r = setup.audit_client.get(VERIFY, query_string={"expected_head": value})
        assert r.status_code == 400 and "expected_head" in r.json["errors"], value


def test_the_head_is_signed_with_a_key_an_auditor_can_check_alone(signed, setup, app):
    ws, n = signed
    r = setup.audit_client.get(HEAD)
    assert r.status_code == 200
    doc = r.json["signed"]
    assert (doc["seq"], doc["workspace_id"], doc["reason"]) == (n, ws.id, "demand")
    assert r.json["current"] == {"seq": n, "hash": doc["hash"]}
    statement = json.loads(doc["statement"])
    assert statement == {"type": "roster.audit.checkpoint", "workspace_id": ws.id, "seq": n, "hash": doc["hash"],
                         "time": doc["time"], "reason": "demand", "key_id": doc["key_id"]}
    with open(app.config["AUDIT_SIGNING_KEY"], "rb") as source:
        public = serialization.load_pem_private_key(source.read(), None).public_key()
    public.verify(base64.b64decode(doc["signature"]), doc["statement"].encode())  # raises when forged
    assert doc["key_id"] == signing.key_id(public) == r.json["key_id"]


def test_heads_are_signed_every_n_events_and_every_t_minutes(setup, app, keys):
    signing.configure(keys("interval"), every_events=4, every_minutes=10)
    ws = setup.workspace
    with connected():
        start = ProvisioningChain.get(ProvisioningChain.workspace_id == ws.id)
        ProvisioningChain.update(signed_seq=start.last_seq, signed_at=utcnow()).where(
            ProvisioningChain.workspace_id == ws.id).execute()
        _events(ws, 9)
        seqs = [c.seq - start.last_seq for c in SignedCheckpoint.select().where(
            SignedCheckpoint.workspace_id == ws.id, SignedCheckpoint.seq > start.last_seq).order_by(
            SignedCheckpoint.seq)]
        assert seqs == [4, 8]
        with time_machine.travel(utcnow() + datetime.timedelta(minutes=11)):
            _events(ws, 1, start=100)
        newest = audit.checkpoints.latest_signed(ws.id)
        assert newest.seq == start.last_seq + 10 and newest.reason == "interval"
        assert audit.verify(ws)["ok"] is True


def test_old_checkpoints_verify_with_the_old_public_key_after_a_rotation(setup, app, keys):
    old = keys("2026")
    signing.configure(old)
    ws = setup.workspace
    with connected():
        _events(ws, 3)
        first = audit.sign_now(ws)
        new = keys("2027")
        os.remove(old)  # the old private key is gone; its public half stays for verification
        signing.configure(new, verify_keys=str(keys.dir / "public"))
        result = audit.verify(ws)
        assert result["ok"] is True and result["signed_checkpoint"]["key_id"] == first["key_id"]
        # Without the old public key, the old checkpoint can no longer be told from a forgery.
        signing.configure(new)
        seq, problem, detail = _problem(ws)
        assert (problem, first["key_id"] in detail) == ("signature", True)
        _events(ws, 1, start=10)
        second = audit.sign_now(ws)
        assert second["key_id"] != first["key_id"] and audit.verify(ws)["ok"] is True


def test_checkpoints_are_streamed_to_the_operators_file_once_committed(setup, app, keys):
    stream = keys.dir / "checkpoints.jsonl"
    signing.configure(keys("stream"), every_events=2, checkpoint_file=str(stream))
    ws = setup.workspace
    with connected():
        ProvisioningChain.update(signed_seq=ProvisioningChain.last_seq, signed_at=utcnow()).where(
            ProvisioningChain.workspace_id == ws.id).execute()
        with pytest.raises(RuntimeError):
            with mutation(ws, factories.CLI) as change:
                change.record("user.updated", "user", "x", "x")
                change.record("user.updated", "user", "y", "y")
                from models.services.audit.record import record_change
                record_change(change)  # the checkpoint is written, then the transaction rolls back
                change.events.clear()
                raise RuntimeError("boom")
        assert not stream.exists() or stream.read_text() == ""
        _events(ws, 2)
        audit.sign_now(ws)
    lines = [json.loads(line) for line in stream.read_text().splitlines()]
    assert [line["reason"] for line in lines] == ["interval", "demand"]
    stored = SignedCheckpoint.select().where(SignedCheckpoint.workspace_id == ws.id).order_by(
        SignedCheckpoint.id.desc()).limit(2)
    with connected():
        assert sorted(c.signature for c in stored) == sorted(line["signature"] for line in lines)


def test_signing_on_demand_needs_a_key(setup, app, keys, monkeypatch):
    r = setup.audit_client.post("/api/v1/workspaces/acme/events/checkpoints")
    assert r.status_code == 201 and r.json["reason"] == "demand"
    monkeypatch.setitem(app.extensions, "roster.audit", signing.Settings())
    r = setup.audit_client.post("/api/v1/workspaces/acme/events/checkpoints")
    assert r.status_code == 409 and "AUDIT_SIGNING_KEY" in r.json["message"]


def test_the_command_line_signs_every_moved_head(setup, app, monkeypatch):
    import cli
    monkeypatch.setattr(cli, "make_app", lambda: app)
    with connected():
        other, _ = factories.make_workspace("Other", owner_email="boss@other.test")
        _events(setup.workspace, 1)
    out = CliRunner().invoke(cli.main, ["audit", "checkpoint"])
    # A workspace's first event is signed at once, so Other (one event) has not moved since.
    assert out.exit_code == 0 and "acme: signed the head" in out.output and "other" not in out.output
    again = CliRunner().invoke(cli.main, ["audit", "checkpoint"])
    assert again.exit_code == 0 and again.output == ""
    head = CliRunner().invoke(cli.main, ["audit", "head", "--workspace", "acme"])
    assert json.loads(head.output)["signed"]["reason"] == "interval"


# -- retention floor ----------------------------------------------------------------------------------------------

def test_retention_below_the_operators_floor_is_refused(setup):
    url = "/api/v1/workspaces/acme/settings"
    r = setup.owner_client.put(url, json={"settings": {"audit.retention_days": 1}})
    assert r.status_code == 400
    assert "365" in r.json["errors"]["audit.retention_days"][0]
    assert "AUDIT_MIN_RETENTION_DAYS" in r.json["errors"]["audit.retention_days"][0]
    for days in (0, 365, 1000):
        assert setup.owner_client.put(url, json={"settings": {"audit.retention_days": days}}).status_code == 200
    create = setup.owner_client.post("/api/v1/workspaces", json={"name": "Short", "settings": {
        "audit.retention_days": 30}})
    assert create.status_code == 400 and "audit.retention_days" in create.json["errors"]


def test_a_setting_stored_below_a_raised_floor_prunes_no_more_than_the_floor(setup, keys):
    with connected():
        with time_machine.travel(utcnow() - datetime.timedelta(days=100), tick=True):
            _events(setup.workspace, 3)
        # Stored before the operator raised the floor (written directly: the API refuses it now).
        ws = ws_svc.find_workspace("acme")
        ws.settings = dict(ws.settings, **{"audit.retention_days": 30})
        ws.save()
        result = audit.prune(ws, factories.CLI)
        assert (result["pruned"], result["retention_days"]) == (0, 365)


def test_a_prune_leaves_a_signed_checkpoint_of_what_it_removed(setup):
    with connected():
        with time_machine.travel(utcnow() - datetime.timedelta(days=400), tick=True):
            _events(setup.workspace, 3)
        ws_svc.replace_settings(setup.workspace, factories.CLI, {"audit.retention_days": 365})
        ws = ws_svc.find_workspace("acme")
        result = audit.prune(ws, factories.CLI)
        pruned = SignedCheckpoint.get(SignedCheckpoint.workspace_id == ws.id, SignedCheckpoint.reason == "prune")
        statement = json.loads(pruned.statement)
        assert statement["seq"] == result["through_seq"]
        assert statement["pruned"] == {"count": result["pruned"], "checkpoint_hash": result["checkpoint_hash"],
                                       "older_than": statement["pruned"]["older_than"]}
        newest = audit.checkpoints.latest_signed(ws.id)
        assert newest.seq == rows(ws)[-1]["seq"] and rows(ws)[-1]["operation"] == "audit.pruned"
        assert audit.verify(ws)["ok"] is True


def test_the_signing_key_is_required_outside_tests_and_read_strictly(monkeypatch, tmp_path):
    import config
    monkeypatch.delenv("AUDIT_SIGNING_KEY", raising=False)
    with pytest.raises(RuntimeError, match="AUDIT_SIGNING_KEY is not set"):
        config.load(str(tmp_path), {"SECRET_KEY": "x"})
    assert config.load(str(tmp_path), {"SECRET_KEY": "x", "AUDIT_SIGNING_OPTIONAL": True})["AUDIT_SIGNING_KEY"] == ""
    monkeypatch.setenv("AUDIT_SIGNING_KEY", str(tmp_path / "k.pem"))
    monkeypatch.setenv("AUDIT_MIN_RETENTION_DAYS", "730")
    loaded = config.load(str(tmp_path), {"SECRET_KEY": "x"})
    assert (loaded["AUDIT_SIGNING_KEY"], loaded["AUDIT_MIN_RETENTION_DAYS"]) == (str(tmp_path / "k.pem"), 730)
    (tmp_path / "k.pem").write_text("not a key")
    with pytest.raises(signing.AuditConfigError, match="k.pem: cannot read") as error:
        signing.load_private_key(str(tmp_path / "k.pem"))
    assert "not a key" not in str(error.value)
    with pytest.raises(signing.AuditConfigError, match="AUDIT_VERIFY_KEYS"):
        signing.load_public_keys(str(tmp_path / "k.pem"))


def test_keygen_writes_a_private_key_once_and_its_public_half(tmp_path):
    import cli
    path = tmp_path / "audit.pem"
    out = CliRunner().invoke(cli.main, ["audit", "keygen", str(path)])
    assert out.exit_code == 0, out.output
    key = signing.load_private_key(str(path))
    assert out.output.strip() == signing.key_id(key.public_key()) and (path.stat().st_mode & 0o777) == 0o600
    assert list(signing.load_public_keys(str(path) + ".pub")) == [out.output.strip()]
    again = CliRunner().invoke(cli.main, ["audit", "keygen", str(path)])
    assert again.exit_code == 1 and "never overwritten" in again.output


def test_checkpoints_are_sent_to_the_operators_syslog_receiver(setup, app, keys):
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        port = receiver.getsockname()[1]
        signing.configure(keys("syslog"), checkpoint_syslog=f"127.0.0.1:{port}")
        with connected():
            doc = audit.sign_now(setup.workspace)
        message = receiver.recv(65536).decode()
    header, _, body = message.partition(" checkpoint - ")
    assert header.startswith("<85>1 ") and " roster " in header  # authpriv.notice, RFC 5424
    assert json.loads(body) == doc
    for bad in ("nohost", "host:0", "host:99999", ":514"):
        with pytest.raises(signing.AuditConfigError, match="AUDIT_CHECKPOINT_SYSLOG"):
            signing.syslog_address(bad)
    assert signing.syslog_address("[::1]:514") == ("::1", 514)
