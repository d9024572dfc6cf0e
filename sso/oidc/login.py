"""The authorization code flow with PKCE: the authorization URL, the code exchange, and finish_login, which
verifies the ID token it brings back (sso/oidc/id_token.py) and completes the profile from the UserInfo
endpoint when the ID token lacks a claim Roster needs (OIDC Core §5.4: providers may put the claims of the
email and profile scopes only there)."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ..checks import FAIL, INFO, PASS, WARN, Check
from ..fetch import FetchError
from .discovery import OidcError, _body, _load_json, fetch_jwks
from .id_token import PROFILE_CLAIMS, check_profile_email, profile_from_claims, verify_id_token, \
    verify_signed_userinfo

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
    jwks_checks, jwks = fetch_jwks(provider.jwks_uri, fetch, check_prefix="oidc.token.jwks", stage="token")
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
        check_profile=False,
    )
    checks += token_checks
    if not profile or any(c.status == FAIL for c in token_checks):
        profile.pop("_claims", None)
        return checks, profile
    claims = profile.pop("_claims")
    sources = {claim: "id_token" for claim in ("email", "name", "given_name", "family_name") if claim in claims}
    if not _has_needed_claims(claims):
        info_checks, extra = fetch_userinfo(provider, tokens, fetch, jwks, client_id=client_id,
                                            subject=claims.get("sub"))
        checks += info_checks
        for claim, value in (extra or {}).items():
            if claim not in claims and claim != "sub":
                claims[claim] = value
                sources[claim] = "userinfo"
        profile = profile_from_claims(claims)
    profile["claim_sources"] = sources
    shown = {claim: sources.get(claim, "missing") for claim in ("email", "name", "given_name", "family_name")}
    checks.append(Check("oidc.profile.sources", "profile", INFO, "Claims read from: " + ", ".join(
        f"{claim} from {'the ' + source.replace('_', ' ') if source != 'missing' else 'nowhere'}"
        for claim, source in shown.items()), detail=shown))

    def add(check_id, status, message, fix=None, detail=None, stage="profile"):
        checks.append(Check(check_id, stage, status, message, fix=fix, detail=detail))

    asked = any(c.id == "oidc.userinfo.fetch" and c.status == PASS for c in checks)
    where = "Neither the ID token nor the UserInfo answer" if asked else "The ID token"
    check_profile_email(claims, add, allowed_domains, where)
    return checks, profile


def _has_needed_claims(claims):
    """Tell whether the ID token carries what Roster needs: an email and a name (any of the name claims)."""
    email = claims.get("email")
    named = any(isinstance(claims.get(c), str) and claims.get(c) for c in ("name", "given_name", "family_name"))
    return isinstance(email, str) and "@" in email and named


def fetch_userinfo(provider, tokens, fetch, jwks, *, client_id, subject):
    """Call the UserInfo endpoint with the access token (OIDC Core §5.3); return (checks, claims or None).

    The answer is JSON or a signed JWT (§5.3.2); its sub must equal the ID token's (§5.3.4)."""
    stage = "userinfo"
    access_token = tokens.get("access_token")
    if not provider.userinfo_endpoint or not isinstance(access_token, str) or not access_token:
        missing = "userinfo_endpoint in the discovery document" if not provider.userinfo_endpoint \
            else "access_token in the token response"
        return [Check("oidc.userinfo.fetch", stage, INFO,
                      f"The ID token lacks a claim Roster reads and there is no {missing} to ask for it")], None
    try:
        result = fetch(provider.userinfo_endpoint, headers={
            "Authorization": f"Bearer {access_token}", "Accept": "application/json, application/jwt"})
    except FetchError as exc:
        return [Check("oidc.userinfo.fetch", stage, FAIL, f"The UserInfo endpoint could not be used: {exc}",
                      fix="Check that the app may call the UserInfo endpoint with its access token.")], None
    content_type = (getattr(result, "headers", {}) or {}).get("content-type", "").split(";")[0].strip().lower()
    checks = []
    if content_type == "application/jwt":
        checks.append(Check("oidc.userinfo.fetch", stage, PASS,
                            f"Read the UserInfo answer (signed JWT) from {provider.userinfo_endpoint}"))
        signed_checks, claims = verify_signed_userinfo(_body(result).decode("ascii", "replace").strip(), jwks,
                                                       issuer=provider.issuer, client_id=client_id)
        checks += signed_checks
        if claims is None:
            return checks, None
    else:
        try:
            claims = _load_json(_body(result))
        except OidcError as exc:
            return [Check("oidc.userinfo.fetch", stage, FAIL, f"The UserInfo answer is unusable: {exc}")], None
        checks.append(Check("oidc.userinfo.fetch", stage, PASS,
                            f"Read the UserInfo answer (JSON) from {provider.userinfo_endpoint}"))
    if not isinstance(claims.get("sub"), str) or claims.get("sub") != subject:
        checks.append(Check("oidc.userinfo.subject", stage, FAIL,
                            f"The UserInfo answer is about subject {claims.get('sub')!r}, the ID token about "
                            f"{subject!r}: its claims are not used",
                            fix="Do not trust this answer (OIDC Core §5.3.4: the sub values must be identical).",
                            detail={"userinfo_sub": claims.get("sub"), "id_token_sub": subject}))
        return checks, None
    checks.append(Check("oidc.userinfo.subject", stage, PASS, "The UserInfo answer is about the same subject"))
    return checks, {k: v for k, v in claims.items() if k in set(PROFILE_CLAIMS.values()) | {"sub"}}
