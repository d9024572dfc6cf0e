"""Fixtures of the admin API tests: a workspace populated with every kind of caller."""

import copy
import datetime
import types

import pytest

from models.access import Token
from models.db import db, utcnow
from models.directory import Member
from models.services import mutation
from models.services import invitations as invitations_svc
from models.services import tokens as tokens_svc
from tests import factories
from tests.admin_helpers import make_group
from tests.tables import capture, restore
from tests.conftest import AuthClient

ENVS = ["dev", "test", "prod"]


class AnonClient(AuthClient):
    """A test client that sends no Authorization header."""

    def open(self, method, path, json=None, headers=None, **kwargs):
        return self.client.open(path, method=method, json=json, headers=headers or {}, **kwargs)


_worlds = {}  # database URL -> (captured rows, raw tokens, records): built once, restored for each test


def _copy(record):
    """Return a fresh copy of a model instance, so a test changing it cannot leak into the next."""
    clone = type(record)()
    clone.__data__ = copy.deepcopy(record.__data__)
    clone._dirty = set()
    return clone


def _build_world(app):
    with app.app_context(), db.connection_context(), db.atomic():
        ws, owner = factories.make_workspace("Acme", owner_email="owner@acme.test", environments=ENVS)
        operator_role = factories.make_role(ws, "Operator", ["members:read", "members:update"])
        readonly, readonly_person = factories.make_member(ws, "ro@acme.test", {e: "Readonly" for e in ENVS})
        member, member_person = factories.make_member(ws, "member@acme.test", {e: "Member" for e in ENVS})
        noaccess, noaccess_person = factories.make_member(ws, "none@acme.test", {})
        operator, operator_person = factories.make_member(ws, "op@acme.test", {"dev": "Operator"})
        group = make_group(ws, "Engineering", [operator], {"prod": "Readonly"})
        with mutation(ws, factories.CLI) as change:
            invitation = invitations_svc.create_invitation(
                change, ws, "invitee@acme.test", [{"environment_type": "dev", "name": "Member"}], "Ivy")
        with mutation(ws, factories.CLI) as change:
            spare, _ = tokens_svc.create_service_token(change, ws, ["scim"], "spare")
        revoked_raw = factories.make_service_token(ws, ["admin"], "revoked")
        with mutation(ws, factories.CLI) as change:
            tokens_svc.revoke_by_prefix(change, revoked_raw[:12])
        expired_raw = factories.make_personal_token(owner, "expired")
        Token.update(expires_at=utcnow() - datetime.timedelta(seconds=1)).where(
            Token.token_hash == tokens_svc.hash_secret(expired_raw)).execute()
        other_ws, other_owner = factories.make_workspace("Globex", owner_email="owner@globex.test")
        other_member, _ = factories.make_member(other_ws, "someone@globex.test", {"dev": "Member"})
        other_group = make_group(other_ws, "Globex Eng", [other_member])
        other_role = factories.make_role(other_ws, "Globex Role", ["members:read"])
        with mutation(other_ws, factories.CLI) as change:
            other_invitation = invitations_svc.create_invitation(change, other_ws, "x@globex.test", [])
        with mutation(other_ws, factories.CLI) as change:
            other_token, _ = tokens_svc.create_service_token(change, other_ws, ["scim"], "globex")
        raw = {
            "owner": factories.make_personal_token(owner),
            "admin": factories.make_service_token(ws, ["admin"]),
            "scim": factories.make_service_token(ws, ["scim"]),
            "readonly": factories.make_personal_token(readonly_person),
            "member": factories.make_personal_token(member_person),
            "noaccess": factories.make_personal_token(noaccess_person),
            "operator": factories.make_personal_token(operator_person),
            "other_owner": factories.make_personal_token(other_owner),
            "other_admin": factories.make_service_token(other_ws, ["admin"]),
            "revoked": revoked_raw,
            "expired": expired_raw,
            "invalid": "rst_pat_not-a-real-token",
        }
        owner_member = Member.get(Member.workspace == ws.id, Member.is_owner == True)  # noqa: E712
    records = dict(
        ws=ws, owner=owner, owner_member=owner_member, readonly=readonly, member=member, noaccess=noaccess,
        operator=operator, operator_role=operator_role, group=group, invitation=invitation, spare_token=spare,
        other_ws=other_ws, other_member=other_member, other_group=other_group, other_role=other_role,
        other_invitation=other_invitation, other_token=other_token)
    return capture(), raw, records


@pytest.fixture
def world(app, client):
    """Acme (dev, test, prod) with owner, readonly, member, noaccess and operator members, a custom role, a
    group with a grant, a pending invitation, a spare service token; Globex, another workspace; and clients for
    every caller: owner, admin (service), scim, readonly, member, noaccess, operator, anon, invalid, revoked,
    expired, other_owner, other_admin. Built once per database, then restored row by row for each test."""
    key = app.config["DATABASE_URL"]
    if key in _worlds:
        restore(_worlds[key][0])
    else:
        _worlds[key] = _build_world(app)
    _, raw, records = _worlds[key]
    clients = {name: AuthClient(client, token) for name, token in raw.items()}
    clients["anon"] = AnonClient(client, None)
    records = {name: _copy(record) for name, record in records.items()}
    return types.SimpleNamespace(app=app, client=client, slug="acme", base="/api/v1/workspaces/acme",
                                 clients=clients, c=types.SimpleNamespace(**clients), **records)
