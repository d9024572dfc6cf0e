"""Invitations: mailed, throttled per email, listed, revoked, resent, and accepted publicly once."""

import datetime
import re

import pytest
import time_machine

from models.access import Invitation
from models.db import db
from models.directory import Person
from tests import factories
from tests.admin_helpers import assert_error, assert_guarded, snapshot
from tests.conftest import AuthClient

INVITATION_KEYS = {"id", "email", "name", "env_roles", "status", "inviter_id", "created_at", "last_sent_at",
                   "expires_at", "accepted_at"}
ACCEPT = "/api/v1/invitations/accept"


def _later(**delta):
    return time_machine.travel(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**delta),
                               tick=False)


def _token_from(mailbox, email):
    message = mailbox.last_to(email)
    assert message is not None, f"no mail to {email}"
    match = re.search(r"/invitations/accept\?token=([A-Za-z0-9_-]+)", message["body"])
    assert match, message["body"]
    return match.group(1)


def _parse(stamp):
    return datetime.datetime.fromisoformat(stamp)


def _invite(world, mailbox, email="zoe@example.test", env_roles=None, client=None, **extra):
    body = {"email": email, "env_roles": env_roles if env_roles is not None else [
        {"environment_type": "prod", "name": "Readonly"}], **extra}
    r = (client or world.c.owner).post(world.base + "/invitations", json=body)
    assert r.status_code == 201, r.get_json()
    return r.json, _token_from(mailbox, email.lower())


# -- create ----------------------------------------------------------------------------------------------------

def test_invite_mails_a_one_time_link(world, mailbox):
    r = world.c.owner.post(world.base + "/invitations", json={
        "name": "Zoe", "email": " Zoe@Example.TEST ", "env_roles": [{"environment_type": "prod",
                                                                      "name": "readonly"}]})
    assert r.status_code == 201, r.json
    assert set(r.json) == INVITATION_KEYS
    assert (r.json["email"], r.json["name"], r.json["status"]) == ("zoe@example.test", "Zoe", "pending")
    # Environments left out get NoAccess.
    assert r.json["env_roles"] == {"dev": "NoAccess", "test": "NoAccess", "prod": "Readonly"}
    assert r.json["inviter_id"] == world.owner.id and r.json["accepted_at"] is None
    assert _parse(r.json["expires_at"]) - _parse(r.json["created_at"]) == pytest.approx(
        datetime.timedelta(hours=72), abs=datetime.timedelta(seconds=2))
    [message] = mailbox.messages
    assert message["to"] == ["zoe@example.test"]
    assert message["subject"] == "You are invited to Acme on Roster"
    assert "owner@acme.test invited you" in message["body"]
    token = _token_from(mailbox, "zoe@example.test")
    assert f"http://roster.test/invitations/accept?token={token}" in message["body"]
    assert token not in repr(snapshot())  # only its hash is stored


def test_invite_by_a_service_token_and_with_no_roles(world, mailbox):
    body, _ = _invite(world, mailbox, env_roles=[], client=world.c.admin, name="")
    assert body["env_roles"] == {"dev": "NoAccess", "test": "NoAccess", "prod": "NoAccess"}
    assert body["inviter_id"] is None
    assert "An administrator invited you" in mailbox.messages[0]["body"]


def test_invitation_expiry_follows_the_setting(world, mailbox):
    world.c.owner.put(world.base + "/settings", json={"settings": {"invitations.expiry_hours": 2}})
    body, _ = _invite(world, mailbox)
    assert _parse(body["expires_at"]) - _parse(body["created_at"]) == pytest.approx(
        datetime.timedelta(hours=2), abs=datetime.timedelta(seconds=2))


@pytest.mark.parametrize("body, status, message", [
    ({"email": "z@x.test", "env_roles": [{"environment_type": "dev", "name": "Ghost"}]}, 400, "Role Ghost not found"),
    ({"email": "z@x.test", "env_roles": [{"environment_type": "qa", "name": "Admin"}]}, 400,
     "Environment qa not found"),
    ({"email": "z@x.test", "env_roles": [{"environment_type": "dev", "name": "Member"},
                                          {"environment_type": "dev", "name": "Member"}]}, 400,
     "Environment dev listed twice"),
    ({"email": "not-an-email", "env_roles": []}, 400, "Invalid email"),
    ({"email": "two@@x.test"}, 400, "Invalid email"),
    ({"email": "ro@acme.test"}, 409, "ro@acme.test is already a member"),
    ({"email": "RO@acme.test"}, 409, "ro@acme.test is already a member"),
    ({"email": "a" * 65 + "@x.test"}, 400, "Invalid email"),
    ({"email": "a" * 320 + "@x.test"}, 422, None),
    ({"email": "a@" + "\u0130" * 250 + ".test"}, 400, "Invalid email"),
    ({"email": "z@x.test\x00"}, 422, None),
    ({"env_roles": []}, 422, None),
    ({"email": 5}, 422, None),
    ({"email": "z@x.test", "name": "n" * 201}, 422, None),
    ({"email": "z@x.test", "env_roles": "dev"}, 422, None),
    ({"email": "z@x.test", "env_roles": [{"environment_type": "dev"}]}, 422, None),
    ({"email": "z@x.test", "env_roles": [{"environment_type": "dev", "name": "r" * 101}]}, 422, None),
    ({"email": "z@x.test", "role": "Admin"}, 422, None),
])
def test_invite_bad_input_writes_and_mails_nothing(world, mailbox, body, status, message):
    before = snapshot()
    error = assert_error(world.c.owner.post(world.base + "/invitations", json=body), status)
    if message:
        assert error["message"] == message
    assert snapshot() == before
    assert mailbox.messages == []


def test_invite_in_a_disabled_environment(world, mailbox):
    world.c.owner.patch(world.base, json={"environments": ["dev", "test"]})
    error = assert_error(world.c.owner.post(world.base + "/invitations", json={
        "email": "z@x.test", "env_roles": [{"environment_type": "prod", "name": "Member"}]}), 400)
    assert error["message"] == "Environment prod not found"


def test_one_invitation_per_email_and_workspace_per_20_minutes(world, mailbox):
    first, _ = _invite(world, mailbox)
    before = snapshot()
    r = world.c.admin.post(world.base + "/invitations", json={"email": "ZOE@example.test"})
    assert_error(r, 429)
    assert 1190 <= int(r.headers["Retry-After"]) <= 1201
    assert snapshot() == before and len(mailbox.messages) == 1
    # Another workspace may invite the same person.
    assert world.c.other_owner.post("/api/v1/workspaces/globex/invitations",
                                    json={"email": "zoe@example.test"}).status_code == 201
    with _later(minutes=19, seconds=50):
        r = world.c.owner.post(world.base + "/invitations", json={"email": "zoe@example.test"})
        assert_error(r, 429)
        assert 1 <= int(r.headers["Retry-After"]) <= 11
    with _later(minutes=20, seconds=1):
        r = world.c.owner.post(world.base + "/invitations", json={"email": "zoe@example.test"})
        assert r.status_code == 201
    # The new invitation replaces the pending one.
    assert world.c.owner.get(f"{world.base}/invitations/{first['id']}").json["status"] == "revoked"


def test_a_revoked_invitation_still_counts_for_the_throttle(world, mailbox):
    body, _ = _invite(world, mailbox)
    assert world.c.owner.delete(f"{world.base}/invitations/{body['id']}").status_code == 204
    assert_error(world.c.owner.post(world.base + "/invitations", json={"email": "zoe@example.test"}), 429)


def test_invite_rights_are_checked_per_environment_and_role(world, mailbox):
    with world.app.app_context(), db.connection_context():
        factories.make_role(world.ws, "Inviter", ["members:read", "members:invite"])
        _, person = factories.make_member(world.ws, "inviter@acme.test", {"dev": "Inviter"})
        inviter = AuthClient(world.client, factories.make_personal_token(person))
    before = snapshot()
    error = assert_error(inviter.post(world.base + "/invitations", json={
        "email": "z@x.test", "env_roles": [{"environment_type": "prod", "name": "Inviter"}]}), 403)
    assert error["message"] == "Missing privilege members:invite in environment prod"
    error = assert_error(inviter.post(world.base + "/invitations", json={
        "email": "z@x.test", "env_roles": [{"environment_type": "dev", "name": "Admin"}]}), 403)
    assert error["message"].startswith("Cannot grant Admin in environment dev")
    assert snapshot() == before and mailbox.messages == []
    body, _ = _invite(world, mailbox, "z@x.test", [{"environment_type": "dev", "name": "Inviter"}], client=inviter)
    assert body["env_roles"]["dev"] == "Inviter"


def test_an_unreachable_mail_server_is_503_and_writes_nothing(world, mailbox, monkeypatch):
    mailer = world.app.extensions["roster.mailer"]
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setattr(mailer, "port", closed_port)
    before = snapshot()
    error = assert_error(world.c.owner.post(world.base + "/invitations", json={"email": "z@x.test"}), 503)
    assert "mail" in error["message"].lower()
    assert snapshot() == before



def test_a_slow_mail_server_does_not_hold_up_other_writes(world, mailbox, monkeypatch):
    """Mail goes out after the commit: while an invitation waits on SMTP, another write goes through at once
    (on SQLite the write lock would otherwise be held for the whole SMTP exchange)."""
    import socket
    import threading
    import time
    mailer = world.app.extensions["roster.mailer"]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # accepts connections but never greets: the SMTP client waits for its timeout
    monkeypatch.setattr(mailer, "port", silent.getsockname()[1])
    monkeypatch.setattr(mailer, "timeout", 3)
    before = snapshot()
    result = {}

    def invite():
        result["invite"] = world.c.owner.post(world.base + "/invitations", json={"email": "slow@x.test"})
    thread = threading.Thread(target=invite)
    try:
        thread.start()
        time.sleep(0.5)  # the invitation is committed and its mail is waiting on the silent server
        started = time.monotonic()
        other = world.c.admin.post(world.base + "/roles", json={"name": "Auditor", "privileges": ["audit:read"]})
        elapsed = time.monotonic() - started
        thread.join(10)
    finally:
        silent.close()
    assert other.status_code == 201, other.get_json()
    assert elapsed < 1.5, elapsed
    assert result["invite"].status_code == 503
    with db.connection_context():
        assert not Invitation.select().where(Invitation.email == "slow@x.test").exists()
    after = snapshot()
    assert {k: v for k, v in after.items() if k != "role"} == {k: v for k, v in before.items() if k != "role"}


# -- list, read, revoke ----------------------------------------------------------------------------------------

def test_list_and_read_invitations(world, mailbox):
    body, _ = _invite(world, mailbox)
    r = world.c.readonly.get(world.base + "/invitations")
    assert r.status_code == 200
    assert [i["email"] for i in r.json] == ["zoe@example.test", "invitee@acme.test"]
    assert all(set(i) == INVITATION_KEYS for i in r.json)
    one = world.c.member.get(f"{world.base}/invitations/{body['id']}")
    assert one.status_code == 200 and one.json == r.json[0]


@pytest.mark.parametrize("method, suffix, body, write", [
    ("GET", "/invitations", None, False),
    ("GET", "/invitations/{id}", None, False),
    ("POST", "/invitations", {"email": "new@x.test"}, True),
    ("DELETE", "/invitations/{id}", None, True),
    ("POST", "/invitations/{id}/resend", None, True),
])
def test_invitation_endpoints_are_guarded(world, mailbox, method, suffix, body, write):
    assert_guarded(world, method, world.base + suffix.format(id=world.invitation.id), json=body, write=write)
    assert mailbox.messages == []


@pytest.mark.parametrize("invitation_id", ["nope", "0" * 36, "x" * 65, "other"])
def test_unknown_or_foreign_invitation_is_404(world, mailbox, invitation_id):
    if invitation_id == "other":
        invitation_id = world.other_invitation.id
    before = snapshot()
    path = f"{world.base}/invitations/{invitation_id}"
    for client in (world.c.owner, world.c.admin):
        assert_error(client.get(path), 404)
        assert_error(client.delete(path), 404)
        assert_error(client.post(path + "/resend"), 404)
    assert snapshot() == before and mailbox.messages == []


def test_revoke(world, mailbox):
    body, token = _invite(world, mailbox)
    path = f"{world.base}/invitations/{body['id']}"
    assert world.c.admin.delete(path).status_code == 204
    assert world.c.owner.get(path).json["status"] == "revoked"
    assert_error(world.client.post(ACCEPT, json={"token": token}), 404)
    before = snapshot()
    assert_error(world.c.owner.delete(path), 409)
    assert_error(world.c.owner.post(path + "/resend"), 409)
    assert snapshot() == before


def test_resend_mails_a_fresh_link(world, mailbox):
    body, old_token = _invite(world, mailbox)
    path = f"{world.base}/invitations/{body['id']}/resend"
    r = world.c.owner.post(path)
    assert_error(r, 429)
    assert int(r.headers["Retry-After"]) > 1000
    with _later(minutes=21):
        r = world.c.owner.post(path)
        assert r.status_code == 200, r.json
        assert set(r.json) == INVITATION_KEYS
        assert r.json["last_sent_at"] > body["last_sent_at"] and r.json["expires_at"] > body["expires_at"]
        new_token = _token_from(mailbox, "zoe@example.test")
        assert new_token != old_token and len(mailbox.messages) == 2
        assert_error(world.client.post(ACCEPT, json={"token": old_token}), 404)
        assert world.client.post(ACCEPT, json={"token": new_token}).status_code == 201


# -- accept ----------------------------------------------------------------------------------------------------

def test_accept_creates_the_member_with_the_invited_roles(world, mailbox):
    body, token = _invite(world, mailbox, "Zoe@Example.test", [{"environment_type": "dev", "name": "Operator"},
                                                               {"environment_type": "prod", "name": "Member"}],
                          name="Zoe Z")
    r = world.client.post(ACCEPT, json={"token": token})
    assert r.status_code == 201, r.json
    assert r.json["email"] == "zoe@example.test" and r.json["user_name"] == "zoe@example.test"
    assert r.json["display_name"] == "Zoe Z" and r.json["status"] == "active" and r.json["is_owner"] is False
    assert r.json["roles"] == {"dev": "Operator", "test": "NoAccess", "prod": "Member"}
    assert r.json["groups"] == []
    member = world.c.owner.get(f"{world.base}/members/{r.json['id']}").json
    assert member["roles"] == r.json["roles"]
    invitation = world.c.owner.get(f"{world.base}/invitations/{body['id']}").json
    assert invitation["status"] == "accepted" and invitation["accepted_at"] is not None
    with world.app.app_context(), db.connection_context():
        assert Person.get(Person.email == "zoe@example.test").name == "Zoe Z"
    # Single use.
    before = snapshot()
    error = assert_error(world.client.post(ACCEPT, json={"token": token}), 409)
    assert error["message"] == "The invitation was already accepted"
    assert snapshot() == before


def test_accept_joins_an_existing_person(world, mailbox):
    _, token = _invite(world, mailbox, "someone@globex.test", [{"environment_type": "dev", "name": "Member"}])
    r = world.client.post(ACCEPT, json={"token": token})
    assert r.status_code == 201
    with world.app.app_context(), db.connection_context():
        assert Person.select().where(Person.email == "someone@globex.test").count() == 1


def test_an_expired_invitation_cannot_be_accepted(world, mailbox):
    _, token = _invite(world, mailbox)
    before = snapshot()
    with _later(hours=72, seconds=1):
        error = assert_error(world.client.post(ACCEPT, json={"token": token}), 400)
    assert error["message"] == "The invitation has expired; ask for a new one"
    assert snapshot() == before


def test_accept_refused_when_already_a_member(world, mailbox):
    body, token = _invite(world, mailbox)
    with world.app.app_context(), db.connection_context():
        factories.make_member(world.ws, "zoe@example.test", {"dev": "Member"})
    before = snapshot()
    assert_error(world.client.post(ACCEPT, json={"token": token}), 409)
    assert snapshot() == before
    assert world.c.owner.get(f"{world.base}/invitations/{body['id']}").json["status"] == "pending"


@pytest.mark.parametrize("body, status", [
    ({"token": "unknown"}, 404), ({"token": "x" * 200}, 404), ({"token": "x" * 201}, 422), ({"token": ""}, 422),
    ({"token": 5}, 422), ({}, 422), (None, 422), ({"token": "a\x00"}, 422),
])
def test_accept_bad_input(world, body, status):
    before = snapshot()
    assert_error(world.client.post(ACCEPT, json=body), status)
    assert snapshot() == before


def test_accept_is_public_but_tokens_do_not_change_it(world, mailbox):
    _, token = _invite(world, mailbox)
    r = world.c.other_admin.post(ACCEPT, json={"token": token})
    assert r.status_code == 201 and r.json["email"] == "zoe@example.test"
    with world.app.app_context(), db.connection_context():
        assert Invitation.get(Invitation.email == "zoe@example.test").status == "accepted"
