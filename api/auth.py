"""Admin API authentication: bearer token -> Actor; workspace reference -> (workspace, access)."""

from flask import g, request
from flask_smorest import abort

from models.services.authz import access_for
from models.services.workspaces import find_workspace
from web.auth import public_actor, request_actor  # noqa: F401  (public_actor: re-exported for the views)


def current_actor():
    """Return the authenticated Actor; answer 401 when the token is missing or invalid."""
    actor = g.get("actor")
    if actor is None:
        actor = request_actor()
        if actor is None:
            abort(401, message="A valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        if actor.kind == "service" and not ({"admin", "audit:read"} & actor.scopes):
            abort(403, message="This token's scopes do not allow the admin API")
        g.actor = actor
    return actor


def authenticate_request():
    """Authenticate before the body is parsed: a caller without a valid token gets 401, never a 422."""
    current_actor()


def workspace_access(ref, privilege=None, environment=None):
    """Resolve `{ws}` for the current actor: (workspace, access). Invisible workspaces are 404."""
    actor = current_actor()
    workspace = find_workspace(ref)
    access = access_for(actor, workspace)
    if any("\x00" in value for value in (request.view_args or {}).values() if isinstance(value, str)):
        # No id holds NUL (and PostgreSQL cannot even compare one): nothing by that name exists.
        abort(404, message="Not found")
    if privilege:
        access.require(privilege, environment)
    return workspace, access


def require_person():
    """Return the acting person; answer 403 for tokens that do not act as a person."""
    actor = current_actor()
    if actor.person is None:
        abort(403, message="This action needs a personal token")
    return actor.person
