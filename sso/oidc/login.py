"""The authorization code flow with PKCE: the authorization URL, the code exchange, and finish_login, which
verifies the ID token it brings back (sso/oidc/id_token.py)."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ..checks import FAIL, PASS, WARN, Check
from ..fetch import FetchError
from .discovery import OidcError, _body, _load_json, fetch_jwks
from .id_token import verify_id_token

DEFAULT_SCOPE = "openid email profile"


@dataclass
class AuthorizationRequest:
    """An authorization URL and the secrets kept until the callback: state, nonce, PKCE verifier."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(code_verifier):
    """Return the S256 code challenge of a verifier (RFC 7636 §4.2)."""
    return _b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())


def authorization_request(
    provider, *, client_id, redirect_uri, state=None, scope=DEFAULT_SCOPE, prompt="login"
):
    """Return an AuthorizationRequest: the URL with PKCE (S256), nonce and state, and those secrets."""
    state = state or secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    # RFC 7636 §4.1: 43 to 128 characters from the unreserved set.
    code_verifier = secrets.token_urlsafe(64)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce_challenge(code_verifier),
        "code_challenge_method": "S256",
    }
    if prompt:
        params["prompt"] = prompt
    separator = "&" if "?" in provider.authorization_endpoint else "?"
    url = f"{provider.authorization_endpoint}{separator}{urlencode(params, quote_via=quote)}"
    return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=code_verifier)


def exchange_code(
    provider, *, code, client_id, client_secret, redirect_uri, code_verifier, fetch, auth_method=None
):
    """Exchange an authorization code at the token endpoint; return (checks, token response dict or None)."""
    stage = "token"
    method = auth_method or (
        "client_secret_basic"
        if "client_secret_basic" in provider.token_auth_methods
        else "client_secret_post"
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    headers = {"Accept": "application/json"}
    if method == "client_secret_basic":
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
        credentials = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
    elif method == "client_secret_post":
        form.update(client_id=client_id, client_secret=client_secret)
    else:
        raise OidcError(f"unsupported token endpoint auth method {method!r}")
    try:
        result = fetch(
            provider.token_endpoint, method="POST", data=form, headers=headers, allow_error_status=True
        )
        body = _load_json(_body(result))
    except (FetchError, OidcError) as exc:
        return [
            Check("oidc.token.exchange", stage, FAIL, f"The token endpoint could not be used: {exc}")
        ], None
    status = getattr(result, "status", 200)
    if status != 200 or "error" in body:
        error = body.get("error", f"HTTP {status}")
        description = body.get("error_description")
        fix = (
            "Check the client secret and the token endpoint auth method in the provider."
            if error == "invalid_client"
            else "Start a new test; codes are single-use and short-lived."
        )
        return [
            Check(
                "oidc.token.exchange",
                stage,
                FAIL,
                f"The token endpoint refused the code: {error}"
                + (f" ({description})" if description else ""),
                fix=fix,
                detail={"error": error, "error_description": description, "auth_method": method},
            )
        ], None
    if not body.get("id_token"):
        return [
            Check(
                "oidc.token.exchange",
                stage,
                FAIL,
                "The token response has no id_token",
                fix="Request the openid scope; check the app is an OpenID Connect app.",
            )
        ], None
    checks = [
        Check("oidc.token.exchange", stage, PASS, f"Exchanged the code for tokens ({method}, PKCE S256)")
    ]
    if str(body.get("token_type", "")).lower() != "bearer":
        checks.append(
            Check(
                "oidc.token.token_type",
                stage,
                WARN,
                f"token_type is {body.get('token_type')!r}, expected Bearer",
            )
        )
    return checks, body


def finish_login(
    provider,
    *,
    code,
    code_verifier,
    nonce,
    client_id,
    client_secret,
    redirect_uri,
    fetch,
    allowed_domains=None,
    now=None,
    auth_method=None,
):
    """Exchange the code, fetch the keys and verify the ID token; return (checks, profile)."""
    checks, tokens = exchange_code(
        provider,
        code=code,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        fetch=fetch,
        auth_method=auth_method,
    )
    if tokens is None:
        return checks, {}
    jwks_checks, jwks = fetch_jwks(provider.jwks_uri, fetch)
    checks += jwks_checks
    if jwks is None:
        return checks, {}
    token_checks, profile = verify_id_token(
        tokens["id_token"],
        jwks,
        issuer=provider.issuer,
        client_id=client_id,
        nonce=nonce,
        now=now,
        allowed_domains=allowed_domains,
    )
    return checks + token_checks, profile
