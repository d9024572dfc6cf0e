"""Groups (pushed by IdPs over SCIM): listing and the roles each grants per environment."""

from flask.views import MethodView
from flask_smorest import Blueprint

from models.services import groups as svc
from web.audit import operation

from .auth import authenticate_request, current_actor, workspace_access
from .schemas import EnvRolesSchema, GroupListSchema, GroupSchema, PageArgs, RoleMapSchema

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
@blp.arguments(PageArgs, location="query")
@blp.response(200, GroupListSchema)
def list_groups(args, ws):
    """List groups by name, with member counts and grants."""
    workspace, _ = workspace_access(ws, "groups:read")
    groups, total = svc.list_groups(workspace, args["page"], args["page_size"])
    return {"items": _decorate(workspace, groups), "total": total, **args}


@blp.route("/<ws>/groups/<group_id>")
@blp.response(200, GroupSchema)
def get_group(ws, group_id):
    """Read a group."""
    workspace, _ = workspace_access(ws, "groups:read")
    return _decorate(workspace, [svc.get_group(workspace, group_id)])[0]


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
