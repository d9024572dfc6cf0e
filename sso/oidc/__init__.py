"""OpenID Connect engine: discovery, JWKS, authorization code flow with PKCE, ID token verification.

Pure functions: the caller passes the fetch function (sso.fetch.fetch_url bound to the
workspace's network setting) and stores state, nonce and code verifier of a pending test itself.

Modules: discovery (discovery document, JWKS), login (authorization URL, code exchange, finish_login),
id_token (ID token verification).
"""

from .discovery import OidcError, ProviderMetadata, discover, discovery_url, fetch_jwks
from .id_token import DEFAULT_LEEWAY, verify_id_token
from .login import AuthorizationRequest, authorization_request, exchange_code, finish_login, pkce_challenge

__all__ = [
    "DEFAULT_LEEWAY",
    "AuthorizationRequest",
    "OidcError",
    "ProviderMetadata",
    "authorization_request",
    "discover",
    "discovery_url",
    "exchange_code",
    "fetch_jwks",
    "finish_login",
    "pkce_challenge",
    "verify_id_token",
]
