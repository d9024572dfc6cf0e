"""Refused authentications naming a workspace (a revoked or expired token of it, a wrong secret behind one of its
token prefixes), counted per token prefix and minute so a flood cannot fill the log.

Each refusal adds one to its minute's counter (`auth_refusal`, one upsert). A minute is written to the chain as
one `auth.refused` event carrying the count once it is over: by the next refusal in that workspace, or by the
next signed checkpoint taken on demand or by `roster audit checkpoint`. docs/audit.md.
"""

from ...db import db, utcnow
from ...events import AuthRefusal, format_time
from . import signing
from .chain import append_events

REASONS = ("revoked", "expired", "wrong_secret")


def _minute(now):
    return now.replace(second=0, microsecond=0)


def flush_refusals(workspace_id, now=None):
    """Write the counters of the workspace's finished minutes as `auth.refused` events (caller's transaction)."""
    current = _minute(now or utcnow())
    done = list(AuthRefusal.select().where(AuthRefusal.workspace_id == workspace_id, AuthRefusal.minute < current)
                .order_by(AuthRefusal.minute, AuthRefusal.token_prefix, AuthRefusal.reason))
    if not done:
        return 0
    records = [{"actor_kind": "public", "client_ip": row.client_ip, "user_agent": row.user_agent,
                "operation": "auth.refused", "target_type": "token", "target_id": row.token_id,
                "target_name": row.token_prefix, "status": 401, "error": f"token {row.reason.replace('_', ' ')}",
                "quirks": [],
                "after": {"token_prefix": row.token_prefix, "reason": row.reason, "count": row.count,
                          "minute": format_time(row.minute)}} for row in done]
    append_events(workspace_id, records)
    AuthRefusal.delete().where(AuthRefusal.id.in_([row.id for row in done])).execute()
    return len(done)


def record_auth_refusal(workspace_id, token_prefix, reason, token_id=None, ip=None, user_agent=None, now=None):
    """Count one refused authentication of `token_prefix` in the workspace; write finished minutes."""
    now = now or utcnow()
    with db.atomic():
        AuthRefusal.insert(workspace_id=workspace_id, token_prefix=token_prefix[:16], minute=_minute(now),
                           reason=reason, token_id=token_id, client_ip=(ip or None) and ip[:64],
                           user_agent=(user_agent or None) and user_agent[:400], count=1) \
            .on_conflict(conflict_target=[AuthRefusal.workspace_id, AuthRefusal.token_prefix, AuthRefusal.minute,
                                          AuthRefusal.reason],
                         update={AuthRefusal.count: AuthRefusal.count + 1}).execute()
        written = flush_refusals(workspace_id, now)
    signing.stream_pending()
    return written
