"""SCIM authentication: bearer token -> (actor, workspace) with scope `scim`; personal tokens only for /Me."""

from flask import g

from web.auth import bearer_token, request_actor

from .errors import ForbiddenError, UnauthorizedError
from .idp import detect_idp

SCIM_SCOPE = "scim"


def current_actor():
    """Return the actor of the request's bearer token, or raise 401."""
    actor = g.get("scim_actor")
    if actor is None:
        actor = request_actor()
        if actor is None:
            raise UnauthorizedError()
        g.scim_actor = actor
    return actor


def require_service_token():
    """Authenticate a workspace service token with the `scim` scope; set g.workspace; return the actor."""
    actor = current_actor()
    if actor.kind != "service":
        raise ForbiddenError("Personal tokens may only use /Me; provisioning needs a workspace token with "
                             "scope scim")
    if SCIM_SCOPE not in actor.scopes:
        raise ForbiddenError("This token does not have the scim scope")
    workspace = actor.workspace
    if workspace is None:
        raise UnauthorizedError()
    actor.idp = detect_idp(actor.user_agent, actor.token_label, workspace.setting("scim.default_idp"))
    g.workspace = workspace
    return actor


def discovery_workspace():
    """Return the workspace of the request's scim service token, None without one; 401 for a bad token.

    Discovery is public; a workspace token only tailors /Schemas to the workspace. A token that is sent
    but unknown, expired or revoked is still refused, so a misconfigured IdP learns it early. Any other
    valid token (a personal one, another scope) gets the generic answer.
    """
    if bearer_token() is None:
        return None
    actor = current_actor()
    if actor.kind != "service" or SCIM_SCOPE not in actor.scopes:
        return None
    return actor.workspace


def require_personal_token():
    """Authenticate a personal token (for /Me); return the actor."""
    actor = current_actor()
    if actor.kind != "personal" or actor.person is None:
        raise ForbiddenError("/Me needs a personal token: it is the user the token acts as")
    return actor
