"""ID token verification (OIDC Core §3.1.3.7): signing key, algorithm, claims, email and its domain."""

import base64
import hmac
import json
import math
from datetime import datetime, timedelta, timezone

import jwt


from ..checks import FAIL, PASS, WARN, Check, check_email_domain
from ..fetch import MAX_JSON_DEPTH, nests_too_deep, parse_json
from .discovery import ALLOWED_ALGORITHMS, _usable_key

KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
EMBEDDED_KEY_HEADERS = ("jwk", "jku", "x5u", "x5c")
DEFAULT_LEEWAY = timedelta(seconds=60)
MAX_LEEWAY = timedelta(minutes=5)
MAX_TOKEN_AGE = timedelta(minutes=10)
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


def _skew(leeway):
    value = leeway if isinstance(leeway, timedelta) else timedelta(seconds=leeway)
    if value < timedelta(0) or value > MAX_LEEWAY:
        raise ValueError(f"leeway must be between 0 and {int(MAX_LEEWAY.total_seconds())} seconds")
    return value.total_seconds()


def _select_key(header, jwks, add, check_id="oidc.id_token.kid"):
    keys = [k for k in (jwks or {}).get("keys", []) if _usable_key(k)]
    kid = header.get("kid")
    known = [k.get("kid") for k in keys]
    if kid is not None:
        matches = [k for k in keys if k.get("kid") == kid]
        if not matches:
            add(
                check_id,
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
            check_id,
            FAIL,
            "The token has no key id (kid) and the JWKS holds several keys",
            detail={"known": known},
        )
        return None
    alg = header["alg"]
    if key.get("alg") and key["alg"] != alg:
        add(
            check_id, FAIL, f"The key {key.get('kid')!r} is for {key['alg']}, the token says {alg}"
        )
        return None
    if KEY_TYPES.get(alg[:2]) != key.get("kty"):
        add(
            check_id,
            FAIL,
            f"The key {key.get('kid')!r} is a {key.get('kty')} key, unusable with {alg}",
        )
        return None
    add(check_id, PASS, f"Signed with the provider's key {key.get('kid') or '(only key)'}")
    return key


def _collector(default_stage):
    """Return (checks, add): a list and the function that appends a Check to it."""
    checks = []

    def add(check_id, status, message, fix=None, detail=None, stage=default_stage):
        checks.append(Check(check_id, stage, status, message, fix=fix, detail=detail))

    return checks, add


def _decode_signed(token, key_dict, alg):
    """Return a JWS's claims once its signature verifies with the key; the claims are checked by the caller."""
    return jwt.decode(token, jwt.PyJWK(key_dict, algorithm=alg).key, algorithms=[alg], options={
        "verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
        "verify_aud": False, "verify_iss": False, "require": []})


def _claims_preview(claims):
    return {name: claims[name] for name in PREVIEW_CLAIMS if name in claims}


def _check_segments(token):
    """Parse the token's header and claims with the bounded loader first (PyJWT's parser recurses without a
    bound): raise ValueError for a segment that is not base64url JSON text of a sane depth."""
    if not isinstance(token, str):
        raise ValueError("the token is not a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a JWS compact token has three parts")
    for part in parts[:2]:
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"a segment is not base64url: {exc}") from None
        parse_json(raw, allow_constants=True)  # NaN and Infinity claims fail the signature check, in its words


def verify_id_token(
    token, jwks, *, issuer, client_id, nonce, now=None, allowed_domains=None, leeway=DEFAULT_LEEWAY,
    check_profile=True,
):
    """Verify an ID token (OIDC Core §3.1.3.7) against the JWKS; return (checks, profile).

    With check_profile=False the email checks are left to the caller (who may complete the profile from the
    UserInfo endpoint first, sso/oidc/login.py); the profile then carries the verified claims under "_claims".
    """
    skew = _skew(leeway)
    now = (now or datetime.now(timezone.utc)).timestamp()
    checks, add = _collector("id_token")
    try:
        _check_segments(token)
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError) as exc:
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
        claims = _decode_signed(token, key_dict, alg)
    except jwt.InvalidSignatureError:
        add(
            "oidc.id_token.signature",
            FAIL,
            "The ID token signature does not verify with the provider's key",
            fix="Do not trust this token: it was altered or signed by someone else.",
        )
        return checks, {}
    except RecursionError:
        add("oidc.id_token.signature", FAIL,
            f"The ID token could not be verified: its claims nest deeper than {MAX_JSON_DEPTH} levels")
        return checks, {}
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        add("oidc.id_token.signature", FAIL, f"The ID token could not be verified: {exc}")
        return checks, {}
    if nests_too_deep(claims):
        add("oidc.id_token.signature", FAIL,
            f"The ID token could not be verified: its claims nest deeper than {MAX_JSON_DEPTH} levels")
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
    profile = profile_from_claims(claims)
    if not check_profile:
        profile["_claims"] = claims
        return checks, profile
    check_profile_email(claims, add, allowed_domains)
    return checks, profile


PROFILE_CLAIMS = {"email": "email", "email_verified": "email_verified", "given_name": "given_name",
                  "family_name": "family_name", "display_name": "name"}


def profile_from_claims(claims):
    """Return the profile Roster keeps from verified claims (ID token, possibly completed by UserInfo)."""
    profile = {"sub": claims.get("sub")}
    profile.update({key: claims.get(claim) for key, claim in PROFILE_CLAIMS.items()})
    profile["claims"] = _claims_preview(claims)
    return profile


def check_profile_email(claims, add, allowed_domains, where="The ID token"):
    """Check the email claim and its domain; `add` collects the checks. Return the email or None."""
    email = _check_email(claims, add, where)
    if email is not None and allowed_domains is not None:
        check = check_email_domain(email, allowed_domains, "oidc.profile.email_domain", "profile")
        add(check.id, check.status, check.message, fix=check.fix, detail=check.detail, stage=check.stage)
    return email


def verify_signed_userinfo(token, jwks, *, issuer, client_id):
    """Verify a UserInfo answer sent as a signed JWT (OIDC Core §5.3.2); return (checks, claims or None)."""
    checks, add = _collector("userinfo")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        add("oidc.userinfo.signature", FAIL, f"The signed UserInfo answer is not a JWS compact token: {exc}")
        return checks, None
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        add("oidc.userinfo.signature", FAIL, f"The UserInfo answer is signed with {alg!r}, which Roster does "
            "not accept (asymmetric algorithms only)")
        return checks, None
    key_dict = _select_key(header, jwks, add, check_id="oidc.userinfo.kid")
    if key_dict is None:
        return checks, None
    try:
        claims = _decode_signed(token, key_dict, alg)
    except RecursionError:
        claims = None
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        add("oidc.userinfo.signature", FAIL, f"The signed UserInfo answer does not verify: {exc}")
        return checks, None
    if claims is None or nests_too_deep(claims):
        add("oidc.userinfo.signature", FAIL, f"The UserInfo claims nest deeper than {MAX_JSON_DEPTH} levels")
        return checks, None
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else None
    if ("iss" in claims and claims["iss"] != issuer) or (audiences is not None and client_id not in audiences):
        add("oidc.userinfo.signature", FAIL, "The signed UserInfo answer names another issuer or audience",
            detail={"iss": claims.get("iss"), "aud": audience})
        return checks, None
    add("oidc.userinfo.signature", PASS, f"The UserInfo answer is signed ({alg}) with the provider's key")
    return checks, claims


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


def _check_email(claims, add, where="The ID token"):
    """Check the email claim; return the email when there is one."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        add(
            "oidc.profile.email",
            FAIL,
            f"{where} carries no email",
            stage="profile",
            fix="Allow the app to release the user's email (the email scope is requested); check that the "
            "user has an email address in the provider.",
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
