"""Members: listing with filters, roles per environment, privileges, removal, leaving, ownership."""

from flask.views import MethodView
from flask_smorest import Blueprint

from models.services import members as svc
from web.audit import operation

from .auth import authenticate_request, current_actor, require_person, workspace_access
from .schemas import (ContextSchema, CountSchema, EnvPrivilegesSchema, EnvRolesSchema, MemberListArgs, MemberListSchema,
                      MemberSchema, MemberUpdateSchema, RoleMapSchema, TransferSchema)

blp = Blueprint("members", __name__, url_prefix="/api/v1/workspaces", description="Workspace members")
blp.before_request(authenticate_request)


def with_roles_and_groups(workspace, members):
    """Attach each member's role per environment and its groups, for MemberSchema."""
    roles, groups = svc.roles_and_groups_of(workspace, [m.id for m in members])
    for member in members:
        member.roles = {env: roles[member.id].get(env, "NoAccess") for env in workspace.environments}
        member.groups = [{"id": gid, "display_name": name} for gid, name in groups[member.id]]
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

    @blp.arguments(MemberUpdateSchema)
    @blp.response(200, MemberSchema)
    @operation("member.updated", "user", "member_id")
    def patch(self, data, ws, member_id):
        """Suspend or reactivate a member, or change its display name, time zone or type (standard, viewer)."""
        workspace, _ = workspace_access(ws, "members:update")
        return with_roles_and_groups(workspace, [svc.update_member(workspace, current_actor(), member_id, data)])[0]

    @blp.response(204)
    @operation("member.removed", "user", "member_id")
    def delete(self, ws, member_id):
        """Remove a member from the workspace (the owner cannot be removed)."""
        workspace, _ = workspace_access(ws, "members:remove")
        svc.remove_member(workspace, current_actor(), member_id)


@blp.route("/<ws>/members/<member_id>/roles", methods=["PUT"])
@blp.arguments(EnvRolesSchema)
@blp.response(200, RoleMapSchema)
@operation("member.roles_changed", "user", "member_id")
def set_roles(data, ws, member_id):
    """Set a member's role per environment; `NoAccess` removes access there."""
    workspace, access = workspace_access(ws, "members:update")
    return {"roles": svc.set_roles(workspace, current_actor(), member_id, data["env_roles"], access=access)}


@blp.route("/<ws>/context")
@blp.response(200, ContextSchema)
def context(ws):
    """Show me here: my membership, my role per environment, my effective privileges and their sources."""
    workspace, access = workspace_access(ws)
    return svc.context_of(workspace, access)


@blp.route("/<ws>/members/<member_id>/privileges")
@blp.response(200, EnvPrivilegesSchema(many=True))
def member_privileges(ws, member_id):
    """Show a member's effective privileges per environment and where each comes from."""
    workspace, _ = workspace_access(ws, "members:read")
    return svc.privileges_report(workspace, svc.get_member(workspace, member_id))


@blp.route("/<ws>/leave", methods=["POST"])
@blp.response(204)
@operation("member.left", "user")
def leave(ws):
    """Leave the workspace (refused for the owner and the last admin)."""
    workspace, _ = workspace_access(ws)
    require_person()
    svc.leave(workspace, current_actor())


@blp.route("/<ws>/transfer-ownership", methods=["POST"])
@blp.arguments(TransferSchema)
@blp.response(200, MemberSchema)
@operation("member.ownership_transferred", "user")
def transfer_ownership(data, ws):
    """Hand ownership to another active member (only the owner may)."""
    workspace, _ = workspace_access(ws)
    require_person()
    return with_roles_and_groups(workspace, [svc.transfer_ownership(workspace, current_actor(), data["member_id"])])[0]
