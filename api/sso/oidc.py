"""OpenID Connect engine: discovery, JWKS, authorization code flow with PKCE, ID token verification.

Pure functions: the caller passes the fetch function (api.sso.fetch.fetch_url bound to the
workspace's network setting) and stores state, nonce and code verifier of a pending test itself.
"""

import base64
import hashlib
import hmac
import json
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlencode, urlsplit

import jwt

from .checks import FAIL, PASS, WARN, Check, check_email_domain
from .fetch import FetchError

ALLOWED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
EMBEDDED_KEY_HEADERS = ("jwk", "jku", "x5u", "x5c")
# OpenID Connect Discovery 1.0 §3: metadata every provider MUST publish.
REQUIRED_DISCOVERY_FIELDS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)
# Discovery §3 types: the *_supported members are JSON arrays of strings, the others strings (URLs).
OPTIONAL_DISCOVERY_LISTS = ("token_endpoint_auth_methods_supported", "code_challenge_methods_supported")
OPTIONAL_DISCOVERY_STRINGS = ("userinfo_endpoint",)
DEFAULT_LEEWAY = timedelta(seconds=60)
MAX_LEEWAY = timedelta(minutes=5)
MAX_TOKEN_AGE = timedelta(minutes=10)
DEFAULT_SCOPE = "openid email profile"
PREVIEW_CLAIMS = (
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "auth_time",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "hd",
    "tid",
)


class OidcError(Exception):
    """An OIDC input could not be used; the message is meant for the admin."""


@dataclass
class ProviderMetadata:
    """The parts of an OpenID provider's discovery document Roster uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    signing_algorithms: list = field(default_factory=list)
    token_auth_methods: list = field(default_factory=lambda: ["client_secret_basic"])
    code_challenge_methods: list = field(default_factory=list)
    raw: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, document):
        """Build ProviderMetadata from a discovery document dict."""
        return cls(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            signing_algorithms=list(document.get("id_token_signing_alg_values_supported") or []),
            # OIDC Discovery §3: client_secret_basic is the default when the field is omitted.
            token_auth_methods=list(
                document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            ),
            code_challenge_methods=list(document.get("code_challenge_methods_supported") or []),
            raw=document,
        )


@dataclass
class AuthorizationRequest:
    """An authorization URL and the secrets kept until the callback: state, nonce, PKCE verifier."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def _body(result):
    if isinstance(result, (bytes, bytearray)):
        return bytes(result)
    if isinstance(result, str):
        return result.encode("utf-8")
    return result.content


def _load_json(data):
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise OidcError(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise OidcError("the JSON is not an object")
    return value


def discovery_url(issuer):
    """Return the discovery document URL of an issuer (OIDC Discovery §4.1)."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _insecure(url):
    parts = urlsplit(url or "")
    return parts.scheme != "https" and parts.hostname not in ("localhost", "127.0.0.1", "::1")


def _malformed_fields(document):
    """Return the discovery fields present whose JSON type is not the one Discovery §3 gives them."""
    bad = []
    for name in REQUIRED_DISCOVERY_FIELDS + OPTIONAL_DISCOVERY_LISTS + OPTIONAL_DISCOVERY_STRINGS:
        if name not in document or (document[name] is None and name not in REQUIRED_DISCOVERY_FIELDS):
            continue
        value = document[name]
        if name.endswith("_supported"):
            ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        else:
            ok = isinstance(value, str)
        if not ok:
            bad.append(name)
    return bad


def discover(issuer, fetch):
    """Fetch and check the issuer's discovery document; return (checks, ProviderMetadata or None)."""
    stage = "discovery"
    url = discovery_url(issuer)
    try:
        document = _load_json(_body(fetch(url)))
    except (FetchError, OidcError) as exc:
        return [
            Check(
                "oidc.discovery.fetch",
                stage,
                FAIL,
                f"Cannot read the discovery document at {url}: {exc}",
                fix="Check the issuer URL: it must be the one the provider documents, without "
                "/.well-known/openid-configuration.",
            )
        ], None
    checks = [Check("oidc.discovery.fetch", stage, PASS, f"Read the discovery document at {url}")]
    missing = [name for name in REQUIRED_DISCOVERY_FIELDS if not document.get(name)]
    if missing:
        checks.append(
            Check(
                "oidc.discovery.required_fields",
                stage,
                FAIL,
                f"The discovery document lacks {', '.join(missing)}",
                detail={"missing": missing},
            )
        )
        return checks, None
    malformed = _malformed_fields(document)
    if malformed:
        checks.append(
            Check(
                "oidc.discovery.required_fields",
                stage,
                FAIL,
                f"The discovery document has malformed {', '.join(malformed)}: the *_supported fields must be "
                "lists of strings and the others strings",
                fix="Check that the issuer URL points at the provider's OpenID Connect discovery document.",
                detail={"malformed": malformed},
            )
        )
        return checks, None
    checks.append(
        Check(
            "oidc.discovery.required_fields", stage, PASS, "The discovery document has every required field"
        )
    )
    # OIDC Discovery §4.3: the issuer in the document MUST be identical to the issuer used to fetch it.
    if document["issuer"] != issuer:
        checks.append(
            Check(
                "oidc.discovery.issuer",
                stage,
                FAIL,
                f"The provider calls itself {document['issuer']!r}, not {issuer!r}",
                fix=f"Set the connection's issuer to exactly {document['issuer']} if that provider is the "
                "right one.",
                detail={"issuer": document["issuer"], "expected": issuer},
            )
        )
        return checks, None
    checks.append(Check("oidc.discovery.issuer", stage, PASS, f"The issuer is exactly {issuer}"))
    provider = ProviderMetadata.from_dict(document)
    if "code" not in document["response_types_supported"]:
        checks.append(
            Check(
                "oidc.discovery.code_flow",
                stage,
                FAIL,
                "The provider does not support the authorization code flow (response_type=code)",
            )
        )
    else:
        checks.append(
            Check(
                "oidc.discovery.code_flow", stage, PASS, "The provider supports the authorization code flow"
            )
        )
    usable = [a for a in provider.signing_algorithms if a in ALLOWED_ALGORITHMS]
    if usable:
        checks.append(
            Check(
                "oidc.discovery.signing_algorithms",
                stage,
                PASS,
                f"ID tokens can be signed with {', '.join(usable)}",
            )
        )
    else:
        checks.append(
            Check(
                "oidc.discovery.signing_algorithms",
                stage,
                FAIL,
                f"The provider signs ID tokens only with {', '.join(provider.signing_algorithms)}; Roster "
                "accepts asymmetric algorithms only (RS*, PS*, ES*, EdDSA)",
                fix="Configure the app in the provider to sign ID tokens with RS256.",
            )
        )
    if "S256" in provider.code_challenge_methods:
        checks.append(Check("oidc.discovery.pkce", stage, PASS, "The provider supports PKCE with S256"))
    else:
        checks.append(
            Check(
                "oidc.discovery.pkce",
                stage,
                WARN,
                "The provider does not advertise PKCE S256; Roster sends it anyway",
            )
        )
    if not {"client_secret_basic", "client_secret_post"} & set(provider.token_auth_methods):
        checks.append(
            Check(
                "oidc.discovery.token_auth",
                stage,
                FAIL,
                f"The token endpoint accepts {', '.join(provider.token_auth_methods)}; Roster uses "
                "client_secret_basic or client_secret_post",
            )
        )
    insecure = [
        name for name in ("authorization_endpoint", "token_endpoint", "jwks_uri") if _insecure(document[name])
    ]
    if insecure:
        checks.append(
            Check(
                "oidc.discovery.https",
                stage,
                WARN,
                f"Plain http endpoints: {', '.join(insecure)}",
                fix="Use the provider's https endpoints.",
            )
        )
    return checks, provider


def _usable_key(jwk_dict):
    return (
        isinstance(jwk_dict, dict)
        and jwk_dict.get("kty") in ("RSA", "EC", "OKP")
        and jwk_dict.get("use", "sig") == "sig"
    )


def fetch_jwks(jwks_uri, fetch):
    """Fetch the provider's JSON Web Key Set; return (checks, jwks dict or None)."""
    stage = "discovery"
    try:
        jwks = _load_json(_body(fetch(jwks_uri)))
    except (FetchError, OidcError) as exc:
        return [
            Check("oidc.jwks.fetch", stage, FAIL, f"Cannot read the provider's keys at {jwks_uri}: {exc}")
        ], None
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return [Check("oidc.jwks.fetch", stage, FAIL, "The JWKS has no 'keys' list")], None
    usable = [k for k in keys if _usable_key(k)]
    if not usable:
        return [Check("oidc.jwks.keys", stage, FAIL, "The JWKS holds no asymmetric signing key")], None
    kids = [k.get("kid") for k in usable]
    checks = [
        Check(
            "oidc.jwks.keys",
            stage,
            PASS,
            f"The JWKS holds {len(usable)} signing key(s)",
            detail={"kids": kids},
        )
    ]
    if len(usable) > 1 and None in kids:
        checks.append(
            Check(
                "oidc.jwks.kid",
                stage,
                WARN,
                "Some keys have no kid; tokens signed with them cannot be " "matched to a key",
            )
        )
    return checks, {"keys": usable}


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


def _skew(leeway):
    value = leeway if isinstance(leeway, timedelta) else timedelta(seconds=leeway)
    if value < timedelta(0) or value > MAX_LEEWAY:
        raise ValueError(f"leeway must be between 0 and {int(MAX_LEEWAY.total_seconds())} seconds")
    return value.total_seconds()


def _select_key(header, jwks, add):
    keys = [k for k in (jwks or {}).get("keys", []) if _usable_key(k)]
    kid = header.get("kid")
    known = [k.get("kid") for k in keys]
    if kid is not None:
        matches = [k for k in keys if k.get("kid") == kid]
        if not matches:
            add(
                "oidc.id_token.kid",
                FAIL,
                f"The token's key id {kid!r} is not in the provider's JWKS ({known})",
                fix="If the provider just rotated its keys, run the test again (Roster fetches the JWKS "
                "for every "
                "test); otherwise this token was not signed by the provider.",
                detail={"kid": kid, "known": known},
            )
            return None
        key = matches[0]
    elif len(keys) == 1:
        key = keys[0]
    else:
        # OIDC Core §10.1: with several keys in the JWKS, the kid header MUST be present.
        add(
            "oidc.id_token.kid",
            FAIL,
            "The token has no key id (kid) and the JWKS holds several keys",
            detail={"known": known},
        )
        return None
    alg = header["alg"]
    if key.get("alg") and key["alg"] != alg:
        add(
            "oidc.id_token.kid", FAIL, f"The key {key.get('kid')!r} is for {key['alg']}, the token says {alg}"
        )
        return None
    if KEY_TYPES.get(alg[:2]) != key.get("kty"):
        add(
            "oidc.id_token.kid",
            FAIL,
            f"The key {key.get('kid')!r} is a {key.get('kty')} key, unusable with {alg}",
        )
        return None
    add("oidc.id_token.kid", PASS, f"Signed with the provider's key {key.get('kid') or '(only key)'}")
    return key


def _claims_preview(claims):
    return {name: claims[name] for name in PREVIEW_CLAIMS if name in claims}


def verify_id_token(
    token, jwks, *, issuer, client_id, nonce, now=None, allowed_domains=None, leeway=DEFAULT_LEEWAY
):
    """Verify an ID token (OIDC Core §3.1.3.7) against the JWKS; return (checks, profile)."""
    skew = _skew(leeway)
    now = (now or datetime.now(timezone.utc)).timestamp()
    checks = []

    def add(check_id, status, message, fix=None, detail=None, stage="id_token"):
        checks.append(Check(check_id, stage, status, message, fix=fix, detail=detail))

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        add("oidc.id_token.format", FAIL, f"The ID token is not a JWS compact token: {exc}")
        return checks, {}
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        add(
            "oidc.id_token.algorithm",
            FAIL,
            "The ID token is unsigned (alg none); Roster refuses unsigned tokens",
            fix="Configure the app in the provider to sign ID tokens with RS256.",
        )
        return checks, {}
    if alg.upper().startswith("HS"):
        add(
            "oidc.id_token.algorithm",
            FAIL,
            f"The ID token uses {alg}, a shared-secret (HMAC) algorithm; "
            "Roster accepts only asymmetric signatures",
            fix="Configure the app in the provider to sign ID tokens with RS256.",
        )
        return checks, {}
    if alg not in ALLOWED_ALGORITHMS:
        add("oidc.id_token.algorithm", FAIL, f"The ID token uses {alg}, which Roster does not accept")
        return checks, {}
    add("oidc.id_token.algorithm", PASS, f"The ID token is signed with {alg}")
    embedded = [name for name in EMBEDDED_KEY_HEADERS if name in header]
    if embedded:
        # Keys named by the token itself prove nothing: only the provider's JWKS is trusted.
        add(
            "oidc.id_token.header_keys",
            WARN,
            f"The token header carries {', '.join(embedded)}; "
            "Roster ignores keys offered by the token itself",
            detail={"headers": embedded},
        )
    key_dict = _select_key(header, jwks, add)
    if key_dict is None:
        return checks, {}
    try:
        key = jwt.PyJWK(key_dict, algorithm=alg).key
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "require": [],
            },
        )
    except jwt.InvalidSignatureError:
        add(
            "oidc.id_token.signature",
            FAIL,
            "The ID token signature does not verify with the provider's key",
            fix="Do not trust this token: it was altered or signed by someone else.",
        )
        return checks, {}
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        add("oidc.id_token.signature", FAIL, f"The ID token could not be verified: {exc}")
        return checks, {}
    try:
        json.dumps(claims, allow_nan=False)
    except ValueError:
        # RFC 8259 §6: NaN and Infinity are not JSON numbers; Python's parser lets them through.
        add("oidc.id_token.signature", FAIL,
            "The ID token could not be verified: its claims hold NaN or Infinity, which JSON does not allow")
        return checks, {}
    add("oidc.id_token.signature", PASS, "The ID token signature verifies with the provider's key")
    _check_claims(claims, add, issuer=issuer, client_id=client_id, nonce=nonce, now=now, skew=skew)
    profile = {
        "sub": claims.get("sub"),
        "email": claims.get("email"),
        "email_verified": claims.get("email_verified"),
        "given_name": claims.get("given_name"),
        "family_name": claims.get("family_name"),
        "display_name": claims.get("name"),
        "claims": _claims_preview(claims),
    }
    email = _check_email(claims, add)
    if email is not None and allowed_domains is not None:
        checks.append(check_email_domain(email, allowed_domains, "oidc.profile.email_domain", "profile"))
    return checks, profile


def _number(claims, name):
    value = claims.get(name)
    usable = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return value if usable else None


def _datetime(timestamp):
    """Return the UTC datetime of a NumericDate, or None when no calendar date can hold it."""
    try:
        return datetime.fromtimestamp(timestamp, timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def _when(timestamp):
    moment = _datetime(timestamp)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else str(timestamp)


def _check_claims(claims, add, *, issuer, client_id, nonce, now, skew):
    if claims.get("iss") != issuer:
        add(
            "oidc.id_token.issuer",
            FAIL,
            f"The token's issuer is {claims.get('iss')!r}, not {issuer!r}",
            detail={"iss": claims.get("iss"), "expected": issuer},
        )
    else:
        add("oidc.id_token.issuer", PASS, f"Issued by {issuer}")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    azp = claims.get("azp")
    if client_id not in audiences:
        add(
            "oidc.id_token.audience",
            FAIL,
            f"The token is meant for {audiences}, not for this client ({client_id})",
            fix="Check the connection's client_id.",
            detail={"aud": audiences, "expected": client_id},
        )
    elif (len(audiences) > 1 or azp is not None) and azp != client_id:
        add(
            "oidc.id_token.audience",
            FAIL,
            f"The token was issued to {azp!r} (azp), not to this client ({client_id})",
            detail={"azp": azp, "expected": client_id},
        )
    else:
        add("oidc.id_token.audience", PASS, f"The audience is {client_id}")
    exp, iat, nbf = _number(claims, "exp"), _number(claims, "iat"), claims.get("nbf")
    if exp is None:
        add("oidc.id_token.expiry", FAIL, "The token has no numeric exp claim")
    elif _datetime(exp) is None:
        # RFC 7519 §2 NumericDate: a time in seconds; one past any calendar date is no usable expiry.
        add("oidc.id_token.expiry", FAIL, f"The token's exp claim {exp} is not a usable time",
            detail={"exp": exp})
    elif now >= exp + skew:
        add(
            "oidc.id_token.expiry",
            FAIL,
            f"The token expired at {_when(exp)} (now {_when(now)})",
            fix="Sign in again; if it keeps happening, check the server clocks (NTP).",
        )
    else:
        add("oidc.id_token.expiry", PASS, f"The token is valid until {_when(exp)}")
    if iat is None:
        add("oidc.id_token.issued_at", FAIL, "The token has no numeric iat claim")
    elif iat > now + skew:
        add(
            "oidc.id_token.issued_at",
            FAIL,
            f"The token was issued in the future ({_when(iat)})",
            fix="Check the server clocks (NTP).",
        )
    elif now - iat > MAX_TOKEN_AGE.total_seconds() + skew:
        add(
            "oidc.id_token.issued_at",
            FAIL,
            f"The token is too old (issued {_when(iat)})",
            fix="Sign in again.",
        )
    else:
        add("oidc.id_token.issued_at", PASS, f"Issued at {_when(iat)}")
    if nbf is not None and (not isinstance(nbf, (int, float)) or nbf > now + skew):
        add("oidc.id_token.not_before", FAIL, f"The token is not valid yet (nbf {nbf})")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(
        token_nonce.encode(), (nonce or "").encode()
    ):
        add(
            "oidc.id_token.nonce",
            FAIL,
            "The token's nonce does not match this test's nonce",
            fix="Start a new test and complete it in the same browser; a token cannot be reused.",
        )
    else:
        add("oidc.id_token.nonce", PASS, "The nonce matches this test")
    if not isinstance(claims.get("sub"), str) or not claims.get("sub"):
        add("oidc.id_token.subject", FAIL, "The token has no subject (sub)")
    else:
        add("oidc.id_token.subject", PASS, f"Subject {claims['sub']}")


def _check_email(claims, add):
    """Check the token's email claim; return the email when there is one."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        add(
            "oidc.profile.email",
            FAIL,
            "The ID token carries no email",
            stage="profile",
            fix="Request the email scope and allow the app to release the user's email.",
        )
        return None
    add("oidc.profile.email", PASS, f"Email {email}", stage="profile")
    if claims.get("email_verified") is False:
        add(
            "oidc.profile.email_verified",
            WARN,
            "The provider says the email is not verified",
            stage="profile",
            fix="Only verified emails should sign in; verify the address in the provider.",
        )
    return email


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
