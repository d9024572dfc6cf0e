"""Check results shared by the SAML and OIDC engines."""

from dataclasses import asdict, dataclass, replace
from typing import Any, Optional

PASS = "pass"
WARN = "warn"
FAIL = "fail"
INFO = "info"
STATUSES = (PASS, WARN, FAIL, INFO)

PASSED = "passed"
PASSED_WITH_WARNINGS = "passed_with_warnings"
FAILED = "failed"


@dataclass(frozen=True)
class Check:
    """One verified fact about a connection, with a stable id and a fix when it fails."""

    id: str
    stage: str
    status: str
    message: str
    fix: Optional[str] = None
    detail: Optional[Any] = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Check status must be one of {', '.join(STATUSES)}, not {self.status!r}")

    def to_dict(self):
        """Return the check as a JSON-ready dict."""
        return asdict(self)


def unique_ids(checks, taken=()):
    """Return the checks with unique ids: a repeated id (one check per certificate, per endpoint…) gets #2, #3.

    `taken`: ids already used in the same run (its earlier stage)."""
    seen, out = set(taken), []
    for check in checks:
        check_id, n = check.id, 1
        while check_id in seen:
            n += 1
            check_id = f"{check.id}#{n}"
        seen.add(check_id)
        out.append(check if check_id == check.id else replace(check, id=check_id))
    return out


def summarize(checks):
    """Return (status, summary) for a list of checks: passed, passed_with_warnings or failed."""
    failed = [c for c in checks if c.status == FAIL]
    warned = [c for c in checks if c.status == WARN]
    passed = [c for c in checks if c.status == PASS]
    if failed:
        first = failed[0].message
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return FAILED, f"{len(failed)} check(s) failed: {first}{more}"
    if not passed:
        return FAILED, "No check passed"
    if warned:
        return PASSED_WITH_WARNINGS, f"{len(passed)} check(s) passed with {len(warned)} warning(s)"
    return PASSED, f"All {len(passed)} check(s) passed"


def _normalize_domains(domains):
    return sorted({d.strip().lower().lstrip("@").rstrip(".") for d in (domains or ()) if d and d.strip()})


def check_email_domain(email, allowed_domains, check_id, stage):
    """Return a check that the email's domain is one of the connection's domains."""
    domains = _normalize_domains(allowed_domains)
    domain = email.rsplit("@", 1)[-1].strip().lower().rstrip(".")
    if domain in domains:
        return Check(check_id, stage, PASS, f"The email domain {domain} belongs to this connection")
    return Check(
        check_id,
        stage,
        FAIL,
        f"The email domain {domain} is not among this connection's domains ({', '.join(domains) or 'none'})",
        fix="Sign in with an account of one of the connection's domains, or add the domain to it.",
        detail={"domain": domain, "allowed_domains": domains},
    )
