"""SSO test sign-ins: the static stage (metadata / discovery checks, the login URL), the answer of the IdP
(SAML Response or OIDC callback) and the stored result, each write in its own mutation.

Network work (fetching metadata, discovery, keys, the OIDC code exchange) and signature checks happen in the
`prepare_*` / `verify_*` steps, outside any database transaction; start_test and the finish_* functions then
write in one mutation. The SAML and OIDC engines (sso.saml, sso.oidc) do the verifying.
"""

import dataclasses
import datetime
import secrets

from peewee import IntegrityError

from models.db import db, utcnow
from models.services import ConflictError, InvalidError, NotFoundError, mutation
from models.sso import SsoConnection, SsoConsumedId, SsoTestRun
from models.workspace import Workspace
from sso.checks import FAIL, PASS, WARN, Check, summarize, unique_ids
from sso.fetch import FetchError
from sso.oidc import ProviderMetadata, authorization_request, discover, fetch_jwks, finish_login
from sso.saml import SamlError, check_metadata, parse_metadata, start_login, verify_response

from . import trust
from .connections import OPERATION, _lookup, get_connection
from .site import hash_state

RUN_TTL = datetime.timedelta(minutes=10)
CONSUMED_ID_TTL = datetime.timedelta(days=1)


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
    refreshed: object = None  # SAML metadata fetched again (sso.service.trust.Fetched), recorded with the run


def _check_dicts(checks):
    return [c.to_dict() if hasattr(c, "to_dict") else dict(c) for c in checks]


def _has_failure(checks):
    """A failed static check means no sign-in link is issued (a javascript: endpoint, a refused algorithm…)."""
    return any(c.status == FAIL for c in checks)


def prepare_saml_test(workspace, connection, site):
    """Run the metadata checks (re-fetching metadata_url) and build the AuthnRequest; return TestStart."""
    config = connection.config or {}
    checks, refreshed = [], None
    xml, context = config.get("metadata_xml"), None
    if config.get("metadata_url"):
        try:
            fetched = site.fetch(config["metadata_url"]).text
            checks.append(Check("saml.metadata.fetch", "metadata", PASS,
                                f"Fetched the IdP metadata from {config['metadata_url']}"))
        except FetchError as exc:
            checks.append(Check("saml.metadata.fetch", "metadata", FAIL,
                                f"Cannot fetch the IdP metadata: {exc}",
                                fix="Check the metadata URL, or paste the metadata XML instead."))
            return TestStart(checks=checks)
        try:
            refreshed = trust.Fetched(xml=fetched, meta=parse_metadata(fetched))
        except SamlError:
            xml = fetched  # unusable: the metadata checks below say why
        if refreshed is not None:
            pinned = _check_pinned(connection, refreshed)
            checks.append(pinned)
            if pinned.status == FAIL:
                return TestStart(checks=checks, refreshed=refreshed)
            xml, context = fetched, {"metadata_xml": fetched}
    elif config.get("pending_certificates"):
        checks.append(_check_pinned(connection, None))
        return TestStart(checks=checks)
    # A missing xmlsec1 is a check there, not an exception.
    checks += check_metadata(xml, allow_sha1=bool(config.get("allow_sha1")),
                             pinned=trust.pinned_certificates(connection))
    if _has_failure(checks):
        return TestStart(checks=checks, refreshed=refreshed)
    state = secrets.token_urlsafe(24)
    try:
        request_id, login_url = start_login(xml, site.sp_entity_id(connection), site.acs_url(connection),
                                            state)
    except SamlError as exc:
        checks.append(Check("saml.request", "request", FAIL,
                            f"Cannot send a sign-in request to this IdP: {exc}",
                            fix="Import metadata with an HTTP-Redirect SingleSignOnService endpoint."))
        return TestStart(checks=checks)
    return TestStart(checks=checks, login_url=login_url, state=state, request_id=request_id, context=context,
                     refreshed=refreshed)


def _check_pinned(connection, refreshed):
    """Return the check that the IdP still signs with the pinned certificates (saml.metadata.pinned)."""
    added = trust.new_fingerprints(connection, refreshed.meta) if refreshed is not None else []
    entity_changed = refreshed is not None and refreshed.meta.entity_id != connection.config.get("idp_entity_id")
    pending = (connection.config or {}).get("pending_certificates")
    if added or entity_changed or (pending and refreshed is None):
        fingerprints = added or (pending or {}).get("added") or []
        return Check("saml.metadata.pinned", "metadata", FAIL,
                     f"{trust.CHANGED}: " + (", ".join(fingerprints) or "the IdP's entityID changed"),
                     fix="Check with the IdP's administrators that they rotated the signing certificate, then "
                     "approve the new fingerprint (POST …/certificates/approve); until then nobody signs in.",
                     detail={"pinned": trust.pinned_fingerprints(connection), "new": fingerprints})
    return Check("saml.metadata.pinned", "metadata", PASS,
                 "The IdP signs with the certificates pinned when its metadata was imported",
                 detail={"pinned": trust.pinned_fingerprints(connection)})


def prepare_oidc_test(workspace, connection, site):
    """Check discovery and keys, then build the authorization URL (PKCE S256, nonce, state)."""
    config = connection.config or {}
    fetch = site.fetch
    checks, provider = discover(config["issuer"], fetch, allow_loopback_http=site.allow_private_network)
    if provider is None:
        return TestStart(checks=checks)
    jwks_checks, jwks = fetch_jwks(provider.jwks_uri, fetch)
    checks += jwks_checks
    if jwks is None or _has_failure(checks):
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


def _store_start(change, workspace, connection, start, site, started_by="", started_by_key=""):
    """Store a test run from its static stage: pending_login when the browser can go on, else failed.

    The login URL (it carries the RelayState/state) is never stored: only its state's hash is. It is handed
    back once, as `run.issued_login_url`, for the answer to whoever started the run."""
    now = utcnow()
    checks = _check_dicts(unique_ids(start.checks))
    run = SsoTestRun(workspace=workspace.id, connection=connection.id, provider=connection.provider,
                     state_hash=hash_state(start.state or secrets.token_urlsafe(24)),
                     request_id=start.request_id, nonce=start.nonce,
                     code_verifier=site.seal(start.code_verifier) if start.code_verifier else None,
                     login_url=None, context=start.context,
                     config_version=connection.config_version, started_by=started_by[:200],
                     started_by_key=started_by_key[:80], checks=checks, created_at=now, expires_at=now + RUN_TTL)
    if start.login_url:
        run.status = "pending_login"
        run.summary = "Waiting for the sign-in at the identity provider"
    else:
        status, summary = summarize(start.checks)
        run.status = "failed"
        run.summary = summary if status == "failed" else "The sign-in could not start"
        run.finished_at = now
    run.save(force_insert=True)
    run.issued_login_url = start.login_url
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
                            "config_version": run.config_version,
                            "warnings": sorted({c["id"] for c in run.checks if c["status"] == WARN})}
    SsoConnection.update(last_test=connection.last_test).where(SsoConnection.id == connection.id).execute()
    change.record(OPERATION, "sso_connection", connection.id, connection.name, before=before,
                  after={"last_test": connection.last_test})


def _finish(change, connection, run, live_checks, profile, consume=()):
    """Store a run's live result once (a finished run is never overwritten) and the connection's last test."""
    live = list(live_checks)
    replayed = _consume(connection, [v for v in consume if v])
    if replayed and not any(c.id == "saml.response.replay" and c.status == FAIL for c in live):
        live.append(Check("saml.response.replay", "response", FAIL,
                          f"This response was already accepted once (ID {replayed[0]})",
                          fix="Start a new test; a response can be used only once.",
                          detail={"ids": replayed}))
    static = [Check(**c) for c in run.checks]
    live = unique_ids(live, taken={c.id for c in static})
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
    if run.config_version == connection.config_version:
        return None
    return Check(check_id, "config", FAIL, "The connection's configuration changed after this test started",
                 fix="Start a new test.")


def verify_saml_answer(connection, run, saml_response, site):
    """Verify a SAML Response posted for a pending run; return (live checks, profile, ids to consume)."""
    changed = _changed_during_test(connection, run, "saml.config")
    if changed:
        return [changed], None, []
    xml = (run.context or {}).get("metadata_xml") or connection.config["metadata_xml"]
    checks, profile, ids = verify_response(
        saml_response, idp_metadata_xml=xml, sp_entity_id=site.sp_entity_id(connection),
        acs_url=site.acs_url(connection), expected_request_id=run.request_id,
        allowed_domains=connection.domains, consumed_ids=consumed_ids(connection),
        allow_sha1=bool(connection.config.get("allow_sha1")),
        extra_certificates=trust.retiring_certificates(connection))
    signed = any(c.id == "saml.response.signature" and c.status == PASS for c in checks)
    return checks, profile, [v for v in (ids or {}).values() if v] if signed else []


def verify_oidc_answer(workspace, connection, run, args, site):
    """Finish an OIDC test from the callback's query (code or error); return (live checks, profile)."""
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
                                 redirect_uri=site.redirect_uri(connection), fetch=site.fetch,
                                 allowed_domains=connection.domains)
    return checks + live, profile


# The writes, each in one mutation (the network work above runs before it opens)

def _who(actor):
    if actor.person is not None:
        return actor.person.email
    return f"token {actor.token_label or actor.token_id}"


def actor_key(actor):
    """Return the stable key of who started a run: person:<id> for people, token:<id> for tokens."""
    if actor.person is not None:
        return f"person:{actor.person.id}"
    return f"token:{actor.token_id}" if actor.token_id else ""


def may_see_private(run, actor, access):
    """Tell whether the actor may see a run's IdP profile: whoever started it, and sso:manage holders."""
    key = actor_key(actor)
    return access.has("sso:manage") or bool(key and run.started_by_key == key)


def start_test(workspace, actor, connection_id, site):
    """Start a test sign-in of a connection: run the static stage, then store the run in one mutation."""
    connection = get_connection(workspace, connection_id)
    start = prepare_test(workspace, connection, site)
    with mutation(workspace, actor, "sso.test.start") as change:
        if start.refreshed is not None:
            trust.record_refresh(change, get_connection(workspace, connection_id), start.refreshed)
        return _store_start(change, workspace, connection, start, site, started_by=_who(actor),
                            started_by_key=actor_key(actor))


def finish_test(workspace, actor, connection, run, live_checks, profile, consume=()):
    """Store a pending run's live result (and the connection's last test) in one mutation."""
    with mutation(workspace, actor, "sso.test.finish") as change:
        return _finish(change, connection, run, live_checks, profile, consume)


def finish_saml_test(actor, connection, run, saml_response, site):
    """Verify the SAML Response posted for a pending run and store the result; return the run."""
    checks, profile, consume = verify_saml_answer(connection, run, saml_response, site)
    workspace = Workspace.get_by_id(connection.workspace_id)
    return finish_test(workspace, actor, connection, run, checks, profile, consume)


def finish_oidc_test(actor, connection, run, args, site):
    """Finish a pending OIDC run from its callback's query (code or error) and store the result; return the run."""
    workspace = Workspace.get_by_id(connection.workspace_id)
    checks, profile = verify_oidc_answer(workspace, connection, run, args, site)
    return finish_test(workspace, actor, connection, run, checks, profile)
