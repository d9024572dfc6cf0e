"""The page behind the mailed invitation link: who invites whom to which workspace with which roles, and
Accept. Expired, used and revoked invitations each get a page saying so."""

from flask import g, redirect, request, url_for

from models.directory import Person
from models.services import ServiceError, TooManyRequestsError, UnavailableError
from models.services import signin
from models.services.invitations import accept_invitation, invitation_state
from models.services.workspaces import workspaces_of
from models.workspace import Workspace

from . import bp
from . import session
from .pages import page

STATUS = {"pending": 200, "accepted": 409, "expired": 410, "revoked": 410, "unknown": 404}


def _invitation_page(token, state, inv, status=None, error=None):
    workspace = Workspace.get_or_none(Workspace.id == inv.workspace_id) if inv is not None else None
    inviter = Person.get_or_none(Person.id == inv.inviter_id) if inv is not None and inv.inviter_id else None
    roles = [(env, (inv.env_roles or {}).get(env, "NoAccess")) for env in workspace.environments] \
        if workspace is not None else []
    return page("console/invitation.html", status or STATUS[state], state=state, invitation=inv,
                invited_workspace=workspace, inviter=inviter, roles=roles, token=token, error=error)


@bp.route("/invitations/accept", methods=["GET"])
def invitation_page():
    """Show the invitation behind a mailed link."""
    token = request.args.get("token", "")
    state, inv = invitation_state(token)
    return _invitation_page(token, state, inv)


@bp.route("/invitations/accept", methods=["POST"])
def accept():
    """Accept: the membership is created with the invited roles, then the person lands in the workspace.

    A newcomer is signed in by the link itself (it reached their mailbox); a person who already belongs to other
    workspaces confirms with a mailed code first, since an invitation link lives for days."""
    token = request.form.get("token", "")
    state, inv = invitation_state(token)
    if state != "pending":
        return _invitation_page(token, state, inv)
    try:
        member = accept_invitation(session.console_actor(), token)
    except ServiceError as error:
        return _invitation_page(token, state, inv, status=error.status, error=error.message)
    workspace = Workspace.get_by_id(member.workspace_id)
    person = Person.get_by_id(member.person_id)
    landing = url_for("console.overview", ws=workspace.slug, welcome=1)
    signed_in_as_invitee = g.person is not None and g.person.id == person.id
    if signed_in_as_invitee:
        return redirect(landing)
    if len(workspaces_of(person)) > 1:
        try:
            signin.request_code(session.console_actor(), person.email)
        except (TooManyRequestsError, UnavailableError):
            pass  # the code page offers to send another
        return session.end(redirect(url_for("console.code_page", email=person.email, next=landing)))
    return session.begin(redirect(landing), person)
