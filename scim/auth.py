"""SCIM authentication: bearer token -> (actor, workspace) with scope `scim`; personal tokens only for /Me."""

from flask import g, request

from api.auth import bearer_token, request_info
from models.services.tokens import authenticate
from models.workspace import Workspace

from .errors import ForbiddenError, UnauthorizedError

SCIM_SCOPE = "scim"
# Recognised from User-Agent so the provisioning log can say which IdP sent a request.
IDP_USER_AGENTS = (("okta", "okta"), ("azure", "entra"), ("microsoft", "entra"), ("onelogin", "onelogin"),
                   ("jumpcloud", "jumpcloud"), ("pingidentity", "pingone"), ("pingone", "pingone"),
                   ("rippling", "rippling"), ("google", "google"))


def _idp(workspace):
    agent = (request.user_agent.string or "").lower()
    for needle, name in IDP_USER_AGENTS:
        if needle in agent:
            return name
    return (workspace.setting("scim.default_idp") if workspace is not None else "") or None


def current_actor():
    """Return the actor of the request's bearer token, or raise 401."""
    actor = g.get("scim_actor")
    if actor is None:
        actor = authenticate(bearer_token(), **request_info())
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
    workspace = Workspace.get_or_none(Workspace.id == actor.workspace_id)
    if workspace is None:
        raise UnauthorizedError()
    actor.idp = _idp(workspace)
    g.workspace = workspace
    return actor


def require_personal_token():
    """Authenticate a personal token (for /Me); return the actor."""
    actor = current_actor()
    if actor.kind != "personal" or actor.person is None:
        raise ForbiddenError("/Me needs a personal token: it is the user the token acts as")
    return actor
