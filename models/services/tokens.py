"""Bearer tokens: generated with a recognisable prefix, shown once, stored only as a SHA-256 hash."""

import datetime
import hashlib
import hmac
import secrets

from flask import current_app

from ..access import SCOPES, Token
from ..directory import Member, Person
from ..workspace import Workspace
from ..db import column_list, db, hydrate, utcnow
from . import Actor, InvalidError, NotFoundError, mutation
from .audit.refusals import record_auth_refusal
from .authz import SCOPE_GRANTS

PREFIX = {"service": "rst_svc_", "personal": "rst_pat_"}
# last_used_at is refreshed at most this often, so authenticating is not a write per request.
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)
MAX_LIFETIME_DAYS = 3650


def hash_secret(raw):
    """Return the hex SHA-256 of a secret (tokens carry 256 bits of randomness, so no slow hash is needed)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def hash_code(scope, code):
    """Return the keyed hash of a short one-time code (6-8 digits) for `scope` (its purpose and owner).

    A plain SHA-256 of a short code falls to brute force from a leaked table; keyed with SECRET_KEY it does not.
    Tokens are long and random, and keep hash_secret."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{scope}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_raw(kind):
    return PREFIX[kind] + secrets.token_urlsafe(32)


def _expiry(expires_in_days):
    if expires_in_days is None:
        return None
    if not isinstance(expires_in_days, int) or not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
        raise InvalidError("Invalid expiry", errors={"expires_in_days": [f"Must be 1 to {MAX_LIFETIME_DAYS}"]})
    return utcnow() + datetime.timedelta(days=expires_in_days)


def create_service_token(workspace, actor, scopes, label="", expires_in_days=None, access=None):
    """Create a workspace service token for `actor`; return (token, raw secret shown once)."""
    with mutation(workspace, actor, "token.created") as change:
        return issue_service_token(change, workspace, scopes, label, expires_in_days, actor.person_id, access)


def issue_service_token(change, workspace, scopes, label="", expires_in_days=None, created_by=None, access=None):
    """The step of create_service_token, inside the caller's mutation."""
    scopes = sorted(set(scopes or []))
    bad = [s for s in scopes if s not in SCOPES]
    if not scopes or bad:
        raise InvalidError("Invalid scopes", errors={"scopes": [f"Choose from {', '.join(SCOPES)}"]})
    if access is not None:
        for scope in scopes:
            access.require_everywhere(SCOPE_GRANTS[scope], f"Cannot create a token with scope {scope}")
    raw = _new_raw("service")
    token = Token.create(kind="service", workspace=workspace.id, scopes=scopes, label=label or "",
                         prefix=raw[:12], token_hash=hash_secret(raw), created_by=created_by,
                         expires_at=_expiry(expires_in_days))
    change.record("token.created", "token", token.id, token.label,
                  after={"kind": "service", "scopes": scopes, "label": token.label, "prefix": token.prefix})
    return token, raw


def create_personal_token(actor, person, label="", expires_in_days=None):
    """Create a personal token acting as `person`; return (token, raw secret shown once)."""
    with mutation(None, actor, "token.created") as change:
        return issue_personal_token(change, person, label, expires_in_days)


def issue_personal_token(change, person, label="", expires_in_days=None):
    """The step of create_personal_token, inside the caller's mutation."""
    raw = _new_raw("personal")
    token = Token.create(kind="personal", person=person.id, scopes=[], label=label or "", prefix=raw[:12],
                         token_hash=hash_secret(raw), created_by=person.id, expires_at=_expiry(expires_in_days))
    change.record("token.created", "token", token.id, token.label,
                  after={"kind": "personal", "label": token.label, "prefix": token.prefix})
    return token, raw


def _auth_sql():
    # Hand-written: every request authenticates, and building this join with the ORM cost more than running it.
    return (f'SELECT {column_list(Token, "t")}, {column_list(Workspace, "w")}, {column_list(Person, "p")} '
            f'FROM "token" AS t LEFT JOIN "workspace" AS w ON w."id" = t."workspace_id" '
            f'LEFT JOIN "person" AS p ON p."id" = t."person_id" WHERE t."token_hash" = {db.param}')


def authenticate(raw, **request_info):
    """Return the Actor for a raw bearer token, or None when it is unknown, revoked or expired.

    One query fetches the token with its workspace and person.
    """
    if not raw or len(raw) > 200:
        return None
    row = db.execute_sql(_auth_sql(), (hash_secret(raw),)).fetchone()
    if row is None:
        return None
    n_token, n_ws = len(Token._meta.sorted_fields), len(Workspace._meta.sorted_fields)
    token = hydrate(Token, row[:n_token])
    workspace = hydrate(Workspace, row[n_token:n_token + n_ws])
    person = hydrate(Person, row[n_token + n_ws:])
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        Token.update(last_used_at=now).where(Token.id == token.id).execute()
    return Actor(kind=token.kind, token_id=token.id, token_label=token.label, person=person,
                 workspace_id=token.workspace_id, workspace=workspace, scopes=frozenset(token.scopes),
                 **request_info)


def record_refused_token(raw, workspace_ref=None, ip=None, user_agent=None):
    """Count a refused bearer token in the provisioning log of the workspace it names; return that workspace id.

    A token names a workspace when it is (or its prefix is that of) a revoked or expired service token of the
    workspace, or a personal token of a member of the workspace the path names (`workspace_ref`). An unknown
    prefix names nothing, so a stranger cannot write into a workspace's log (models/services/audit/refusals.py)."""
    if not isinstance(raw, str) or not 12 <= len(raw) <= 200 or not raw.startswith(tuple(PREFIX.values())):
        return None
    token = Token.get_or_none(Token.token_hash == hash_secret(raw))
    if token is not None:
        if token.revoked_at is not None:
            reason = "revoked"
        elif token.expires_at is not None and token.expires_at <= utcnow():
            reason = "expired"
        else:
            return None  # a valid token refused for another reason (scope, kind): not an authentication failure
    else:
        token = Token.select().where(Token.prefix == raw[:12]).order_by(Token.created_at.desc()).first()
        reason = "wrong_secret"
    workspace_id = token.workspace_id if token is not None else None
    if token is not None and token.kind == "personal" and workspace_ref:
        from .workspaces import find_workspace
        try:
            workspace = find_workspace(workspace_ref)
        except NotFoundError:
            return None
        member = Member.select().where(Member.workspace == workspace.id, Member.person == token.person_id).exists()
        workspace_id = workspace.id if member else None
    if workspace_id is None:
        return None
    record_auth_refusal(workspace_id, token.prefix, reason, token.id, ip, user_agent)
    return workspace_id


def list_workspace_tokens(workspace):
    """Return the workspace's service tokens, newest first."""
    return list(Token.select().where(Token.workspace == workspace.id).order_by(Token.created_at.desc()))


def revoke_token(workspace, actor, token_id):
    """Revoke a service token of the workspace."""
    with mutation(workspace, actor, "token.revoked") as change:
        return _revoke_token(change, workspace, token_id)


def _revoke_token(change, workspace, token_id):
    return _revoke_found(change, Token.get_or_none(Token.id == token_id, Token.workspace == workspace.id))


def list_personal_tokens(person):
    """Return the person's personal tokens that are not revoked, newest first."""
    return list(Token.select().where(Token.kind == "personal", Token.person == person.id, Token.revoked_at.is_null())
                .order_by(Token.created_at.desc()))


def revoke_personal_token(actor, person, token_id):
    """Revoke one of the person's own personal tokens (another person's id is "not found")."""
    with mutation(None, actor, "token.revoked") as change:
        return _revoke_found(change, Token.get_or_none(Token.id == token_id, Token.kind == "personal",
                                                       Token.person == person.id))


def _revoke_found(change, token):
    if token is None:
        raise NotFoundError("Token not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.save()
        change.record("token.revoked", "token", token.id, token.label,
                      before={"revoked": False}, after={"revoked": True})
    return token


def revoke_by_prefix(actor, prefix_or_token):
    """Revoke the one token whose shown prefix is `prefix_or_token`, or the token whose whole secret it is (the
    command line's `roster token revoke`); a workspace's token found by its secret is logged in that workspace."""
    found = Token.get_or_none(Token.token_hash == hash_secret(prefix_or_token))
    prefix = found.prefix if found is not None else prefix_or_token
    workspace = found.workspace if found is not None and found.workspace_id else None
    with mutation(workspace, actor, "token.revoked") as change:
        return _revoke_by_prefix(change, prefix)


def _revoke_by_prefix(change, prefix):
    tokens = list(Token.select().where(Token.prefix == prefix, Token.revoked_at.is_null()))
    if not tokens:
        raise NotFoundError("No active token has that prefix")
    if len(tokens) > 1:
        raise InvalidError("Several tokens share that prefix; revoke by id")
    token = tokens[0]
    token.revoked_at = utcnow()
    token.save()
    change.record("token.revoked", "token", token.id, token.label, before={"revoked": False},
                  after={"revoked": True})
    return token
