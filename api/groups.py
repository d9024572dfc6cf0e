"""Groups: pushed by IdPs over SCIM (managed by that IdP) or managed here by an admin; their members, and the
roles each grants per environment."""

from flask.views import MethodView
from flask_smorest import Blueprint

from models.services import groups as svc
from web.audit import operation

from .auth import authenticate_request, current_actor, workspace_access
from .members import with_roles_and_groups
from .schemas import (CountSchema, EnvRolesSchema, GroupCreateSchema, GroupListSchema, GroupSchema,
                      GroupUpdateSchema, MemberIdsSchema, MemberListSchema, MembershipChangeSchema, PageArgs,
                      RoleMapSchema)

blp = Blueprint("groups", __name__, url_prefix="/api/v1/workspaces", description="Groups and their role grants")
blp.before_request(authenticate_request)


def _decorate(workspace, groups):
    counts = svc.member_counts(workspace, groups)
    grants = svc.grants_by_group(workspace, groups)
    for group in groups:
        group.member_count = counts.get(group.id, 0)
        group.grants = grants[group.id]
    return groups


@blp.route("/<ws>/groups")
class Groups(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, GroupListSchema)
    def get(self, args, ws):
        """List groups by name, with member counts and grants."""
        workspace, _ = workspace_access(ws, "groups:read")
        groups, total = svc.list_groups(workspace, args["page"], args["page_size"])
        return {"items": _decorate(workspace, groups), "total": total, **args}

    @blp.arguments(GroupCreateSchema)
    @blp.response(201, GroupSchema)
    @operation("group.created", "group")
    def post(self, data, ws):
        """Create a group managed in Roster (source `admin`)."""
        workspace, _ = workspace_access(ws, "groups:manage")
        group = svc.create_group(workspace, current_actor(), data["display_name"], external_id=data["external_id"])
        return _decorate(workspace, [group])[0]


@blp.route("/<ws>/groups/count")
@blp.response(200, CountSchema)
def count_groups(ws):
    """Count the workspace's groups."""
    workspace, _ = workspace_access(ws, "groups:read")
    return {"count": svc.count_groups(workspace)}


@blp.route("/<ws>/groups/<group_id>")
class GroupItem(MethodView):
    @blp.response(200, GroupSchema)
    def get(self, ws, group_id):
        """Read a group."""
        workspace, _ = workspace_access(ws, "groups:read")
        return _decorate(workspace, [svc.get_group(workspace, group_id)])[0]

    @blp.arguments(GroupUpdateSchema)
    @blp.response(200, GroupSchema)
    @operation("group.renamed", "group", "group_id")
    def patch(self, data, ws, group_id):
        """Rename a group or change its externalId (409 for a group an IdP manages)."""
        workspace, _ = workspace_access(ws, "groups:manage")
        group = svc.rename_group(workspace, current_actor(), group_id, data.get("display_name"),
                                 **({"external_id": data["external_id"]} if "external_id" in data else {}))
        return _decorate(workspace, [group])[0]

    @blp.response(204)
    @operation("group.deleted", "group", "group_id")
    def delete(self, ws, group_id):
        """Delete a group; its memberships and grants go with it (409 for a group an IdP manages)."""
        workspace, _ = workspace_access(ws, "groups:manage")
        svc.delete_group(workspace, current_actor(), group_id)


@blp.route("/<ws>/groups/<group_id>/members")
class GroupMembers(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, MemberListSchema)
    def get(self, args, ws, group_id):
        """List the group's members by userName; paginated with `total`."""
        workspace, _ = workspace_access(ws, "groups:read")
        members, total = svc.list_group_members(workspace, group_id, args["page"], args["page_size"])
        return {"items": with_roles_and_groups(workspace, members), "total": total, **args}

    @blp.arguments(MemberIdsSchema)
    @blp.response(200, MembershipChangeSchema)
    @operation("group.members_added", "group", "group_id")
    def post(self, data, ws, group_id):
        """Add members to the group (members already in it are left as they are)."""
        workspace, _ = workspace_access(ws, "groups:manage")
        return _membership(workspace, group_id, add=data["member_ids"])

    @blp.arguments(MemberIdsSchema)
    @blp.response(200, MembershipChangeSchema)
    @operation("group.members_removed", "group", "group_id")
    def delete(self, data, ws, group_id):
        """Remove members from the group (ids not in it are ignored)."""
        workspace, _ = workspace_access(ws, "groups:manage")
        return _membership(workspace, group_id, remove=data["member_ids"])


def _membership(workspace, group_id, add=(), remove=()):
    added, removed = svc.change_members(workspace, current_actor(), group_id, add=add, remove=remove)
    count = svc.member_counts(workspace, [svc.get_group(workspace, group_id)]).get(group_id, 0)
    return {"added": added, "removed": removed, "member_count": count}


@blp.route("/<ws>/groups/<group_id>/grants")
class Grants(MethodView):
    @blp.response(200, RoleMapSchema)
    def get(self, ws, group_id):
        """Show the role the group grants in each environment."""
        workspace, _ = workspace_access(ws, "groups:read")
        return {"roles": svc.grants_of(workspace, svc.get_group(workspace, group_id))}

    @blp.arguments(EnvRolesSchema)
    @blp.response(200, RoleMapSchema)
    @operation("group.grants_changed", "group", "group_id")
    def put(self, data, ws, group_id):
        """Replace the roles the group grants; left-out environments grant nothing."""
        workspace, access = workspace_access(ws, "groups:manage")
        return {"roles": svc.replace_grants(workspace, current_actor(), group_id, data["env_roles"], access=access)}
