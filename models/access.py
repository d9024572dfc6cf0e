"""Tokens (stored only as a hash), invitations and one-time codes."""

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, JSONField, TextField

from .db import BaseModel, new_id, utcnow
from .directory import Person
from .workspace import Workspace

SCOPES = ("scim", "admin", "audit:read")


class Token(BaseModel):
    """A bearer credential: a service token (workspace + scopes) or a personal token (acts as a person)."""

    id = CharField(36, primary_key=True, default=new_id)
    kind = CharField(16)  # "service" | "personal"
    workspace = ForeignKeyField(Workspace, null=True, on_delete="CASCADE", backref="tokens")
    person = ForeignKeyField(Person, null=True, on_delete="CASCADE", backref="tokens")
    scopes = JSONField(default=list)
    label = CharField(200, default="")
    prefix = CharField(32)
    token_hash = CharField(64, unique=True)
    created_by = ForeignKeyField(Person, null=True, on_delete="SET NULL", backref="+")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(null=True)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)

    class Meta:
        # prefix: a refused token is matched to its workspace by prefix (models/services/audit/refusals.py)
        indexes = ((("workspace", "created_at"), False), (("person", "created_at"), False), (("prefix",), False))


class Invitation(BaseModel):
    id = CharField(36, primary_key=True, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="invitations")
    email = CharField(320)  # lower-case
    name = CharField(200, default="")
    env_roles = JSONField(default=dict)  # environment -> role name (or NoAccess)
    inviter = ForeignKeyField(Person, null=True, on_delete="SET NULL", backref="+")
    token_hash = CharField(64, unique=True)
    status = CharField(16, default="pending")  # pending | accepted | revoked
    created_at = DateTimeField(default=utcnow)
    last_sent_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    accepted_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("workspace", "email"), False), (("workspace", "created_at"), False))


class OneTimeCode(BaseModel):
    """A mailed confirmation code (e.g. to delete a workspace): hashed, expiring, single use, few attempts."""

    id = CharField(36, primary_key=True, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="+")
    person = ForeignKeyField(Person, on_delete="CASCADE", backref="+")
    purpose = CharField(40)
    code_hash = CharField(64)
    attempts = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used = BooleanField(default=False)
    detail = TextField(default="")

    class Meta:
        indexes = ((("workspace", "purpose", "person"), False),)
