"""Console sign-in: mailed one-time codes (and links) and the server-side sessions they open.

Global by design, like `person` and token look-up: a person signs in once and then switches between the
workspaces it belongs to. Codes and session secrets are stored only as keyed hashes.
"""

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField

from .db import BaseModel, new_id, utcnow
from .directory import Person


class SigninCode(BaseModel):
    """A mailed sign-in code (6-8 digits) and its link, or a link alone (`roster signin-link`).

    Rows exist for any email asked for, known or not, so the answer and the throttle never tell whether an
    address belongs to someone; mail goes out only to known people."""

    id = CharField(36, primary_key=True, default=new_id)
    email = CharField(320)  # lower-case
    code_hash = CharField(64, null=True)  # keyed hash of email and code; None for a link-only row
    link_hash = CharField(64, unique=True)  # SHA-256 of the link secret
    attempts = IntegerField(default=0)
    used = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()

    class Meta:
        indexes = ((("email", "created_at"), False),)


class ConsoleSession(BaseModel):
    """A signed-in browser: the cookie holds a random secret, the row its hash."""

    id = CharField(36, primary_key=True, default=new_id)
    person = ForeignKeyField(Person, on_delete="CASCADE", backref="+")
    token_hash = CharField(64, unique=True)
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()  # absolute end, whatever the activity
    ended_at = DateTimeField(null=True)
    ip = CharField(64, null=True)
    user_agent = CharField(400, null=True)

    class Meta:
        indexes = ((("person", "created_at"), False),)
