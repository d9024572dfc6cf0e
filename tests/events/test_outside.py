"""What the log keeps about a workspace from outside it: the signed record of its deletion, and refused tokens
naming it, counted per token prefix and minute (docs/audit.md)."""

import datetime
import json
import re

import time_machine
from click.testing import CliRunner

from models.access import Token
from models.db import utcnow
from models.events import AuthRefusal, DeletedWorkspace, ProvisioningChain, SignedCheckpoint
from models.services import audit
from models.services import tokens as tokens_svc
from tests import factories
from tests.conftest import AuthClient

from .conftest import connected, rows

MEMBERS = "/api/v1/workspaces/acme/members"


def _code(mailbox):
    return re.search(r"Confirmation code: (\d{8})", mailbox.last_to("owner@acme.test")["body"]).group(1)


def test_deleting_a_workspace_leaves_a_signed_record_the_operator_lists(setup, app, mailbox, monkeypatch):
    import cli
    ws = setup.workspace
    assert setup.owner_client.post("/api/v1/workspaces/acme/deletion-code").status_code == 202
    with connected():
        head = ProvisioningChain.get(ProvisioningChain.workspace_id == ws.id)  # the code request is an event
    r = setup.owner_client.delete("/api/v1/workspaces/acme", json={"code": _code(mailbox)})
    assert r.status_code == 204, r.get_json()
    with connected():
        assert not SignedCheckpoint.select().where(SignedCheckpoint.workspace_id == ws.id).exists()
        [record] = audit.deleted_workspaces()
    st = record["statement"]
    assert record["signature_ok"] is True and record["key_id"] == audit.settings().key_id
    assert (st["workspace_id"], st["slug"], st["name"]) == (ws.id, "acme", "Acme")
    assert st["actor"]["kind"] == "personal" and st["actor"]["email"] == "owner@acme.test"
    assert st["counts"]["members"] == 1 and st["counts"]["tokens"] == 3 and st["counts"]["events"] == head.last_seq
    assert st["final_head"] == {"seq": head.last_seq, "hash": head.last_hash}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", st["deleted_at"])
    monkeypatch.setattr(cli, "make_app", lambda: app)
    out = CliRunner().invoke(cli.main, ["audit", "deleted"])
    assert out.exit_code == 0, out.output
    assert f"acme ({ws.id}) by owner@acme.test" in out.output and "signature ok" in out.output
    assert f"final head {head.last_seq}:{head.last_hash}" in out.output
    # A database writer who edits the record (fewer members, someone else) breaks its signature.
    with connected():
        forged = dict(st, actor=dict(st["actor"], email="nobody@acme.test"))
        DeletedWorkspace.update(statement=json.dumps(forged, sort_keys=True, separators=(",", ":"))).execute()
    tampered = CliRunner().invoke(cli.main, ["audit", "deleted", "--json"])
    assert json.loads(tampered.output)["signature_ok"] is False
    assert "NOT VERIFIED" in CliRunner().invoke(cli.main, ["audit", "deleted"]).output


def _refused(workspace):
    return [r for r in rows(workspace) if r["operation"] == "auth.refused"]


def test_a_revoked_service_token_is_counted_per_prefix_and_minute(setup, client):
    with connected():
        token = Token.get(Token.token_hash == tokens_svc.hash_secret(setup.scim_token))
        tokens_svc.revoke_token(setup.workspace, factories.CLI, token.id)
    start = utcnow().replace(second=5, microsecond=0) + datetime.timedelta(minutes=1)
    with time_machine.travel(start, tick=False):
        for _ in range(50):  # a flood within one minute
            assert setup.scim_client.get("/scim/v2/Users").status_code == 401
        assert _refused(setup.workspace) == []  # counted, not yet written: the minute is not over
        with connected():
            assert AuthRefusal.get(AuthRefusal.workspace_id == setup.workspace.id).count == 50
    with time_machine.travel(start + datetime.timedelta(minutes=1), tick=False):
        assert setup.scim_client.post("/scim/v2/Users", json={}).status_code == 401
    [event] = _refused(setup.workspace)
    assert event["after"] == {"token_prefix": token.prefix, "reason": "revoked", "count": 50,
                              "minute": (start.replace(second=0)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    assert (event["target_type"], event["target_id"], event["target_name"]) == ("token", token.id, token.prefix)
    assert event["status"] == 401 and event["client_ip"] == "127.0.0.1"
    with connected():
        assert AuthRefusal.get(AuthRefusal.workspace_id == setup.workspace.id).count == 1
        # The next signed checkpoint writes the finished minute too.
        with time_machine.travel(start + datetime.timedelta(minutes=2), tick=False):
            audit.sign_now(setup.workspace)
        assert [e["after"]["count"] for e in _refused(setup.workspace)] == [50, 1]
        assert audit.verify(setup.workspace)["ok"] is True


def test_wrong_secrets_behind_a_known_prefix_and_personal_tokens_on_a_workspace_path(setup, client):
    start = utcnow().replace(second=5, microsecond=0) + datetime.timedelta(minutes=1)
    prefix = setup.scim_token[:12]
    guess = AuthClient(client, prefix + "x" * 40)
    with connected():
        owner_token = Token.get(Token.person == setup.owner.id)
        owner_token.revoked_at = utcnow()
        owner_token.save()
    with time_machine.travel(start, tick=False):
        assert guess.get("/scim/v2/Users").status_code == 401
        assert setup.owner_client.get(MEMBERS).status_code == 401
        assert setup.owner_client.get("/api/v1/workspaces").status_code == 401  # names no workspace
        stranger = AuthClient(client, "rst_svc_" + "q" * 43)  # a prefix no token has: a stranger
        assert stranger.get(MEMBERS).status_code == 401
        assert AuthClient(client, "garbage").get(MEMBERS).status_code == 401
    with time_machine.travel(start + datetime.timedelta(minutes=1), tick=False), connected():
        audit.sign_now(setup.workspace)
    found = sorted((e["after"]["reason"], e["after"]["token_prefix"], e["after"]["count"])
                   for e in _refused(setup.workspace))
    assert found == sorted([("wrong_secret", prefix, 1), ("revoked", owner_token.prefix, 1)])


def test_a_personal_token_of_a_stranger_writes_nothing_into_a_workspace(setup, client):
    with connected():
        other, boss = factories.make_workspace("Other", owner_email="boss@other.test")
        raw = factories.make_personal_token(boss)
        Token.update(revoked_at=utcnow()).where(Token.person == boss.id).execute()
    assert AuthClient(client, raw).get(MEMBERS).status_code == 401
    with connected():
        assert not AuthRefusal.select().exists()
