"""Members: listing with filters, roles per environment, privileges, removal, leaving, ownership."""

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from models.directory import Member
from models.services import mutation
from models.services import members as svc
from web.audit import operation

from .auth import authenticate_request, current_actor, require_person, workspace_access
from .schemas import (CountSchema, EnvPrivilegesSchema, EnvRolesSchema, MemberListArgs, MemberListSchema,
                      MemberSchema, RoleMapSchema, TransferSchema)

blp = Blueprint("members", __name__, url_prefix="/api/v1/workspaces", description="Workspace members")
blp.before_request(authenticate_request)


def with_roles_and_groups(workspace, members):
    """Attach each member's role per environment and its groups, for MemberSchema."""
    extra = svc.roles_and_groups(workspace, members)
    for member in members:
        member.roles = {env: extra[member.id]["roles"].get(env, "NoAccess") for env in workspace.environments}
        member.groups = extra[member.id]["groups"]
    return members


@blp.route("/<ws>/members")
@blp.arguments(MemberListArgs, location="query")
@blp.response(200, MemberListSchema)
def list_members(args, ws):
    """List members: `email` contains, `status`, `role`, `environment`; paginated with `total`."""
    workspace, _ = workspace_access(ws, "members:read")
    page, page_size = args.pop("page"), args.pop("page_size")
    members, total = svc.list_members(workspace, page, page_size, **args)
    return {"items": with_roles_and_groups(workspace, members), "total": total, "page": page,
            "page_size": page_size}


@blp.route("/<ws>/members/count")
@blp.arguments(MemberListArgs, location="query")
@blp.response(200, CountSchema)
def count_members(args, ws):
    """Count members matching the same filters as the listing."""
    workspace, _ = workspace_access(ws, "members:read")
    args.pop("page"), args.pop("page_size")
    return {"count": svc.member_query(workspace, **args).count()}


@blp.route("/<ws>/members/<member_id>")
class MemberItem(MethodView):
    @blp.response(200, MemberSchema)
    def get(self, ws, member_id):
        """Read a member with its roles and groups."""
        workspace, _ = workspace_access(ws, "members:read")
        return with_roles_and_groups(workspace, [svc.get_member(workspace, member_id)])[0]

    @blp.response(204)
    @operation("member.removed", "user", "member_id")
    def delete(self, ws, member_id):
        """Remove a member from the workspace (the owner cannot be removed)."""
        workspace, _ = workspace_access(ws, "members:remove")
        member = svc.get_member(workspace, member_id)
        with mutation(workspace, current_actor(), "member.removed") as change:
            svc.remove_member(change, workspace, member)


@blp.route("/<ws>/members/<member_id>/roles", methods=["PUT"])
@blp.arguments(EnvRolesSchema)
@blp.response(200, RoleMapSchema)
@operation("member.roles_changed", "user", "member_id")
def set_roles(data, ws, member_id):
    """Set a member's role per environment; `NoAccess` removes access there."""
    workspace, access = workspace_access(ws, "members:update")
    member = svc.get_member(workspace, member_id)
    with mutation(workspace, current_actor(), "member.roles_changed") as change:
        return {"roles": svc.set_roles(change, workspace, member, data["env_roles"], access=access)}


@blp.route("/<ws>/members/<member_id>/privileges")
@blp.response(200, EnvPrivilegesSchema(many=True))
def member_privileges(ws, member_id):
    """Show a member's effective privileges per environment and where each comes from."""
    workspace, _ = workspace_access(ws, "members:read")
    return svc.privileges_report(workspace, svc.get_member(workspace, member_id))


def _own_membership(workspace):
    person = require_person()
    member = Member.get_or_none(Member.workspace == workspace.id, Member.person == person.id)
    if member is None:
        abort(404, message="Member not found")
    return member


@blp.route("/<ws>/leave", methods=["POST"])
@blp.response(204)
@operation("member.left", "user")
def leave(ws):
    """Leave the workspace (refused for the owner and the last admin)."""
    workspace, _ = workspace_access(ws)
    member = _own_membership(workspace)
    with mutation(workspace, current_actor(), "member.left") as change:
        svc.leave(change, workspace, member)


@blp.route("/<ws>/transfer-ownership", methods=["POST"])
@blp.arguments(TransferSchema)
@blp.response(200, MemberSchema)
@operation("member.ownership_transferred", "user")
def transfer_ownership(data, ws):
    """Hand ownership to another active member (only the owner may)."""
    workspace, _ = workspace_access(ws)
    member = _own_membership(workspace)
    if not member.is_owner:
        abort(403, message="Only the owner can transfer ownership")
    with mutation(workspace, current_actor(), "member.ownership_transferred") as change:
        new_owner = svc.transfer_ownership(change, workspace, member, data["member_id"])
    return with_roles_and_groups(workspace, [Member.get_by_id(new_owner.id)])[0]
