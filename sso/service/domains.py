"""Verified domains: a workspace *claims* an email domain (explicitly, or through a connection naming it), then
*verifies* it by publishing the DNS TXT record `roster-verification=<token>` at the domain, checked with
dnspython. Several workspaces may claim a domain; once one verifies it, the others' claims are removed and
nobody else can claim it. A claim unverified for 7 days lapses (claim again for a new token). Only verified
domains will route sign-ins and can be enforced (docs/sso.md, "Verified domains").

The DNS query runs outside any transaction; each write opens one `mutation`.
"""

import datetime
import secrets

import dns.exception
import dns.resolver
from peewee import IntegrityError

from models.db import db, utcnow
from models.services import ConflictError, NotFoundError, mutation
from models.sso import SsoConnection, SsoDomain

CLAIM_TTL = datetime.timedelta(days=7)
TXT_PREFIX = "roster-verification="
DNS_TIMEOUT = 5
OPERATION = "sso.domain.changed"


def record_value(claim):
    """Return the TXT record value that proves a claim."""
    return f"{TXT_PREFIX}{claim.token}"


def claim_status(claim, now=None):
    """Return claimed, verified or lapsed (claimed more than 7 days ago and never verified)."""
    if claim.status == "verified":
        return "verified"
    return "lapsed" if claim.created_at + CLAIM_TTL <= (now or utcnow()) else "claimed"


def describe_claim(claim):
    """Return a claim as the API shows it (the token is public: it goes into DNS)."""
    status = claim_status(claim)
    return {"domain": claim.domain, "status": status, "txt_record": record_value(claim),
            "record_name": claim.domain, "created_at": claim.created_at,
            "expires_at": claim.created_at + CLAIM_TTL if status != "verified" else None,
            "verified_at": claim.verified_at, "checked_at": claim.checked_at, "check_error": claim.check_error}


def list_domains(workspace):
    """Return the workspace's domain claims, by domain."""
    return list(SsoDomain.select().where(SsoDomain.workspace == workspace.id).order_by(SsoDomain.domain))


def get_claim(workspace, domain):
    """Return the workspace's claim of a domain or raise NotFoundError."""
    claim = SsoDomain.get_or_none(SsoDomain.workspace == workspace.id,
                                  SsoDomain.domain == (domain or "").strip().lower().rstrip("."))
    if claim is None:
        raise NotFoundError("This workspace has not claimed that domain")
    return claim


def _verified_elsewhere(workspace, domains):
    return sorted(d for (d,) in SsoDomain.select(SsoDomain.domain).where(
        SsoDomain.domain.in_(list(domains)), SsoDomain.status == "verified",
        SsoDomain.workspace != workspace.id).tuples())


def claim_domains(change, workspace, domains):
    """Claim the domains the workspace does not hold yet (a lapsed claim starts again with a new token);
    409 when another workspace has verified one. Runs inside the caller's mutation."""
    domains = sorted(set(domains))
    taken = _verified_elsewhere(workspace, domains)
    if taken:
        raise ConflictError(f"Domain {taken[0]} is already verified by another workspace",
                            errors={"domains": [f"Verified by another workspace: {', '.join(taken)}"]})
    held = {c.domain: c for c in SsoDomain.select().where(SsoDomain.workspace == workspace.id,
                                                          SsoDomain.domain.in_(domains))}
    for domain in domains:
        claim = held.get(domain)
        if claim is not None and claim_status(claim) != "lapsed":
            continue
        token = secrets.token_urlsafe(24)
        if claim is None:
            SsoDomain.create(workspace=workspace.id, domain=domain, token=token, created_at=utcnow())
        else:
            SsoDomain.update(token=token, created_at=utcnow(), status="claimed", checked_at=None,
                             check_error=None).where(SsoDomain.id == claim.id).execute()
        change.record(OPERATION, "sso_domain", domain, domain, before=None, after={"status": "claimed"})


def claim_domain(workspace, actor, domain):
    """Claim one domain for the workspace (or restart a lapsed claim); return the claim."""
    from .connections import normalize_domains
    domain = normalize_domains([domain])[0]
    with mutation(workspace, actor, "sso.domain.claim") as change:
        claim_domains(change, workspace, [domain])
        return get_claim(workspace, domain)


def release_domain(workspace, actor, domain):
    """Drop a claim the workspace's connections do not name."""
    with mutation(workspace, actor, "sso.domain.release") as change:
        claim = get_claim(workspace, domain)
        used = [name for (name, domains) in SsoConnection.select(SsoConnection.name, SsoConnection.domains)
                .where(SsoConnection.workspace == workspace.id).tuples() if claim.domain in (domains or [])]
        if used:
            raise ConflictError(f"The connection {used[0]} names this domain: remove it there first")
        SsoDomain.delete().where(SsoDomain.id == claim.id, SsoDomain.workspace == workspace.id).execute()
        change.record(OPERATION, "sso_domain", claim.domain, claim.domain,
                      before={"status": claim_status(claim)}, after=None)


def lookup_txt(domain, nameservers=(), timeout=DNS_TIMEOUT):
    """Return (TXT strings at the domain, error or None), asking `nameservers` ("host" or "host:port") or the
    system's resolvers."""
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = [n.rsplit(":", 1)[0] if n.count(":") == 1 else n for n in nameservers]
        ports = {int(n.rsplit(":", 1)[1]) for n in nameservers if n.count(":") == 1}
        if ports:
            resolver.port = ports.pop()
    resolver.lifetime = timeout
    try:
        answer = resolver.resolve(domain, "TXT")
    except dns.resolver.NXDOMAIN:
        return [], f"{domain} does not exist in DNS"
    except dns.resolver.NoAnswer:
        return [], f"{domain} has no TXT record"
    except dns.exception.Timeout:
        return [], f"The DNS query for {domain} timed out"
    except dns.exception.DNSException as exc:
        return [], f"The DNS query for {domain} failed: {exc}"
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer], None


def verify_domain(workspace, actor, domain, nameservers=()):
    """Look for the claim's TXT record and record the outcome; return the claim (its check_error says why
    it is not verified)."""
    claim = get_claim(workspace, domain)
    if claim_status(claim) == "lapsed":
        raise ConflictError("This claim lapsed (unverified for 7 days): claim the domain again for a new token")
    if claim.status == "verified":
        return claim
    records, error = lookup_txt(claim.domain, nameservers)
    found = record_value(claim) in records
    if not found and error is None:
        error = f"No TXT record {record_value(claim)} at {claim.domain} (found {len(records)} TXT record(s))"
    with mutation(workspace, actor, "sso.domain.verify") as change:
        claim = get_claim(workspace, domain)
        if claim.status == "verified":
            return claim
        now = utcnow()
        if not found:
            SsoDomain.update(checked_at=now, check_error=error[:500]).where(SsoDomain.id == claim.id).execute()
            return get_claim(workspace, domain)
        if _verified_elsewhere(workspace, [claim.domain]):
            raise ConflictError("Another workspace verified this domain first")
        try:
            with db.atomic():
                SsoDomain.update(status="verified", verified_at=now, checked_at=now, check_error=None).where(
                    SsoDomain.id == claim.id).execute()
        except IntegrityError:
            raise ConflictError("Another workspace verified this domain first") from None
        # Whoever else claimed it cannot verify it now: their claims go.
        SsoDomain.delete().where(SsoDomain.domain == claim.domain, SsoDomain.workspace != workspace.id).execute()
        change.record(OPERATION, "sso_domain", claim.domain, claim.domain, before={"status": "claimed"},
                      after={"status": "verified"})
        return get_claim(workspace, domain)


def verified_domains(workspace):
    """Return the workspace's verified domains (the only ones that route sign-ins and can be enforced)."""
    return sorted(d for (d,) in SsoDomain.select(SsoDomain.domain).where(
        SsoDomain.workspace == workspace.id, SsoDomain.status == "verified").tuples())

