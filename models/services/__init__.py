"""The service layer: every mutation of Roster's data goes through here, never through views.

A mutation runs inside `mutation(workspace, actor)`: one database transaction, with a `Change` collecting what
happened (operation, target, before -> after, IdP quirks). The provisioning log (`.audit`) writes its events
inside that same transaction after the work, and records a failure in a fresh transaction after a rollback,
so refused requests are recorded too.
"""

import contextlib
import dataclasses

from ..db import db
from ..errors import (ConflictError, DuplicateError, InvalidError, NotFoundError,  # noqa: F401
                      PermissionDeniedError, ServiceError, TooManyRequestsError, UnauthorizedError,
                      UnavailableError)


@dataclasses.dataclass
class Actor:
    """Who performs a request: a token (service or personal), the command line, or the public."""

    kind: str  # "service" | "personal" | "console" (a signed-in browser) | "cli" | "public"
    token_id: str | None = None
    token_label: str | None = None
    person: object = None
    workspace_id: str | None = None  # a service token's workspace
    workspace: object = None  # that workspace, loaded with the token
    scopes: frozenset = frozenset()
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    idp: str | None = None
    received_at: object = None  # when the request arrived (datetime), for the provisioning log

    @property
    def person_id(self):
        return self.person.id if self.person is not None else None


@dataclasses.dataclass
class Event:
    operation: str
    target_type: str
    target_id: str | None = None
    target_name: str | None = None
    before: dict | None = None
    after: dict | None = None
    quirks: list = dataclasses.field(default_factory=list)


class Change:
    """What one mutation did, for the provisioning log."""

    def __init__(self, workspace, actor):
        self.workspace = workspace
        self.actor = actor
        self.events = []
        self.outcome_status = 200
        self.after_commit = []

    def record(self, operation, target_type, target_id=None, target_name=None, before=None, after=None,
               quirks=()):
        """Note one thing this mutation changed."""
        event = Event(operation, target_type, target_id, target_name, before, after, list(quirks))
        self.events.append(event)
        return event


@contextlib.contextmanager
def mutation(workspace, actor, attempted=None):
    """Run a mutation atomically and record it in the provisioning log; if it fails, record the failure under
    `attempted`, the operation it would have recorded (e.g. "member.removed")."""
    change = Change(workspace, actor)
    try:
        with db.atomic():
            yield change
            record_change(change)
    except Exception as error:
        if workspace is not None:
            change.attempted = attempted
            record_failure(change, error)
        raise
    # Work that must not hold the transaction open (mail over SMTP) runs once it has committed.
    for callback in change.after_commit:
        callback()


def mail_after_commit(change, to, subject, body, undo, what):
    """Send a message once the mutation commits; if it cannot be delivered, undo(change) in a new mutation
    (putting back what the first one changed, and recording that) and answer 503.

    Sending inside the transaction would hold SQLite's write lock for the whole SMTP exchange (up to the
    mail timeout) and stall every other writer."""
    from ..mail import MailError, send_mail

    def deliver():
        try:
            send_mail(to, subject, body)
        except MailError as exc:
            with mutation(change.workspace, change.actor, "mail.undelivered") as undo_change:
                undo(undo_change)
            raise UnavailableError(f"{what}; try again later. {exc}") from exc

    change.after_commit.append(deliver)


# The provisioning log needs the types above; mutation() calls it directly.
from .audit.record import record_change, record_failure  # noqa: E402
