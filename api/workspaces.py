"""Workspaces: create (one or in bulk), read, update, settings, stats, clone and the two-step delete."""

from flask.views import MethodView
from flask_smorest import Blueprint

from models.services import workspaces as svc
from models.workspace import Workspace, default_settings
from web.audit import operation

from .auth import authenticate_request, current_actor, require_person, workspace_access
from .schemas import (BulkResultSchema, BulkWorkspaceSchema, CloneSchema, DeleteWorkspaceSchema,
                      DeletionPreviewSchema, MessageSchema, SettingsSchema, StatsSchema, WorkspaceListSchema,
                      WorkspaceSchema, WorkspaceUpdateSchema)

blp = Blueprint("workspaces", __name__, url_prefix="/api/v1/workspaces", description="Workspaces (tenants)")
blp.before_request(authenticate_request)


@blp.route("")
class Workspaces(MethodView):
    @blp.response(200, WorkspaceListSchema)
    def get(self):
        """List my workspaces (personal token) or the token's workspace (service token)."""
        actor = current_actor()
        if actor.person is not None:
            items = svc.workspaces_of(actor.person)
        else:
            items = list(Workspace.select().where(Workspace.id == actor.workspace_id))
        return {"items": items, "total": len(items)}

    @blp.arguments(WorkspaceSchema)
    @blp.response(201, WorkspaceSchema)
    @operation("workspace.created", "workspace")
    def post(self, data):
        """Create a workspace; the acting person becomes its owner."""
        person = require_person()
        return svc.create_workspace(current_actor(), data["name"], person, slug=data.get("slug"),
                                    logo_url=data.get("logo_url"), environments=data.get("environments"),
                                    settings=data.get("settings"))


@blp.route("/provision")
class Provision(MethodView):
    @blp.arguments(BulkWorkspaceSchema)
    @blp.response(201, BulkResultSchema)
    @operation("workspace.created", "workspace")
    def post(self, data):
        """Create several workspaces at once, all or none; the acting person owns them."""
        person = require_person()
        return {"created": svc.provision_workspaces(current_actor(), person, data["workspaces"])}


@blp.route("/<ws>")
class WorkspaceItem(MethodView):
    @blp.response(200, WorkspaceSchema)
    def get(self, ws):
        """Read a workspace."""
        workspace, _ = workspace_access(ws, "workspace:read")
        return workspace

    @blp.arguments(WorkspaceUpdateSchema)
    @blp.response(200, WorkspaceSchema)
    @operation("workspace.updated", "workspace")
    def patch(self, data, ws):
        """Change a workspace's name, slug, logo or environments."""
        workspace, access = workspace_access(ws, "workspace:update")
        if "environments" in data:
            access.require("roles:manage")
        return svc.update_workspace(workspace, current_actor(), data)

    # The Workspaces API the seed replaces updates with PUT: same partial update as PATCH.
    put = patch

    @blp.arguments(DeleteWorkspaceSchema)
    @blp.response(204)
    @operation("workspace.deleted", "workspace")
    def delete(self, data, ws):
        """Delete a workspace with the one-time code mailed by POST deletion-code."""
        workspace, _ = workspace_access(ws, "workspace:delete")
        require_person()
        svc.delete_workspace(workspace, current_actor(), data["code"])


@blp.route("/<ws>/deletion-preview")
@blp.response(200, DeletionPreviewSchema)
def deletion_preview(ws):
    """Show what deleting the workspace would remove."""
    workspace, _ = workspace_access(ws, "workspace:delete")
    return svc.deletion_preview(workspace)


@blp.route("/<ws>/deletion-code", methods=["POST"])
@blp.response(202, MessageSchema)
@operation("workspace.deletion_code_sent", "workspace")
def deletion_code(ws):
    """Mail a one-time deletion code to the acting admin."""
    workspace, _ = workspace_access(ws, "workspace:delete")
    person = require_person()
    svc.request_deletion_code(workspace, current_actor())
    return {"message": f"A code was mailed to {person.email}"}


@blp.route("/<ws>/clone", methods=["POST"])
@blp.arguments(CloneSchema)
@blp.response(201, WorkspaceSchema)
@operation("workspace.cloned", "workspace")
def clone(data, ws):
    """Copy a workspace's settings, roles, groups and grants (not its members) into a new one."""
    # Copying out a workspace's whole configuration is an administrator's act, not a reader's.
    workspace, _ = workspace_access(ws, "workspace:update")
    require_person()
    return svc.clone_workspace(workspace, current_actor(), data["name"], slug=data.get("slug"))


@blp.route("/<ws>/settings")
class Settings(MethodView):
    @blp.response(200, SettingsSchema)
    def get(self, ws):
        """Read the workspace settings."""
        workspace, _ = workspace_access(ws, "workspace:read")
        return {"settings": {**default_settings(), **(workspace.settings or {})}}

    @blp.arguments(SettingsSchema)
    @blp.response(200, SettingsSchema)
    @operation("workspace.settings_changed", "workspace")
    def put(self, data, ws):
        """Replace the workspace settings (validated against the catalogue)."""
        workspace, _ = workspace_access(ws, "workspace:update")
        return {"settings": svc.replace_settings(workspace, current_actor(), data["settings"])}


@blp.route("/<ws>/stats")
@blp.response(200, StatsSchema)
def stats(ws):
    """Count members, groups, roles, tokens and invitations."""
    workspace, _ = workspace_access(ws, "workspace:read")
    return svc.stats(workspace)
