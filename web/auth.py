"""Bearer-token authentication shared by every part of the API: the raw token, the request facts an Actor
carries, and the Actor of the request's token (authenticated once per request)."""

from flask import g, request

from models.services import Actor
from models.services.tokens import authenticate

_UNSET = object()


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


def request_actor():
    """Return the Actor of the request's bearer token, or None when it is missing, unknown, expired or revoked.

    The token is looked up once per request; every caller (admin API, SCIM, the provisioning log's refusal
    recorder) shares the answer."""
    actor = g.get("bearer_actor", _UNSET)
    if actor is _UNSET:
        actor = authenticate(bearer_token(), **request_info())
        g.bearer_actor = actor
    return actor


def authenticated_actor():
    """Return the Actor this request already authenticated, or None; never looks a token up."""
    return g.get("bearer_actor")


def public_actor(**extra):
    """Return the Actor of an unauthenticated request (invitation acceptance, SSO sign-in callbacks)."""
    return Actor(kind="public", **extra, **request_info())
