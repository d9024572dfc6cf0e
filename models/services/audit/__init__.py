"""The provisioning log: hash-chained events per workspace, written by every mutation, read, verified, exported.

- `chain`: appending under the locked head row, reading in order, verifying, pruning with checkpoints.
- `record`: what a committed or failed mutation, or a refused request, writes (actor, outcome, target).
- `query`: filters, cursors, member and group histories, JSON Lines and CSV exports.
- `reports`: operations per day, deprovisioning times, access to an environment.
- `signing`: the operator's Ed25519 key, signed statements, the checkpoint stream (AUDIT_CHECKPOINT_FILE).
- `checkpoints`: signing heads, verifying against the newest signed one and a saved head, deleted workspaces.
- `refusals`: refused tokens naming a workspace, counted per prefix and minute.

No Flask here: the web layer (web/audit.py) passes what it knows about a request as arguments, on the Actor,
or through `begin_request`. See docs/audit.md.
"""

from .chain import append_events, iter_rows, mentions, prune, prune_all
from .checkpoints import (deleted_workspaces, head, parse_head, record_deletion, sign_all, sign_now,
                          verify)
from .query import (EXPORT_FORMATS, MAX_PAGE, decode_cursor, encode_cursor, event_at, event_to_dict, export,
                    filtered, get_event, group_membership_history, member_history, query_events, recent_idp_events)
from .record import (OPERATIONS, begin_request, current_request, enabled, end_request, error_text, outcome_of,
                     record_change, record_failure, record_refusals, refusal, set_enabled, target_of)
from .reports import (ACTIVITY_KINDS, REPORTS, report_access, report_activity, report_daily_operations,
                      report_deprovisioning)
from .refusals import record_auth_refusal
from .scrub import scrub
from .signing import AuditConfigError, configure, settings, stream_pending
from .signing import use as use_settings

__all__ = [
    "ACTIVITY_KINDS", "AuditConfigError", "configure", "deleted_workspaces", "head", "parse_head",
    "record_auth_refusal", "record_deletion", "settings", "sign_all", "sign_now", "stream_pending", "use_settings", "EXPORT_FORMATS",
    "MAX_PAGE", "OPERATIONS", "REPORTS", "append_events", "begin_request", "current_request",
    "decode_cursor", "enabled", "encode_cursor", "end_request", "error_text", "event_at", "event_to_dict", "export",
    "filtered", "get_event", "group_membership_history", "iter_rows", "member_history", "mentions",
    "outcome_of", "prune", "prune_all", "query_events", "recent_idp_events", "record_change", "record_failure",
    "record_refusals",
    "refusal", "report_access", "report_activity", "report_daily_operations", "report_deprovisioning", "scrub",
    "set_enabled", "target_of", "verify",
]
