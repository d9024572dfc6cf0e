"""Admin API authentication: bearer token -> Actor; workspace reference -> (workspace, access)."""

from flask import g, request
from flask_smorest import abort

from models.services import Actor
from models.services.authz import access_for
from models.services.tokens import authenticate
from models.services.workspaces import find_workspace


def request_info():
    """Return the request facts an Actor carries (client address, user agent, request id, received time)."""
    return {"ip": request.remote_addr, "user_agent": (request.user_agent.string or "")[:400] or None,
            "request_id": g.get("request_id"), "received_at": g.get("request_started")}


def bearer_token():
    """Return the raw bearer token of the request, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_actor():
    """Return the authenticated Actor; answer 401 when the token is missing or invalid."""
    actor = g.get("actor")
    if actor is None:
        actor = authenticate(bearer_token(), **request_info())
        if actor is None:
            abort(401, message="A valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        if actor.kind == "service" and not ({"admin", "audit:read"} & actor.scopes):
            abort(403, message="This token's scopes do not allow the admin API")
        g.actor = actor
    return actor


def authenticate_request():
    """Authenticate before the body is parsed: a caller without a valid token gets 401, never a 422."""
    current_actor()


def public_actor():
    """Return the Actor of an unauthenticated request (invitation acceptance)."""
    return Actor(kind="public", **request_info())


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
