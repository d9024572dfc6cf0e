"""OpenID provider discovery (OIDC Discovery 1.0) and its JSON Web Key Set, with their checks."""

from dataclasses import dataclass, field


from ..checks import FAIL, PASS, WARN, Check
from ..fetch import FetchError, parse_json, url_problem

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


class OidcError(Exception):
    """An OIDC input could not be used; the message is meant for the admin."""


@dataclass
class ProviderMetadata:
    """The parts of an OpenID provider's discovery document Roster uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = None
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
            userinfo_endpoint=document.get("userinfo_endpoint") or None,
            signing_algorithms=list(document.get("id_token_signing_alg_values_supported") or []),
            # OIDC Discovery §3: client_secret_basic is the default when the field is omitted.
            token_auth_methods=list(
                document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            ),
            code_challenge_methods=list(document.get("code_challenge_methods_supported") or []),
            raw=document,
        )

HTTPS_ENDPOINTS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")


def _body(result):
    if isinstance(result, (bytes, bytearray)):
        return bytes(result)
    if isinstance(result, str):
        return result.encode("utf-8")
    return result.content


def _load_json(data):
    try:
        value = parse_json(data)
    except ValueError as exc:  # not JSON, not text, or nested too deeply
        raise OidcError(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise OidcError("the JSON is not an object")
    return value


def discovery_url(issuer):
    """Return the discovery document URL of an issuer (OIDC Discovery §4.1)."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"




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


def discover(issuer, fetch, allow_loopback_http=False):
    """Fetch and check the issuer's discovery document; return (checks, ProviderMetadata or None).

    Every endpoint must be https (OIDC Core §3.1.2.1, §3.1.3; http only to a loopback host when the operator
    allows private networks): a failed check, and no provider, otherwise."""
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
    problems = {name: url_problem(document[name], allow_loopback_http)
                for name in HTTPS_ENDPOINTS if document.get(name) is not None}
    problems = {name: problem for name, problem in problems.items() if problem}
    if problems:
        checks.append(
            Check(
                "oidc.discovery.https",
                stage,
                FAIL,
                "Endpoints that are not https: " + "; ".join(f"{k} ({v})" for k, v in problems.items()),
                fix="Use the provider's https issuer and endpoints.",
                detail={"endpoints": problems},
            )
        )
        return checks, None
    checks.append(Check("oidc.discovery.https", stage, PASS, "The issuer and every endpoint use https"
                        if not allow_loopback_http else "Every endpoint is https (or loopback http, allowed "
                        "by the operator)"))
    return checks, provider


def _usable_key(jwk_dict):
    return (
        isinstance(jwk_dict, dict)
        and jwk_dict.get("kty") in ("RSA", "EC", "OKP")
        and jwk_dict.get("use", "sig") == "sig"
    )


def fetch_jwks(jwks_uri, fetch, check_prefix="oidc.jwks", stage="discovery"):
    """Fetch the provider's JSON Web Key Set; return (checks, jwks dict or None).

    `check_prefix` keeps check ids unique when a run fetches the keys twice (at the start and again for the
    ID token, in case the provider rotated its keys in between)."""
    try:
        jwks = _load_json(_body(fetch(jwks_uri)))
    except (FetchError, OidcError) as exc:
        return [
            Check(f"{check_prefix}.fetch", stage, FAIL, f"Cannot read the provider's keys at {jwks_uri}: {exc}")
        ], None
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return [Check(f"{check_prefix}.fetch", stage, FAIL, "The JWKS has no 'keys' list")], None
    usable = [k for k in keys if _usable_key(k)]
    if not usable:
        return [Check(f"{check_prefix}.keys", stage, FAIL, "The JWKS holds no asymmetric signing key")], None
    kids = [k.get("kid") for k in usable]
    checks = [
        Check(
            f"{check_prefix}.keys",
            stage,
            PASS,
            f"The JWKS holds {len(usable)} signing key(s)",
            detail={"kids": kids},
        )
    ]
    if len(usable) > 1 and None in kids:
        checks.append(
            Check(
                f"{check_prefix}.kid",
                stage,
                WARN,
                "Some keys have no kid; tokens signed with them cannot be " "matched to a key",
            )
        )
    return checks, {"keys": usable}
