"""Making a value safe to store in the log: secrets replaced by a marker, text clipped to its column."""

import datetime
import re

REDACTED = "[redacted]"

_SECRET_WORDS = ("password", "passwd", "secret", "token", "privatekey", "apikey", "credential")
_SECRET_EXACT = {"code", "otp", "otpcode", "onetimecode", "authcode", "authorizationcode", "deletioncode",
                 "verificationcode"}
_NOT_SECRET_SUFFIXES = ("id", "ids", "prefix", "label", "count", "kind", "type")

_LIMITS = {"request_id": 64, "actor_token_label": 200, "actor_email": 320, "idp": 100, "client_ip": 64,
           "user_agent": 400, "operation": 64, "target_type": 32, "target_id": 64, "target_name": 320,
           "scim_type": 32, "error": 2000, "actor_kind": 16, "actor_token_id": 36, "actor_person_id": 36}


def _is_secret_key(key):
    norm = re.sub(r"[^a-z0-9]", "", str(key).lower())
    if norm in _SECRET_EXACT:
        return True
    if any(norm.endswith(suffix) for suffix in _NOT_SECRET_SUFFIXES):
        return False
    return any(word in norm for word in _SECRET_WORDS)


def scrub(value):
    """Return `value` as plain JSON with secrets (passwords, tokens, secrets, codes) replaced by a marker."""
    if isinstance(value, dict):
        out = {}
        path = value.get("path")
        for key, item in value.items():
            key = str(key)
            if _is_secret_key(key) and not (item is None or isinstance(item, (bool, int, float))):
                out[key] = REDACTED
            elif key == "value" and isinstance(path, str) and _is_secret_key(
                    path.rsplit(".", 1)[-1].split("[")[0]):
                # A PATCH operation {"path": "password", "value": ...} (RFC 7644 §3.5.2).
                out[key] = REDACTED
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")  # PostgreSQL JSONB refuses NUL
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


def clip(row):
    for column, limit in _LIMITS.items():
        value = row.get(column)
        if isinstance(value, str):
            value = value.replace("\x00", "\ufffd")
            row[column] = value[:limit]
    return row
