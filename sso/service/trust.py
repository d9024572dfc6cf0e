"""Pinned IdP certificates: the signing certificates of a SAML connection are pinned when its metadata is
imported; a refresh (`roster sso refresh`, the API, and before each test of a metadata_url connection) that
finds a certificate not pinned does not use it. The connection then shows "certificate changed: approve the
new fingerprint" until an admin approves; the old certificates stay accepted during a rotation window the
admin chooses (docs/sso.md, "Pinned certificates").

Network work (fetching the metadata) happens in `fetch_metadata`, outside any transaction; the writes open
one `mutation` each.
"""

import dataclasses
import datetime

from models.db import utcnow
from models.services import ConflictError, InvalidError, mutation
from models.sso import SsoConnection
from models.workspace import Workspace
from sso.fetch import FetchError
from sso.saml import SamlError, certificate_info, parse_metadata

from .connections import OPERATION, get_connection

CHANGED = "certificate changed: approve the new fingerprint"
MAX_ROTATION_DAYS = 30
TRUST_KEYS = ("pending_certificates", "retiring_certificates", "metadata_fetched_at")


@dataclasses.dataclass
class Fetched:
    """Metadata fetched again for a connection: the XML and its parsed form, or why it could not be used."""

    xml: str | None = None
    meta: object = None
    error: str | None = None


def fetch_metadata(connection, site):
    """Fetch and parse the metadata_url of a SAML connection (no database work); return Fetched."""
    url = (connection.config or {}).get("metadata_url")
    if connection.provider != "saml" or not url:
        return Fetched(error="Only SAML connections with a metadata_url can be refreshed")
    try:
        xml = site.fetch(url).text
        return Fetched(xml=xml, meta=parse_metadata(xml))
    except (FetchError, SamlError) as exc:
        return Fetched(error=f"Cannot refresh the IdP metadata: {exc}")


def pinned_fingerprints(connection):
    """Return the SHA-256 fingerprints of the connection's pinned signing certificates."""
    return list((connection.config or {}).get("idp_certificates") or [])


def pinned_certificates(connection):
    """Return the CertificateInfo of the pinned certificates (those of the stored metadata)."""
    xml = (connection.config or {}).get("metadata_xml")
    try:
        return parse_metadata(xml).signing_certificates if xml else []
    except SamlError:
        return []


def new_fingerprints(connection, meta):
    """Return the fingerprints in freshly fetched metadata that are not pinned (empty: nothing to approve)."""
    pinned = set(pinned_fingerprints(connection))
    return [c.sha256 for c in meta.signing_certificates if c.sha256 not in pinned]


def retiring_certificates(connection, now=None):
    """Return the CertificateInfo of former certificates still accepted (their rotation window is open)."""
    now = (now or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for entry in (connection.config or {}).get("retiring_certificates") or []:
        if entry.get("until", "") > now:
            try:
                out.append(certificate_info(entry["pem"]))
            except (SamlError, KeyError):
                continue
    return out


def trust_state(connection):
    """Return what the API shows about the connection's certificates: pinned, pending approval, retiring."""
    if connection.provider != "saml":
        return None
    config = connection.config or {}
    pending = config.get("pending_certificates")
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "pinned": pinned_fingerprints(connection),
        "pending": (pending or {}).get("sha256") or [],
        "pending_seen_at": (pending or {}).get("seen_at"),
        "retiring": [{"sha256": e["sha256"], "until": e["until"]}
                     for e in config.get("retiring_certificates") or [] if e.get("until", "") > now],
        "message": CHANGED if pending else "The IdP's signing certificates are pinned",
    }


def _stamp():
    return utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def record_refresh(change, connection, fetched):
    """Apply a successful fetch inside a mutation: unchanged (or fewer) certificates update the metadata;
    a certificate not pinned is kept aside until approved. Return True when the certificate changed."""
    config = dict(connection.config or {})
    before = {"pending": (config.get("pending_certificates") or {}).get("sha256"),
              "idp_entity_id": config.get("idp_entity_id")}
    added = new_fingerprints(connection, fetched.meta)
    changed = bool(added) or fetched.meta.entity_id != config.get("idp_entity_id")
    if changed:
        config["pending_certificates"] = {"sha256": [c.sha256 for c in fetched.meta.signing_certificates],
                                          "added": added, "entity_id": fetched.meta.entity_id,
                                          "metadata_xml": fetched.xml, "seen_at": _stamp()}
    else:
        config.update(metadata_xml=fetched.xml, metadata_fetched_at=_stamp(),
                      idp_certificates=[c.sha256 for c in fetched.meta.signing_certificates])
        config.pop("pending_certificates", None)
    SsoConnection.update(config=config, updated_at=utcnow()).where(
        SsoConnection.id == connection.id, SsoConnection.workspace == connection.workspace_id).execute()
    connection.config = config
    after = {"pending": (config.get("pending_certificates") or {}).get("sha256"),
             "idp_entity_id": config.get("idp_entity_id")}
    if after != before:
        change.record("sso.certificate.changed" if changed else OPERATION, "sso_connection", connection.id,
                      connection.name, before=before, after={**after, "added": added} if changed else after)
    return changed


def refresh_connection(workspace, actor, connection_id, site):
    """Fetch a metadata_url connection's metadata again and record it (a new certificate waits for approval);
    return (connection, changed)."""
    connection = get_connection(workspace, connection_id)
    fetched = fetch_metadata(connection, site)
    if fetched.error:
        raise InvalidError(fetched.error, errors={"config": {"metadata_url": [fetched.error]}})
    with mutation(workspace, actor, "sso.connection.refresh") as change:
        connection = get_connection(workspace, connection_id)
        return connection, record_refresh(change, connection, fetched)


def refresh_all(actor, site):
    """Refresh every SAML connection that has a metadata_url, in every workspace; yield (connection, outcome)."""
    rows = SsoConnection.select(SsoConnection.id, SsoConnection.workspace).where(SsoConnection.provider == "saml")
    for row_id, workspace_id in list(rows.tuples()):
        workspace = Workspace.get_by_id(workspace_id)
        connection = get_connection(workspace, row_id)
        if not (connection.config or {}).get("metadata_url"):
            continue
        try:
            connection, changed = refresh_connection(workspace, actor, row_id, site)
            yield connection, CHANGED if changed or connection.config.get("pending_certificates") else "unchanged"
        except InvalidError as exc:
            yield connection, exc.message


def approve_certificates(workspace, actor, connection_id, fingerprints, rotation_days):
    """Approve the pending certificates of a connection (the admin names each fingerprint); the former ones
    stay accepted for `rotation_days` (0 to 30). Return the connection."""
    if not isinstance(rotation_days, int) or isinstance(rotation_days, bool) \
            or not 0 <= rotation_days <= MAX_ROTATION_DAYS:
        raise InvalidError("Invalid rotation_days", errors={"rotation_days": [f"0 to {MAX_ROTATION_DAYS}"]})
    with mutation(workspace, actor, "sso.certificate.approved") as change:
        connection = get_connection(workspace, connection_id)
        config = dict(connection.config or {})
        pending = config.get("pending_certificates")
        if not pending:
            raise ConflictError("This connection has no changed certificate to approve")
        wanted = sorted(pending["sha256"])
        if sorted(set(fingerprints or [])) != wanted:
            raise ConflictError("Name exactly the pending fingerprints to approve them",
                                errors={"sha256": [f"Pending: {', '.join(wanted)}"]})
        until = (utcnow() + datetime.timedelta(days=rotation_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        retiring = [{"sha256": c.sha256, "pem": c.pem, "until": until} for c in pinned_certificates(connection)
                    if c.sha256 not in wanted] if rotation_days else []
        before = {"pinned": pinned_fingerprints(connection)}
        config.update(metadata_xml=pending["metadata_xml"], idp_certificates=pending["sha256"],
                      idp_entity_id=pending["entity_id"], metadata_fetched_at=pending["seen_at"],
                      retiring_certificates=retiring)
        config.pop("pending_certificates")
        SsoConnection.update(config=config, updated_at=utcnow()).where(
            SsoConnection.id == connection.id, SsoConnection.workspace == workspace.id).execute()
        connection.config = config
        change.record("sso.certificate.approved", "sso_connection", connection.id, connection.name,
                      before=before, after={"pinned": pending["sha256"], "previous_accepted_until":
                                            until if retiring else None})
        return connection
