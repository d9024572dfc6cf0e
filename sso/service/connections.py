"""SSO connections: validation, the fetching of what a config names, and the writes, each in its own mutation
(the domains a connection names are claimed through sso/service/domains.py).

Network work (fetching metadata) happens in `prepare_connection`, outside any database transaction; the
public writers (create/update/delete_connection) then open one `mutation` for the write.
"""

import dataclasses
import hashlib
import re

from models.db import utcnow
from models.services import ConflictError, InvalidError, NotFoundError, mutation
from models.sso import CONNECTION_STATUSES, PASSING, PROVIDERS, SsoConnection, SsoConsumedId, SsoTestRun
from sso.fetch import FetchError, url_problem
from sso.saml import SamlError, parse_metadata

from .domains import claim_domains

NAME_MAX = 200
MAX_DOMAINS = 50
MAX_METADATA_CHARS = 1024 * 1024
MAX_URL = 2000
MAX_CLIENT_FIELD = 500
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                       r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SAML_KEYS = ("metadata_xml", "metadata_url", "allow_sha1")
OIDC_KEYS = ("issuer", "client_id", "client_secret")

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
    described = {"provider": connection.provider, "name": connection.name, "domains": list(connection.domains),
                 "status": connection.status, "config": shown}
    if (connection.last_test or {}).get("acknowledged"):
        described["acknowledged_warnings"] = connection.last_test["acknowledged"]
    return described


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


def _check_url(url, field, site):
    """Return the URL if it is https (or http to a loopback host when the operator allows private networks)."""
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise InvalidError(f"Invalid {field}", errors={"config": {field: ["An https URL"]}})
    if url_problem(url.strip(), allow_loopback_http=site.allow_private_network):
        raise InvalidError(f"Invalid {field}: https is required", errors={"config": {field: [
            "An https URL (plain http only to a loopback host, when the operator sets "
            "SSO_ALLOW_PRIVATE_NETWORK)"]}})
    return url.strip()


def _unknown_keys(config, allowed, provider):
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise InvalidError(f"Unknown {provider} config keys", errors={"config": {k: [
            f"Unknown; {provider} config takes {', '.join(allowed)}"] for k in unknown}})


def _fetch_metadata(url, site):
    try:
        return site.fetch(url).text
    except FetchError as exc:
        raise InvalidError(f"Cannot fetch the IdP metadata: {exc}",
                           errors={"config": {"metadata_url": [str(exc)]}})


def _parse_saml_metadata(xml):
    try:
        return parse_metadata(xml)
    except SamlError as exc:
        raise InvalidError(f"Invalid IdP metadata: {exc}", errors={"config": {"metadata_xml": [str(exc)]}})


def _prepare_saml_config(config, site):
    _unknown_keys(config, SAML_KEYS, "saml")
    if bool(config.get("metadata_xml")) == bool(config.get("metadata_url")):
        raise InvalidError("Give the IdP metadata as metadata_xml or metadata_url (one of them)",
                           errors={"config": {"metadata_xml": ["Give metadata_xml or metadata_url"]}})
    out = {}
    if config.get("metadata_url"):
        out["metadata_url"] = _check_url(config["metadata_url"], "metadata_url", site)
        xml = _fetch_metadata(out["metadata_url"], site)
        out["metadata_fetched_at"] = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        xml = config["metadata_xml"]
        if not isinstance(xml, str) or len(xml) > MAX_METADATA_CHARS:
            raise InvalidError("Invalid metadata_xml", errors={"config": {"metadata_xml": [
                f"The metadata XML as text, at most {MAX_METADATA_CHARS} characters"]}})
    meta = _parse_saml_metadata(xml)
    # The signing certificates are pinned now; a refresh that finds others waits for an admin's approval.
    out.update(metadata_xml=xml, idp_entity_id=meta.entity_id,
               idp_certificates=[c.sha256 for c in meta.signing_certificates])
    if "allow_sha1" in config:
        if not isinstance(config["allow_sha1"], bool):
            raise InvalidError("Invalid allow_sha1", errors={"config": {"allow_sha1": ["true or false"]}})
        if config["allow_sha1"]:
            out["allow_sha1"] = True  # the opt-in that turns SHA-1 signatures from a failure into a warning
    return out, None


def _prepare_oidc_config(config, site, existing=None):
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
    issuer = _check_url(merged["issuer"], "issuer", site)
    return {"issuer": issuer, "client_id": merged["client_id"].strip()}, secret


@dataclasses.dataclass
class Prepared:
    """A validated create/update request: fields to write, with fetched metadata and the new secret if any."""

    fields: dict
    secret: str | None = None
    acknowledged: tuple = ()  # warning check ids of the last test the admin acknowledges when activating


def prepare_connection(data, site, existing=None):
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
            fields["config"], secret = _prepare_saml_config(config, site)
        else:
            fields["config"], secret = _prepare_oidc_config(config, site, existing)
    if "status" in data:
        if data["status"] not in CONNECTION_STATUSES:
            raise InvalidError("Invalid status", errors={"status": [f"One of {', '.join(CONNECTION_STATUSES)}"]})
        if existing is None and data["status"] == "active":
            raise ConflictError("A new connection cannot be active: test it first, then activate it")
        fields["status"] = data["status"]
    if existing is None:
        fields["provider"] = provider
    acknowledged = data.get("acknowledge_warnings") or ()
    if not isinstance(acknowledged, (list, tuple)) or not all(isinstance(a, str) for a in acknowledged):
        raise InvalidError("Invalid acknowledge_warnings", errors={"acknowledge_warnings": ["A list of check ids"]})
    return Prepared(fields=fields, secret=secret, acknowledged=tuple(acknowledged))


# Writing

OPERATION = "sso.connection.changed"


def _create(change, workspace, prepared, site):
    """Create a connection (status draft unless told inactive) and claim its domains."""
    fields = dict(prepared.fields)
    fields.setdefault("status", "draft")
    connection = SsoConnection.create(workspace=workspace.id, secret=site.seal(prepared.secret)
                                      if prepared.secret else None, **fields)
    claim_domains(change, workspace, connection.domains)
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


def _update(change, workspace, connection, prepared, site):
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
        if fields["status"] == "active" and connection.status != "active":
            _check_activation(connection, prepared.acknowledged)
        connection.status = fields["status"]
    connection.updated_at = utcnow()
    connection.save()
    if "domains" in fields:
        claim_domains(change, workspace, fields["domains"])
    after = describe(connection)
    if after != before:
        change.record(OPERATION, "sso_connection", connection.id, connection.name, before=before, after=after)
    return connection


def unacknowledged_warnings(connection, acknowledged=()):
    """Return the warning check ids of the last test that `acknowledged` does not cover."""
    last = connection.last_test or {}
    if "warnings" not in last:  # a test stored before warnings were recorded: its warnings are unknown
        return ["(run the test again)"] if last.get("status") == "passed_with_warnings" else []
    return sorted(set(last["warnings"]) - set(acknowledged))


def _check_activation(connection, acknowledged):
    """Refuse activating without a test of the current config with no failed check and no unacknowledged
    warning."""
    if not test_is_current(connection):
        raise ConflictError("Only a connection whose latest test passed with its current configuration "
                            "can be activated: start a test and complete the sign-in first",
                            errors={"status": ["Needs a passing test of the current configuration"]})
    pending = unacknowledged_warnings(connection, acknowledged)
    if pending:
        raise ConflictError("The latest test passed with warnings: acknowledge each one (acknowledge_warnings) "
                            f"to activate: {', '.join(pending)}",
                            errors={"acknowledge_warnings": [f"Unacknowledged: {', '.join(pending)}"]})
    connection.last_test = {**connection.last_test, "acknowledged": sorted(set(acknowledged))}


def _delete(change, workspace, connection):
    """Delete a connection and its test runs (its domain claims stay: DELETE …/sso/domains/{domain} drops one)."""
    before = describe(connection)
    for model in (SsoConsumedId, SsoTestRun):
        model.delete().where(model.workspace == workspace.id, model.connection == connection.id).execute()
    SsoConnection.delete().where(SsoConnection.id == connection.id,
                                 SsoConnection.workspace == workspace.id).execute()
    change.record(OPERATION, "sso_connection", connection.id, connection.name, before=before, after=None)


def create_connection(workspace, actor, data, site):
    """Create a connection from a request body: validate and fetch first, then write in one mutation."""
    prepared = prepare_connection(data, site)
    with mutation(workspace, actor, "sso.connection.create") as change:
        return _create(change, workspace, prepared, site)


def update_connection(workspace, actor, connection_id, data, site):
    """Change a connection of the workspace from a request body: validate and fetch first, then write."""
    prepared = prepare_connection(data, site, existing=get_connection(workspace, connection_id))
    with mutation(workspace, actor, "sso.connection.update") as change:
        # Read again inside the transaction: the fetch above may take seconds, and a test finishing meanwhile
        # writes last_test, which saving the row read before it would put back.
        return _update(change, workspace, get_connection(workspace, connection_id), prepared, site)


def delete_connection(workspace, actor, connection_id):
    """Delete a connection of the workspace with its test runs, releasing its domains."""
    connection = get_connection(workspace, connection_id)
    with mutation(workspace, actor, "sso.connection.delete") as change:
        _delete(change, workspace, connection)
