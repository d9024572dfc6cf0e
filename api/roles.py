"""Roles: system and custom roles, their privileges, and the privilege catalogue."""

from flask.views import MethodView
from flask_smorest import Blueprint

from models.privileges import catalogue_listing
from models.services import roles as svc
from web.audit import operation

from .auth import authenticate_request, current_actor, workspace_access
from .schemas import CatalogueEntrySchema, PrivilegeChangeSchema, RoleSchema, RoleUpdateSchema

blp = Blueprint("roles", __name__, url_prefix="/api/v1", description="Roles and privileges")
blp.before_request(authenticate_request)


@blp.route("/privileges")
@blp.response(200, CatalogueEntrySchema(many=True))
def privileges():
    """List the privilege catalogue."""
    current_actor()
    return catalogue_listing()


@blp.route("/workspaces/<ws>/roles")
class Roles(MethodView):
    @blp.response(200, RoleSchema(many=True))
    def get(self, ws):
        """List roles, system roles first."""
        workspace, _ = workspace_access(ws, "roles:read")
        return svc.list_roles(workspace)

    @blp.arguments(RoleSchema)
    @blp.response(201, RoleSchema)
    @operation("role.created", "role")
    def post(self, data, ws):
        """Create a custom role from catalogue privileges."""
        workspace, access = workspace_access(ws, "roles:manage")
        return svc.create_role(workspace, current_actor(), data["name"], data["privileges"], data["description"],
                               access=access)


@blp.route("/workspaces/<ws>/roles/<role_id>")
class RoleItem(MethodView):
    @blp.response(200, RoleSchema)
    def get(self, ws, role_id):
        """Read a role."""
        workspace, _ = workspace_access(ws, "roles:read")
        return svc.get_role(workspace, role_id)

    @blp.arguments(RoleUpdateSchema)
    @blp.response(200, RoleSchema)
    @operation("role.updated", "role", "role_id")
    def patch(self, data, ws, role_id):
        """Rename a custom role or replace its privileges."""
        workspace, access = workspace_access(ws, "roles:manage")
        return svc.update_role(workspace, current_actor(), role_id, data, access=access)

    @blp.response(204)
    @operation("role.deleted", "role", "role_id")
    def delete(self, ws, role_id):
        """Delete a custom role that is not in use."""
        workspace, _ = workspace_access(ws, "roles:manage")
        svc.delete_role(workspace, current_actor(), role_id)


@blp.route("/workspaces/<ws>/roles/<role_id>/privileges")
class RolePrivileges(MethodView):
    @blp.arguments(PrivilegeChangeSchema)
    @blp.response(200, RoleSchema)
    @operation("role.privileges_changed", "role", "role_id")
    def post(self, data, ws, role_id):
        """Add privileges to a custom role."""
        workspace, access = workspace_access(ws, "roles:manage")
        return svc.change_privileges(workspace, current_actor(), role_id, add=data["privileges"], access=access)

    @blp.arguments(PrivilegeChangeSchema)
    @blp.response(200, RoleSchema)
    @operation("role.privileges_changed", "role", "role_id")
    def delete(self, data, ws, role_id):
        """Remove privileges from a custom role."""
        workspace, _ = workspace_access(ws, "roles:manage")
        return svc.change_privileges(workspace, current_actor(), role_id, remove=data["privileges"])
