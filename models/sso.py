"""SSO connections, the email domains they claim, their test runs and the SAML response ids already consumed.

A test run keeps everything the IdP's answer must match (SAML request id, OIDC state, nonce and PKCE
verifier) in the database, never in process memory, so any app node can receive the answer (docs/architecture.md,
"Tenancy and scale-out").
"""

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, JSONField, TextField

from .db import BaseModel, new_id, utcnow
from .workspace import Workspace

PROVIDERS = ("saml", "oidc")
CONNECTION_STATUSES = ("draft", "active", "inactive")
PASSING = ("passed", "passed_with_warnings")


class SsoConnection(BaseModel):
    """A workspace's SAML or OIDC identity provider; `secret` holds the encrypted OIDC client secret."""

    id = CharField(36, primary_key=True, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="sso_connections")
    provider = CharField(8)
    name = CharField(200)
    domains = JSONField(default=list)  # lower-case, sorted
    config = JSONField(default=dict)  # public config only: never the client secret
    secret = TextField(null=True)  # Fernet token of the OIDC client secret
    status = CharField(16, default="draft")
    config_version = IntegerField(default=1)
    last_test = JSONField(null=True)  # {id, status, summary, finished_at, config_version}
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "created_at"), False),)


DOMAIN_STATUSES = ("claimed", "verified")


class SsoDomain(BaseModel):
    """An email domain claimed by one workspace, unique across workspaces: `claimed` until a DNS TXT record
    `roster-verification=<token>` proves it (`verified`); a claim unverified for 7 days lapses."""

    id = CharField(36, primary_key=True, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="+")
    domain = CharField(253)
    status = CharField(16, default="claimed")
    token = CharField(64, default="")  # published in DNS by the admin: not a secret
    verified_at = DateTimeField(null=True)
    checked_at = DateTimeField(null=True)
    check_error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        # Several workspaces may claim a domain; only one may hold it verified (a partial unique index of
        # migration 0007: "sso_domain_verified").
        indexes = ((("domain", "workspace"), True),)


class SsoTestRun(BaseModel):
    """One test sign-in: what the answer must match while pending, then its checks, summary and profile."""

    id = CharField(36, primary_key=True, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="+")
    connection = ForeignKeyField(SsoConnection, on_delete="CASCADE", backref="test_runs")
    provider = CharField(8)
    status = CharField(24, default="pending_login")
    state_hash = CharField(64, unique=True)  # SHA-256 of the SAML RelayState / OIDC state
    request_id = CharField(100, null=True)  # SAML AuthnRequest ID
    nonce = CharField(100, null=True)  # OIDC
    code_verifier = TextField(null=True)  # OIDC PKCE verifier, encrypted like the client secret
    login_url = TextField(null=True)  # no longer written: the link is answered once, to whoever started the run
    context = JSONField(null=True)  # what the answer is checked against: OIDC discovery, fetched metadata
    config_version = IntegerField(default=1)
    started_by = CharField(200, default="")
    started_by_key = CharField(80, default="")  # person:<id> or token:<id>: who may see the profile
    summary = TextField(default="")
    checks = JSONField(default=list)
    profile = JSONField(null=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    finished_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("workspace", "connection", "created_at"), False),)


class SsoConsumedId(BaseModel):
    """A SAML Response or Assertion ID already accepted for a connection: a second use is a replay."""

    id = CharField(36, primary_key=True, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="+")
    connection = ForeignKeyField(SsoConnection, on_delete="CASCADE", backref="+")
    value = CharField(256)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()

    class Meta:
        indexes = ((("connection", "value"), True),)
