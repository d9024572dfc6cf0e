"""A real OpenID provider on 127.0.0.1 (werkzeug, own thread) with switches that mint attack tokens."""

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from werkzeug.wrappers import Request, Response

from .http import LocalServer

TOKEN_ATTACKS = (
    "alg_none",
    "hs256_public_key",
    "unknown_kid",
    "embedded_jwk",
    "embedded_jku",
    "embedded_x5u",
    "embedded_x5c",
    "wrong_issuer",
    "wrong_audience",
    "wrong_nonce",
    "expired",
    "future_iat",
    "other_key",
    "no_email",
    "tamper",
)


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_jwk(private_key, kid):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    jwk.update(kid=kid, use="sig", alg="RS256")
    return jwk


def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class OidcProvider:
    """An OpenID provider: discovery, JWKS, a login page at /authorize, PKCE-checking /token."""

    def __init__(
        self,
        *,
        client_id="roster-test-client",
        client_secret=None,
        default_email="alice@example.com",
        token_auth_methods=("client_secret_basic", "client_secret_post"),
    ):
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.default_email = default_email
        self.token_auth_methods = list(token_auth_methods)
        self.key = _new_key()
        self.kid = "key-" + secrets.token_hex(4)
        self.attack = None
        self.extra_claims = {}
        self.issuer_override = None
        # "full": the ID token carries email and names; "minimal": only sub and the required claims, the
        # rest at /userinfo (node-oidc-provider's default, OIDC Core §5.4).
        self.id_token_claims = "full"
        self.userinfo_format = "json"  # or "jwt" (OIDC Core §5.3.2: a signed answer, application/jwt)
        self.userinfo_sub = None  # set to answer /userinfo about another subject
        self.userinfo_calls = []  # the Authorization header of each /userinfo call
        self.access_tokens = {}
        self.codes = {}
        self._lock = threading.Lock()
        self._http = LocalServer(self._wsgi)
        self.issuer = self._http.url

    def __enter__(self):
        self._http.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stop the HTTP server."""
        self._http.close()

    @property
    def public_key_pem(self):
        """Return the provider's public key in PEM (what an HS256-confusion attacker would use as secret)."""
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwks(self):
        """Return the provider's JSON Web Key Set."""
        return {"keys": [_public_jwk(self.key, self.kid)]}

    def rotate_key(self):
        """Sign with a new key (new kid) and publish only that key."""
        self.key = _new_key()
        self.kid = "key-" + secrets.token_hex(4)

    def discovery(self):
        """Return the discovery document (OIDC Discovery §3)."""
        return {
            "issuer": self.issuer_override or self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": self.token_auth_methods,
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": ["sub", "email", "email_verified", "name", "given_name", "family_name"],
        }

    def mint_id_token(self, *, email=None, nonce=None, audience=None, attack=None, now=None, **claims):
        """Return an ID token, honest or shaped by one of TOKEN_ATTACKS."""
        if attack is not None and attack not in TOKEN_ATTACKS:
            raise ValueError(f"unknown attack {attack!r}; one of {', '.join(TOKEN_ATTACKS)}")
        now = int(now if now is not None else time.time())
        email = email or self.default_email
        payload = {
            "iss": self.issuer,
            "sub": "user-" + hashlib.sha256(email.encode()).hexdigest()[:16],
            "aud": audience or self.client_id,
            "exp": now + 300,
            "iat": now,
            "auth_time": now,
            "nonce": nonce,
            "email": email,
            "email_verified": True,
            "name": "Test User",
            "given_name": "Test",
            "family_name": "User",
        }
        if self.id_token_claims == "minimal":
            for name in ("email", "email_verified", "name", "given_name", "family_name"):
                payload.pop(name)
        payload.update(self.extra_claims)
        payload.update(claims)
        if payload["nonce"] is None:
            payload.pop("nonce")
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        key = self.key
        if attack == "wrong_issuer":
            payload["iss"] = "https://evil-issuer.example.test"
        elif attack == "wrong_audience":
            payload["aud"] = "some-other-client"
        elif attack == "wrong_nonce":
            payload["nonce"] = secrets.token_urlsafe(16)
        elif attack == "expired":
            payload.update(iat=now - 3600, auth_time=now - 3600, exp=now - 3000)
        elif attack == "future_iat":
            payload.update(iat=now + 3600, exp=now + 7200)
        elif attack == "no_email":
            payload.pop("email", None)
            payload.pop("email_verified", None)
        elif attack == "unknown_kid":
            header["kid"] = "key-unknown"
            key = _new_key()
        elif attack == "other_key":
            key = _new_key()
        elif attack in ("embedded_jwk", "embedded_jku", "embedded_x5u", "embedded_x5c"):
            key = _new_key()
            attacker_jwk = _public_jwk(key, self.kid)
            if attack == "embedded_jwk":
                header["jwk"] = attacker_jwk
            elif attack == "embedded_jku":
                header["jku"] = "https://evil.example.test/jwks.json"
            elif attack == "embedded_x5u":
                header["x5u"] = "https://evil.example.test/cert.pem"
            else:
                header["x5c"] = [_cert_for(key)]
        if attack == "alg_none":
            header = {"alg": "none", "typ": "JWT"}
            return f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}."
        if attack == "hs256_public_key":
            header = {"alg": "HS256", "typ": "JWT", "kid": self.kid}
            signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}"
            signature = hmac.new(self.public_key_pem, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64url(signature)}"
        token = jwt.encode(payload, key, algorithm="RS256", headers=header)
        if attack == "tamper":
            head, body, signature = token.split(".")
            forged = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            forged["email"] = "mallory@evil.example"
            token = f"{head}.{_b64url(json.dumps(forged).encode())}.{signature}"
        return token

    def login(self, authorization_url, email=None):
        """Play the browser: load the login page, submit it, return the redirect (callback) URL."""
        page = requests.get(authorization_url, timeout=5)
        page.raise_for_status()
        query = dict(parse_qs(urlsplit(authorization_url).query))
        form = {name: values[0] for name, values in query.items()}
        form["email"] = email or self.default_email
        answer = requests.post(f"{self.issuer}/authorize", data=form, allow_redirects=False, timeout=5)
        if answer.status_code != 302:
            raise RuntimeError(f"login failed: {answer.status_code} {answer.text}")
        return answer.headers["Location"]

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        routes = {
            "/.well-known/openid-configuration": self._discovery,
            "/jwks": self._jwks,
            "/authorize": self._authorize,
            "/token": self._token,
            "/userinfo": self._userinfo,
        }
        handler = routes.get(request.path)
        response = handler(request) if handler else Response("Not found", status=404)
        return response(environ, start_response)

    def _json(self, value, status=200):
        return Response(
            json.dumps(value),
            status=status,
            mimetype="application/json",
            headers={"Cache-Control": "no-store"},
        )

    def _discovery(self, request):
        return self._json(self.discovery())

    def _jwks(self, request):
        return self._json(self.jwks())

    def _authorize(self, request):
        params = request.args if request.method == "GET" else request.form
        problem = self._authorize_problem(params)
        if problem:
            return Response(
                f"<!doctype html><p>Authorization error: {html.escape(problem)}</p>",
                status=400,
                mimetype="text/html",
            )
        if request.method == "GET":
            return Response(_login_page(params, self.default_email), mimetype="text/html")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.codes[code] = {
                "client_id": params["client_id"],
                "redirect_uri": params["redirect_uri"],
                "nonce": params.get("nonce"),
                "challenge": params["code_challenge"],
                "email": (params.get("email") or self.default_email).strip(),
                "expires": time.time() + 60,
            }
        query = {"code": code}
        if params.get("state"):
            query["state"] = params["state"]
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return Response(
            status=302, headers={"Location": f"{params['redirect_uri']}{separator}{urlencode(query)}"}
        )

    def _authorize_problem(self, params):
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in (params.get("scope") or "").split():
            return "scope must include openid"
        if not params.get("redirect_uri", "").startswith(("http://", "https://")):
            return "redirect_uri is missing"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with S256 is required"
        return None

    def _token(self, request):
        if request.method != "POST":
            return self._json({"error": "invalid_request"}, 405)
        client_id, client_secret = request.form.get("client_id"), request.form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id = request.authorization.username
            client_secret = request.authorization.password
        if client_id != self.client_id or not hmac.compare_digest(client_secret or "", self.client_secret):
            return self._json({"error": "invalid_client"}, 401)
        if request.form.get("grant_type") != "authorization_code":
            return self._json({"error": "unsupported_grant_type"}, 400)
        with self._lock:
            grant = self.codes.pop(request.form.get("code", ""), None)
        if grant is None or grant["expires"] < time.time():
            return self._json(
                {"error": "invalid_grant", "error_description": "unknown, used or expired code"}, 400
            )
        if grant["redirect_uri"] != request.form.get("redirect_uri"):
            return self._json({"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, 400)
        verifier = request.form.get("code_verifier", "")
        # RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) must equal the code_challenge.
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return self._json(
                {"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400
            )
        id_token = self.mint_id_token(email=grant["email"], nonce=grant["nonce"], attack=self.attack)
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self.access_tokens[access_token] = {"email": grant["email"], "attack": self.attack}
        return self._json(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )

    def _userinfo(self, request):
        """OIDC Core §5.3: the claims of the access token's user, as JSON or a signed JWT."""
        header = request.headers.get("Authorization", "")
        self.userinfo_calls.append(header)
        grant = self.access_tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if grant is None:
            return Response(status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        email = grant["email"]
        claims = {"sub": self.userinfo_sub or "user-" + hashlib.sha256(email.encode()).hexdigest()[:16],
                  "email": email, "email_verified": True, "name": "Test User", "given_name": "Test",
                  "family_name": "User"}
        if grant["attack"] == "no_email":
            claims.pop("email")
            claims.pop("email_verified")
        if self.userinfo_format == "jwt":
            claims.update(iss=self.issuer, aud=self.client_id)
            token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
            return Response(token, mimetype="application/jwt", headers={"Cache-Control": "no-store"})
        return self._json(claims)


def _cert_for(private_key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Attacker")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(private_key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _login_page(params, email):
    e = html.escape
    hidden = "".join(
        f'<input type="hidden" name="{e(name)}" value="{e(value)}">'
        for name, value in params.items()
        if name != "email"
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Test OpenID provider sign-in</title></head>
<body><h1>Test OpenID provider sign-in</h1>
<form method="post" action="/authorize" id="login-form">{hidden}
<label>Email <input type="email" name="email" id="email" value="{e(email)}"></label>
<label>Password <input type="password" name="password" id="password" value="test"></label>
<button type="submit" id="sign-in">Sign in</button>
</form></body></html>"""
