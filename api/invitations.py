"""Invitations: create (mailed, throttled), list, read, revoke, resend, and public acceptance."""

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from models.services import invitations as svc
from web.audit import operation

from .auth import authenticate_request, current_actor, public_actor, workspace_access
from .members import with_roles_and_groups
from .schemas import AcceptSchema, InvitationCreateSchema, InvitationSchema, MemberSchema

blp = Blueprint("invitations", __name__, url_prefix="/api/v1", description="Invitations")


@blp.before_request
def _authenticate():
    """Authenticate every invitation call but the public acceptance."""
    if request.endpoint != "invitations.accept":  # accepting an invitation is public
        authenticate_request()


@blp.route("/workspaces/<ws>/invitations")
class Invitations(MethodView):
    @blp.response(200, InvitationSchema(many=True))
    def get(self, ws):
        """List invitations, newest first."""
        workspace, _ = workspace_access(ws, "members:read")
        return svc.list_invitations(workspace)

    @blp.arguments(InvitationCreateSchema)
    @blp.response(201, InvitationSchema)
    @operation("invitation.sent", "invitation")
    def post(self, data, ws):
        """Invite someone by email with roles per environment (left-out environments get NoAccess)."""
        workspace, access = workspace_access(ws, "members:invite")
        return svc.create_invitation(workspace, current_actor(), data["email"], data["env_roles"], data["name"],
                                     access=access)


@blp.route("/workspaces/<ws>/invitations/<invitation_id>")
class InvitationItem(MethodView):
    @blp.response(200, InvitationSchema)
    def get(self, ws, invitation_id):
        """Read an invitation."""
        workspace, _ = workspace_access(ws, "members:read")
        return svc.get_invitation(workspace, invitation_id)

    @blp.response(204)
    @operation("invitation.revoked", "invitation", "invitation_id")
    def delete(self, ws, invitation_id):
        """Revoke a pending invitation."""
        workspace, _ = workspace_access(ws, "members:invite")
        svc.revoke_invitation(workspace, current_actor(), invitation_id)


@blp.route("/workspaces/<ws>/invitations/<invitation_id>/resend", methods=["POST"])
@blp.response(200, InvitationSchema)
@operation("invitation.resent", "invitation", "invitation_id")
def resend(ws, invitation_id):
    """Mail a pending invitation again with a fresh link."""
    workspace, _ = workspace_access(ws, "members:invite")
    return svc.resend_invitation(workspace, current_actor(), invitation_id)


@blp.route("/invitations/accept", methods=["POST"])
@blp.arguments(AcceptSchema)
@blp.response(201, MemberSchema)
@blp.doc(security=[])
@operation("invitation.accepted", "invitation")
def accept(data):
    """Accept an invitation with the token from its mail (public; single use; expiring)."""
    member = svc.accept_invitation(public_actor(), data["token"])
    return with_roles_and_groups(member.workspace, [member])[0]
