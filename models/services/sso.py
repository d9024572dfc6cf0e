"""SSO connections and their test sign-ins: validation, domain claims, the secret box, test runs and results.

Network work (fetching metadata, discovery, keys, the OIDC code exchange) and signature checks happen in the
`prepare_*` / `verify_*` steps, outside any database transaction; the `create_*` / `update_*` / `finish_*`
steps then write in one mutation. The SAML and OIDC engines (api.sso.saml, api.sso.oidc) do the verifying.
"""

import base64
import dataclasses
import datetime
import hashlib
import re
import secrets
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from peewee import IntegrityError

from ..db import db, new_id, utcnow
from ..sso import CONNECTION_STATUSES, PASSING, PROVIDERS, SsoConnection, SsoConsumedId, SsoDomain, SsoTestRun
from . import ConflictError, InvalidError, NotFoundError

RUN_TTL = datetime.timedelta(minutes=10)
CONSUMED_ID_TTL = datetime.timedelta(days=1)
NAME_MAX = 200
MAX_DOMAINS = 50
MAX_METADATA_CHARS = 1024 * 1024
MAX_URL = 2000
MAX_CLIENT_FIELD = 500
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                       r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SAML_KEYS = ("metadata_xml", "metadata_url")
OIDC_KEYS = ("issuer", "client_id", "client_secret")

@dataclasses.dataclass(frozen=True)
class Site:
    """Where Roster is reachable (PUBLIC_URL) and the key that seals secrets (SECRET_KEY)."""

    public_url: str
    secret_key: str

    def sp_entity_id(self, connection):
        """Return the SAML SP entityID of a connection (its metadata URL)."""
        return f"{self.public_url}/sso/{connection.id}/metadata"

    def acs_url(self, connection):
        """Return the SAML Assertion Consumer Service URL of a connection."""
        return f"{self.public_url}/sso/{connection.id}/acs"

    def redirect_uri(self, connection):
        """Return the OIDC redirect URI of a connection."""
        return f"{self.public_url}/sso/{connection.id}/callback"

    def _fernet(self):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"roster-sso-secret-box",
                   info=b"sso-connection-secrets").derive(self.secret_key.encode("utf-8"))
        return Fernet(base64.urlsafe_b64encode(key))

    def seal(self, text):
        """Encrypt a secret for storage."""
        return self._fernet().encrypt(text.encode("utf-8")).decode("ascii")

    def unseal(self, token):
        """Decrypt a stored secret; a SECRET_KEY change makes it unreadable (an error naming the fix)."""
        try:
            return self._fernet().decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise InvalidError("The stored client secret cannot be decrypted (was SECRET_KEY changed?): "
                               "set client_secret again") from exc


def hash_state(state):
    """Return the SHA-256 hex of a RelayState / OIDC state (only the hash is stored)."""
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


# Reading

def _lookup(model, row_id, message, *conditions):
    """Return the row with this id matching the conditions or raise NotFoundError (ids are at most 36 chars)."""
    row = model.get_or_none(model.id == row_id, *conditions) \
        if isinstance(row_id, str) and len(row_id) <= 36 else None
    if row is None:
        raise NotFoundError(message)
    return row


def get_connection(workspace, connection_id):
    """Return a connection of the workspace or raise NotFoundError."""
    return _lookup(SsoConnection, connection_id, "SSO connection not found",
                   SsoConnection.workspace == workspace.id)


def find_public_connection(connection_id):
    """Return the connection behind a public SSO URL (its id is the only key) or raise NotFoundError."""
    return _lookup(SsoConnection, connection_id, "SSO connection not found")


def list_connections(workspace):
    """Return the workspace's connections, oldest first."""
    return list(SsoConnection.select().where(SsoConnection.workspace == workspace.id)
                .order_by(SsoConnection.created_at, SsoConnection.id))


def public_config(connection):
    """Return the connection's config as shown to admins: never the client secret, only whether it is set."""
    config = dict(connection.config or {})
    if connection.provider == "oidc":
        config["client_secret_set"] = bool(connection.secret)
    return config


def describe(connection):
    """Return what the provisioning log records about a connection (no secrets, no metadata body)."""
    config = connection.config or {}
    if connection.provider == "saml":
        shown = {"metadata_url": config.get("metadata_url"), "idp_entity_id": config.get("idp_entity_id"),
                 "metadata_sha256": hashlib.sha256((config.get("metadata_xml") or "").encode()).hexdigest()}
    else:
        shown = {"issuer": config.get("issuer"), "client_id": config.get("client_id"),
                 "client_secret_set": bool(connection.secret)}
    return {"provider": connection.provider, "name": connection.name, "domains": list(connection.domains),
            "status": connection.status, "config": shown}


# Validation

def normalize_domains(domains):
    """Return the sorted, lower-case, distinct domains or raise InvalidError."""
    if not isinstance(domains, list) or not domains or len(domains) > MAX_DOMAINS:
        raise InvalidError("Invalid domains",
                           errors={"domains": [f"A list of 1 to {MAX_DOMAINS} email domains"]})
    out, bad = set(), []
    for domain in domains:
        value = domain.strip().lower().lstrip("@").rstrip(".") if isinstance(domain, str) else None
        if value is None or not DOMAIN_RE.match(value):
            bad.append(domain if isinstance(domain, str) else repr(domain))
            continue
        out.add(value)
    if bad:
        raise InvalidError("Invalid domains", errors={"domains": [f"Not an email domain: {', '.join(bad)}"]})
    return sorted(out)


def _check_name(name):
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise InvalidError("Invalid name", errors={"name": [f"1 to {NAME_MAX} characters"]})
    return name.strip()


def _check_url(url, field):
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise InvalidError(f"Invalid {field}", errors={"config": {field: ["An http(s) URL"]}})
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidError(f"Invalid {field}",
                           errors={"config": {field: ["Only http and https URLs are accepted"]}})
    return url.strip()


def _unknown_keys(config, allowed, provider):
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise InvalidError(f"Unknown {provider} config keys", errors={"config": {k: [
            f"Unknown; {provider} config takes {', '.join(allowed)}"] for k in unknown}})


def _fetch_metadata(url, allow_private):
    from api.sso.fetch import FetchError, fetch_url
    try:
        return fetch_url(url, allow_private_network=allow_private).text
    except FetchError as exc:
        raise InvalidError(f"Cannot fetch the IdP metadata: {exc}",
                           errors={"config": {"metadata_url": [str(exc)]}})


def _parse_saml_metadata(xml):
    from api.sso.saml import SamlError, parse_metadata
    try:
        return parse_metadata(xml)
    except SamlError as exc:
        raise InvalidError(f"Invalid IdP metadata: {exc}", errors={"config": {"metadata_xml": [str(exc)]}})


def _prepare_saml_config(workspace, config):
    _unknown_keys(config, SAML_KEYS, "saml")
    if bool(config.get("metadata_xml")) == bool(config.get("metadata_url")):
        raise InvalidError("Give the IdP metadata as metadata_xml or metadata_url (one of them)",
                           errors={"config": {"metadata_xml": ["Give metadata_xml or metadata_url"]}})
    out = {}
    if config.get("metadata_url"):
        out["metadata_url"] = _check_url(config["metadata_url"], "metadata_url")
        xml = _fetch_metadata(out["metadata_url"], workspace.setting("sso.allow_private_network"))
        out["metadata_fetched_at"] = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        xml = config["metadata_xml"]
        if not isinstance(xml, str) or len(xml) > MAX_METADATA_CHARS:
            raise InvalidError("Invalid metadata_xml", errors={"config": {"metadata_xml": [
                f"The metadata XML as text, at most {MAX_METADATA_CHARS} characters"]}})
    meta = _parse_saml_metadata(xml)
    out.update(metadata_xml=xml, idp_entity_id=meta.entity_id,
               idp_certificates=[c.sha256 for c in meta.signing_certificates])
    return out, None


def _prepare_oidc_config(config, existing=None):
    _unknown_keys(config, OIDC_KEYS, "oidc")
    merged = dict((existing.config or {}) if existing is not None else {})
    merged.update({k: v for k, v in config.items() if k != "client_secret"})
    errors = {}
    for key in ("issuer", "client_id"):
        value = merged.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_CLIENT_FIELD:
            errors[key] = [f"Required, 1 to {MAX_CLIENT_FIELD} characters"]
    secret = config.get("client_secret")
    bad_secret = not isinstance(secret, str) or not secret or len(secret) > MAX_CLIENT_FIELD
    if "client_secret" in config and bad_secret:
        errors["client_secret"] = [f"1 to {MAX_CLIENT_FIELD} characters"]
    elif secret is None and (existing is None or not existing.secret):
        errors["client_secret"] = ["Required"]
    if errors:
        raise InvalidError("Invalid oidc config", errors={"config": errors})
    issuer = _check_url(merged["issuer"], "issuer")
    return {"issuer": issuer, "client_id": merged["client_id"].strip()}, secret


@dataclasses.dataclass
class Prepared:
    """A validated create/update request: fields to write, with fetched metadata and the new secret if any."""

    fields: dict
    secret: str | None = None


def prepare_connection(workspace, data, existing=None):
    """Validate a create (existing=None) or update body and fetch what it names; return Prepared."""
    if not isinstance(data, dict):
        raise InvalidError("The body must be an object")
    fields = {}
    provider = existing.provider if existing is not None else data.get("provider")
    if existing is None and provider not in PROVIDERS:
        raise InvalidError("Invalid provider", errors={"provider": [f"One of {', '.join(PROVIDERS)}"]})
    if existing is not None and "provider" in data and data["provider"] != existing.provider:
        raise InvalidError("The provider of a connection cannot change; create a new connection",
                           errors={"provider": ["Cannot change"]})
    if existing is None or "name" in data:
        fields["name"] = _check_name(data.get("name"))
    if existing is None or "domains" in data:
        fields["domains"] = normalize_domains(data.get("domains"))
    secret = None
    if existing is None or "config" in data:
        config = data.get("config")
        if not isinstance(config, dict):
            raise InvalidError("Invalid config", errors={"config": ["An object"]})
        if provider == "saml":
            fields["config"], secret = _prepare_saml_config(workspace, config)
        else:
            fields["config"], secret = _prepare_oidc_config(config, existing)
    if "status" in data:
        if data["status"] not in CONNECTION_STATUSES:
            raise InvalidError("Invalid status", errors={"status": [f"One of {', '.join(CONNECTION_STATUSES)}"]})
        if existing is None and data["status"] == "active":
            raise ConflictError("A new connection cannot be active: test it first, then activate it")
        fields["status"] = data["status"]
    if existing is None:
        fields["provider"] = provider
    return Prepared(fields=fields, secret=secret)


# Domains

def _claim_domains(workspace):
    """Make the workspace's domain claims match its connections; 409 when another workspace owns one."""
    wanted = set()
    for (domains,) in SsoConnection.select(SsoConnection.domains).where(
            SsoConnection.workspace == workspace.id).tuples():
        wanted.update(domains or [])
    held = {d.domain: d for d in SsoDomain.select().where(SsoDomain.workspace == workspace.id)}
    released = [d.id for name, d in held.items() if name not in wanted]
    if released:
        SsoDomain.delete().where(SsoDomain.id.in_(released), SsoDomain.workspace == workspace.id).execute()
    missing = sorted(wanted - set(held))
    if not missing:
        return
    taken = [d for (d,) in SsoDomain.select(SsoDomain.domain).where(SsoDomain.domain.in_(missing)).tuples()]
    if taken:
        raise ConflictError(f"Domain {taken[0]} is already claimed by another workspace",
                            errors={"domains": [f"Claimed by another workspace: {', '.join(sorted(taken))}"]})
    try:
        with db.atomic():
            SsoDomain.insert_many([{"id": new_id(), "workspace": workspace.id, "domain": d,
                                    "created_at": utcnow()} for d in missing]).execute()
    except IntegrityError:
        raise ConflictError("One of the domains was just claimed by another workspace",
                            errors={"domains": ["Claimed by another workspace"]}) from None


# Writing

OPERATION = "sso.connection.changed"


def create_connection(change, workspace, prepared, site):
    """Create a connection (status draft unless told inactive) and claim its domains."""
    fields = dict(prepared.fields)
    fields.setdefault("status", "draft")
    connection = SsoConnection.create(workspace=workspace.id, secret=site.seal(prepared.secret)
                                      if prepared.secret else None, **fields)
    _claim_domains(workspace)
    change.record(OPERATION, "sso_connection", connection.id, connection.name, before=None,
                  after=describe(connection))
    return connection


def test_is_current(connection):
    """Tell whether the connection's last test passed with its current configuration."""
    last = connection.last_test or {}
    return last.get("status") in PASSING and last.get("config_version") == connection.config_version


def _settings(config):
    """Return a config without what changes on every save (when metadata was fetched)."""
    return {k: v for k, v in (config or {}).items() if k != "metadata_fetched_at"}


def _same_secret(site, connection, secret):
    """Tell whether the secret is the one stored (each seal differs, so compare the plain text)."""
    if not connection.secret:
        return False
    try:
        return site.unseal(connection.secret) == secret
    except InvalidError:
        return False


def update_connection(change, workspace, connection, prepared, site):
    """Apply an update; new config or domains make the last test stale and an active connection draft."""
    before = describe(connection)
    fields = dict(prepared.fields)
    new_secret = prepared.secret is not None and not _same_secret(site, connection, prepared.secret)
    reconfigured = (("config" in fields and _settings(fields["config"]) != _settings(connection.config))
                    or new_secret
                    or ("domains" in fields and fields["domains"] != connection.domains))
    for key, value in fields.items():
        if key != "status":
            setattr(connection, key, value)
    if new_secret:
        connection.secret = site.seal(prepared.secret)
    if reconfigured:
        connection.config_version += 1
        if connection.status == "active":
            connection.status = "draft"
    if "status" in fields:
        if fields["status"] == "active" and not test_is_current(connection):
            raise ConflictError("Only a connection whose latest test passed with its current configuration "
                                "can be activated: start a test and complete the sign-in first",
                                errors={"status": ["Needs a passing test of the current configuration"]})
        connection.status = fields["status"]
    connection.updated_at = utcnow()
    connection.save()
    if "domains" in fields:
        _claim_domains(workspace)
    after = describe(connection)
    if after != before:
        change.record(OPERATION, "sso_connection", connection.id, connection.name, before=before, after=after)
    return connection


def delete_connection(change, workspace, connection):
    """Delete a connection, its test runs and the domain claims no other connection of the workspace makes."""
    before = describe(connection)
    for model in (SsoConsumedId, SsoTestRun):
        model.delete().where(model.workspace == workspace.id, model.connection == connection.id).execute()
    SsoConnection.delete().where(SsoConnection.id == connection.id,
                                 SsoConnection.workspace == workspace.id).execute()
    _claim_domains(workspace)
    change.record(OPERATION, "sso_connection", connection.id, connection.name, before=before, after=None)


# Test runs

def get_test_run(workspace, connection, run_id):
    """Return a test run of the connection (expiring it when its time is up) or raise NotFoundError."""
    return expire_if_due(_lookup(SsoTestRun, run_id, "Test run not found", SsoTestRun.workspace == workspace.id,
                                 SsoTestRun.connection == connection.id))


def expire_if_due(run):
    """Mark a pending run expired once its time is up; return the run as stored."""
    if run.status == "pending_login" and run.expires_at <= utcnow():
        summary = "Nobody completed the sign-in in time; start a new test"
        SsoTestRun.update(status="expired", summary=summary, finished_at=utcnow()).where(
            SsoTestRun.id == run.id, SsoTestRun.status == "pending_login").execute()
        return SsoTestRun.get_by_id(run.id)
    return run


@dataclasses.dataclass
class TestStart:
    """The outcome of a test's static stage: checks, and where to send the browser (when it can go on)."""

    checks: list
    login_url: str | None = None
    state: str | None = None
    request_id: str | None = None
    nonce: str | None = None
    code_verifier: str | None = None
    context: dict | None = None


def _check_dicts(checks):
    return [c.to_dict() if hasattr(c, "to_dict") else dict(c) for c in checks]


def _fetcher(workspace):
    from api.sso.fetch import fetch_url
    allow = workspace.setting("sso.allow_private_network")

    def fetch(url, **kwargs):
        return fetch_url(url, allow_private_network=allow, **kwargs)
    return fetch


def prepare_saml_test(workspace, connection, site):
    """Run the metadata checks (re-fetching metadata_url) and build the AuthnRequest; return TestStart."""
    from api.sso.checks import FAIL, PASS, Check
    from api.sso.fetch import FetchError
    from api.sso.saml import SamlError, check_metadata, start_login
    config = connection.config or {}
    checks = []
    xml, context = config.get("metadata_xml"), None
    if config.get("metadata_url"):
        try:
            xml = _fetcher(workspace)(config["metadata_url"]).text
            checks.append(Check("saml.metadata.fetch", "metadata", PASS,
                                f"Fetched the IdP metadata from {config['metadata_url']}"))
            context = {"metadata_xml": xml}
        except FetchError as exc:
            checks.append(Check("saml.metadata.fetch", "metadata", FAIL,
                                f"Cannot fetch the IdP metadata: {exc}",
                                fix="Check the metadata URL, or paste the metadata XML instead."))
            return TestStart(checks=checks)
    checks += check_metadata(xml)  # a missing xmlsec1 is a check there, not an exception
    state = secrets.token_urlsafe(24)
    try:
        request_id, login_url = start_login(xml, site.sp_entity_id(connection), site.acs_url(connection),
                                            state)
    except SamlError as exc:
        checks.append(Check("saml.request", "request", FAIL,
                            f"Cannot send a sign-in request to this IdP: {exc}",
                            fix="Import metadata with an HTTP-Redirect SingleSignOnService endpoint."))
        return TestStart(checks=checks)
    return TestStart(checks=checks, login_url=login_url, state=state, request_id=request_id, context=context)


def prepare_oidc_test(workspace, connection, site):
    """Check discovery and keys, then build the authorization URL (PKCE S256, nonce, state)."""
    from api.sso.checks import FAIL, Check
    from api.sso.oidc import authorization_request, discover, fetch_jwks
    config = connection.config or {}
    fetch = _fetcher(workspace)
    checks, provider = discover(config["issuer"], fetch)
    if provider is None:
        return TestStart(checks=checks)
    jwks_checks, jwks = fetch_jwks(provider.jwks_uri, fetch)
    checks += jwks_checks
    if jwks is None:
        return TestStart(checks=checks)
    try:
        site.unseal(connection.secret or "")
    except InvalidError as exc:
        checks.append(Check("oidc.client_secret", "config", FAIL, exc.message,
                            fix="PATCH the connection with the client secret again."))
        return TestStart(checks=checks)
    request = authorization_request(provider, client_id=config["client_id"],
                                    redirect_uri=site.redirect_uri(connection))
    return TestStart(checks=checks, login_url=request.url, state=request.state, nonce=request.nonce,
                     code_verifier=request.code_verifier, context={"provider": provider.raw})


def prepare_test(workspace, connection, site):
    """Run a test's static stage for the connection's provider; return TestStart."""
    if connection.provider == "saml":
        return prepare_saml_test(workspace, connection, site)
    return prepare_oidc_test(workspace, connection, site)


def start_test(change, workspace, connection, start, site, started_by=""):
    """Store a test run from its static stage: pending_login when the browser can go on, else failed."""
    from api.sso.checks import summarize
    now = utcnow()
    checks = _check_dicts(start.checks)
    run = SsoTestRun(workspace=workspace.id, connection=connection.id, provider=connection.provider,
                     state_hash=hash_state(start.state or secrets.token_urlsafe(24)),
                     request_id=start.request_id, nonce=start.nonce,
                     code_verifier=site.seal(start.code_verifier) if start.code_verifier else None,
                     login_url=start.login_url, context=start.context,
                     config_version=connection.config_version,
                     started_by=started_by[:200], checks=checks, created_at=now, expires_at=now + RUN_TTL)
    if start.login_url:
        run.status = "pending_login"
        run.summary = "Waiting for the sign-in at the identity provider"
    else:
        status, summary = summarize(start.checks)
        run.status = "failed"
        run.summary = summary if status == "failed" else "The sign-in could not start"
        run.finished_at = now
    run.save(force_insert=True)
    if run.status != "pending_login":
        _set_last_test(change, connection, run)
    return run


def find_pending_run(connection, state):
    """Return the run a RelayState / state belongs to (for this connection), or raise NotFoundError."""
    if not isinstance(state, str) or not state or len(state) > 200:
        raise NotFoundError("This answer carries no test run reference (RelayState/state): it was not "
                            "started by Roster, or the IdP dropped it")
    run = SsoTestRun.get_or_none(SsoTestRun.state_hash == hash_state(state),
                                 SsoTestRun.connection == connection.id)
    if run is None:
        raise NotFoundError("No test run of this connection matches this answer")
    return expire_if_due(run)


def consumed_ids(connection):
    """Return the SAML response/assertion ids this connection has already accepted (not yet pruned)."""
    return {v for (v,) in SsoConsumedId.select(SsoConsumedId.value).where(
        SsoConsumedId.connection == connection.id, SsoConsumedId.workspace == connection.workspace_id,
        SsoConsumedId.expires_at > utcnow()).tuples()}


def _consume(connection, values):
    """Record ids as used; return the ones already there (a replay that raced the first use)."""
    now = utcnow()
    SsoConsumedId.delete().where(SsoConsumedId.connection == connection.id,
                                 SsoConsumedId.expires_at <= now).execute()
    replayed = []
    for value in values:
        try:
            with db.atomic():
                SsoConsumedId.create(workspace=connection.workspace_id, connection=connection.id,
                                     value=value[:256], expires_at=now + CONSUMED_ID_TTL)
        except IntegrityError:
            replayed.append(value)
    return replayed


def _set_last_test(change, connection, run):
    before = {"last_test": connection.last_test}
    connection.last_test = {"id": run.id, "status": run.status, "summary": run.summary,
                            "finished_at": run.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                            if run.finished_at else None,
                            "config_version": run.config_version}
    SsoConnection.update(last_test=connection.last_test).where(SsoConnection.id == connection.id).execute()
    change.record(OPERATION, "sso_connection", connection.id, connection.name, before=before,
                  after={"last_test": connection.last_test})


def finish_test(change, connection, run, live_checks, profile, consume=()):
    """Store a run's live result once (a finished run is never overwritten) and the connection's last test."""
    from api.sso.checks import FAIL, Check, summarize
    live = list(live_checks)
    replayed = _consume(connection, [v for v in consume if v])
    if replayed and not any(c.id == "saml.response.replay" and c.status == FAIL for c in live):
        live.append(Check("saml.response.replay", "response", FAIL,
                          f"This response was already accepted once (ID {replayed[0]})",
                          fix="Start a new test; a response can be used only once.",
                          detail={"ids": replayed}))
    static = [Check(**c) for c in run.checks]
    status, summary = summarize(static + live)
    now = utcnow()
    updated = SsoTestRun.update(status=status, summary=summary, checks=run.checks + _check_dicts(live),
                                profile=profile or None, finished_at=now, nonce=None, code_verifier=None,
                                context=None).where(
        SsoTestRun.id == run.id, SsoTestRun.status == "pending_login").execute()
    if not updated:
        raise ConflictError("This test run has already finished; an answer is accepted once")
    run = SsoTestRun.get_by_id(run.id)
    _set_last_test(change, connection, run)
    return run


def _changed_during_test(connection, run, check_id):
    from api.sso.checks import FAIL, Check
    if run.config_version == connection.config_version:
        return None
    return Check(check_id, "config", FAIL, "The connection's configuration changed after this test started",
                 fix="Start a new test.")


def verify_saml_answer(connection, run, saml_response, site):
    """Verify a SAML Response posted for a pending run; return (live checks, profile, ids to consume)."""
    from api.sso.checks import PASS
    from api.sso.saml import verify_response
    changed = _changed_during_test(connection, run, "saml.config")
    if changed:
        return [changed], None, []
    xml = (run.context or {}).get("metadata_xml") or connection.config["metadata_xml"]
    checks, profile, ids = verify_response(
        saml_response, idp_metadata_xml=xml, sp_entity_id=site.sp_entity_id(connection),
        acs_url=site.acs_url(connection), expected_request_id=run.request_id,
        allowed_domains=connection.domains, consumed_ids=consumed_ids(connection))
    signed = any(c.id == "saml.response.signature" and c.status == PASS for c in checks)
    return checks, profile, [v for v in (ids or {}).values() if v] if signed else []


def verify_oidc_answer(workspace, connection, run, args, site):
    """Finish an OIDC test from the callback's query (code or error); return (live checks, profile)."""
    from api.sso.checks import FAIL, PASS, Check
    from api.sso.oidc import ProviderMetadata, finish_login
    changed = _changed_during_test(connection, run, "oidc.config")
    if changed:
        return [changed], None
    if args.get("error"):
        # RFC 6749 §4.1.2.1: the provider reports a refused authorization as error (+ error_description).
        error, description = str(args.get("error"))[:200], str(args.get("error_description") or "")[:500]
        return [Check("oidc.authorize", "authorize", FAIL, f"The provider refused the sign-in: {error}"
                      + (f" ({description})" if description else ""),
                      fix="Check the app's redirect URI and that the user is assigned to the app.",
                      detail={"error": error, "error_description": description or None})], None
    code = args.get("code")
    if not code or len(code) > 2000:
        return [Check("oidc.authorize", "authorize", FAIL,
                      "The callback carries no authorization code")], None
    checks = [Check("oidc.authorize", "authorize", PASS,
                    "The provider returned an authorization code for this test")]
    provider = ProviderMetadata.from_dict(run.context["provider"])
    live, profile = finish_login(provider, code=code, code_verifier=site.unseal(run.code_verifier),
                                 nonce=run.nonce, client_id=connection.config["client_id"],
                                 client_secret=site.unseal(connection.secret),
                                 redirect_uri=site.redirect_uri(connection), fetch=_fetcher(workspace),
                                 allowed_domains=connection.domains)
    return checks + live, profile
