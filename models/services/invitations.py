"""Invitations: mailed one-time links; accepting one creates the membership with the invited roles."""

import datetime
import re
import secrets

from flask import current_app

from ..access import Invitation
from ..db import utcnow
from ..directory import Member
from ..privileges import NO_ACCESS
from ..workspace import Workspace
from . import ConflictError, InvalidError, NotFoundError, TooManyRequestsError, mail_after_commit, mutation
from .members import add_member
from .roles import resolve_env_roles, role_by_name
from .tokens import hash_secret
from .workspaces import get_or_create_person

THROTTLE = datetime.timedelta(minutes=20)
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


def check_email(email):
    """Return the lower-cased email, or raise InvalidError."""
    # Checked lower-cased, as stored: lower-casing can lengthen a string ("İ" -> "i̇").
    if not isinstance(email, str) or len(email.strip().lower()) > 320 or not EMAIL_RE.match(email.strip()):
        raise InvalidError("Invalid email", errors={"email": ["Not a valid email address"]})
    return email.strip().lower()


def get_invitation(workspace, invitation_id):
    """Return an invitation of the workspace or raise NotFoundError."""
    inv = (Invitation.get_or_none(Invitation.id == invitation_id, Invitation.workspace == workspace.id)
           if isinstance(invitation_id, str) and len(invitation_id) <= 64 else None)
    if inv is None:
        raise NotFoundError("Invitation not found")
    return inv


def list_invitations(workspace, status=None):
    """Return the workspace's invitations, newest first."""
    query = Invitation.select().where(Invitation.workspace == workspace.id)
    if status:
        query = query.where(Invitation.status == status)
    return list(query.order_by(Invitation.created_at.desc()))


def _throttle(workspace, email):
    """One invitation mail per email and workspace per 20 minutes (429 with Retry-After)."""
    query = Invitation.select().where(Invitation.workspace == workspace.id, Invitation.email == email,
                                      Invitation.last_sent_at > utcnow() - THROTTLE)
    last = query.order_by(Invitation.last_sent_at.desc()).first()
    if last is not None:
        wait = (last.last_sent_at + THROTTLE - utcnow()).total_seconds()
        raise TooManyRequestsError(f"{email} was invited less than 20 minutes ago", retry_after=max(1, wait + 1))


def roles_text(env_roles):
    """Return an invitation's roles for people: "Admin in dev, Readonly in prod" (NoAccess left out)."""
    granted = [f"{role} in {env}" for env, role in (env_roles or {}).items() if role != NO_ACCESS]
    return ", ".join(granted) or "no access yet"


def _mail(change, workspace, inv, raw, inviter, undo):
    link = f"{current_app.config['PUBLIC_URL']}/invitations/accept?token={raw}"
    who = inviter.email if inviter is not None else "An administrator"
    # The mail carries the link alone: the page behind it shows the invitation and accepts it (console/).
    # Nobody holds a link that was never sent: when delivery fails, undo puts the invitation back as it was.
    mail_after_commit(
        change, inv.email, f"You are invited to {workspace.name} on Roster",
        f"{who} invited you to the workspace {workspace.name} on Roster ({roles_text(inv.env_roles)}).\n\n"
        f"Open the invitation to accept it:\n\n    {link}\n\n"
        f"The link works once and expires on {inv.expires_at:%Y-%m-%d at %H:%M} UTC. If you did not expect this "
        f"invitation, you can ignore this message.\n",
        undo, "The invitation mail could not be sent")


def create_invitation(workspace, actor, email, env_roles, name="", access=None):
    """Invite `email` with roles per environment (left-out environments get NoAccess) and mail the link; the
    acting person (if any) is the inviter."""
    with mutation(workspace, actor, "invitation.sent") as change:
        return _create_invitation(change, workspace, email, env_roles, name, actor.person, access)


def _create_invitation(change, workspace, email, env_roles, name, inviter, access):
    email = check_email(email)
    if not isinstance(name, str) or len(name) > 200:
        raise InvalidError("Invalid name", errors={"name": ["At most 200 characters"]})
    roles = resolve_env_roles(workspace, env_roles, fill_no_access=True)
    if access is not None:
        for env, role in roles.items():
            if role is not None:
                access.require("members:invite", env)
                access.require_grantable(role, env)
    if Member.select().where(Member.workspace == workspace.id, Member.email_ci == email).exists():
        raise ConflictError(f"{email} is already a member")
    _throttle(workspace, email)
    superseded = [i.id for i in Invitation.select(Invitation.id).where(
        Invitation.workspace == workspace.id, Invitation.email == email, Invitation.status == "pending")]
    if superseded:
        Invitation.update(status="revoked").where(Invitation.workspace == workspace.id,
                                                  Invitation.id.in_(superseded)).execute()
    raw = secrets.token_urlsafe(32)
    hours = workspace.setting("invitations.expiry_hours") or 72
    inv = Invitation.create(workspace=workspace.id, email=email, name=name,
                            env_roles={env: (r.name if r else NO_ACCESS) for env, r in roles.items()},
                            inviter=inviter.id if inviter is not None else None, token_hash=hash_secret(raw),
                            expires_at=utcnow() + datetime.timedelta(hours=hours))
    change.record("invitation.sent", "invitation", inv.id, email, after={"email": email, "env_roles": inv.env_roles})

    def undo(undo_change):
        Invitation.delete().where(Invitation.workspace == workspace.id, Invitation.id == inv.id).execute()
        if superseded:
            Invitation.update(status="pending").where(Invitation.workspace == workspace.id,
                                                      Invitation.id.in_(superseded)).execute()
        undo_change.record("invitation.withdrawn", "invitation", inv.id, email,
                           after={"reason": "the mail could not be delivered"})
    _mail(change, workspace, inv, raw, inviter, undo)
    return inv


def resend_invitation(workspace, actor, invitation_id):
    """Mail a pending invitation again with a fresh link and expiry (throttled like a new one)."""
    with mutation(workspace, actor, "invitation.resent") as change:
        return _resend_invitation(change, workspace, get_invitation(workspace, invitation_id), actor.person)


def _resend_invitation(change, workspace, inv, inviter):
    if inv.status != "pending":
        raise ConflictError(f"The invitation is {inv.status}")
    _throttle(workspace, inv.email)
    raw = secrets.token_urlsafe(32)
    hours = workspace.setting("invitations.expiry_hours") or 72
    previous = {"token_hash": inv.token_hash, "last_sent_at": inv.last_sent_at, "expires_at": inv.expires_at}
    inv.token_hash = hash_secret(raw)
    inv.last_sent_at = utcnow()
    inv.expires_at = utcnow() + datetime.timedelta(hours=hours)
    inv.save()
    change.record("invitation.resent", "invitation", inv.id, inv.email)

    def undo(undo_change):
        Invitation.update(**previous).where(Invitation.workspace == workspace.id, Invitation.id == inv.id).execute()
        undo_change.record("invitation.resend_withdrawn", "invitation", inv.id, inv.email,
                           after={"reason": "the mail could not be delivered"})
    _mail(change, workspace, inv, raw, inviter, undo)
    return inv


def revoke_invitation(workspace, actor, invitation_id):
    """Revoke a pending invitation so its link stops working."""
    with mutation(workspace, actor, "invitation.revoked") as change:
        _revoke_invitation(change, get_invitation(workspace, invitation_id))


def _revoke_invitation(change, inv):
    if inv.status != "pending":
        raise ConflictError(f"The invitation is {inv.status}")
    inv.status = "revoked"
    inv.save()
    change.record("invitation.revoked", "invitation", inv.id, inv.email)


def invitation_state(raw):
    """Return (state, invitation) for a raw token without changing anything: state is "pending", "expired",
    "accepted", "revoked" or "unknown" (invitation None) - what the invitation page shows."""
    if not isinstance(raw, str) or not raw or len(raw) > 200:
        return "unknown", None
    inv = Invitation.get_or_none(Invitation.token_hash == hash_secret(raw))
    if inv is None:
        return "unknown", None
    if inv.status in ("revoked", "accepted"):
        return inv.status, inv
    if inv.expires_at <= utcnow():
        return "expired", inv
    return "pending", inv


def find_acceptable(raw):
    """Return the pending, unexpired invitation for a raw token, or raise."""
    if not isinstance(raw, str) or not raw or len(raw) > 200:
        raise InvalidError("Missing token", errors={"token": ["Required"]})
    state, inv = invitation_state(raw)
    if state in ("unknown", "revoked"):
        raise NotFoundError("Invitation not found or revoked")
    if state == "accepted":
        raise ConflictError("The invitation was already accepted")
    if state == "expired":
        raise InvalidError("The invitation has expired; ask for a new one")
    return inv


def accept_invitation(actor, raw):
    """Accept the invitation whose mailed token is `raw`: create the person if new and the membership with the
    invited roles. Return the new member."""
    inv = find_acceptable(raw)
    with mutation(None, actor, "invitation.accepted") as change:
        return _accept_invitation(change, inv)


def _accept_invitation(change, inv):
    workspace = Workspace.get_by_id(inv.workspace_id)
    change.workspace = workspace
    person = get_or_create_person(inv.email, inv.name)
    env_roles = {}
    for env, name in inv.env_roles.items():
        if env in workspace.environments:
            env_roles[env] = None if name == NO_ACCESS else role_by_name(workspace, name)
    member = add_member(change, workspace, person, env_roles, display_name=inv.name or None, source="invitation")
    inv.status = "accepted"
    inv.accepted_at = utcnow()
    inv.save()
    change.record("invitation.accepted", "invitation", inv.id, inv.email, after={"member": member.id})
    return member
