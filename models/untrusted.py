"""Text and JSON that came from outside (a request, an identity provider): what Roster accepts of them.

Every string Roster keeps must be a sequence of Unicode scalar values. A JSON string may hold a lone surrogate
(`"\\ud800"` is a valid JSON escape but no character); a percent-encoded URL may hold bytes that are not UTF-8.
Neither can be stored (the database drivers refuse to encode them) nor compared, so both are refused where
they enter. JSON is also bounded in depth: Python's parser recurses, so a deeply nested document would
otherwise raise RecursionError instead of being refused.
"""

import json
from urllib.parse import unquote_to_bytes

# Deeper than any SCIM document, SCIM PATCH value, OIDC discovery document, JWKS or ID token ever nests.
MAX_JSON_DEPTH = 64


class UntrustedInputError(ValueError):
    """Input that is not text (`kind` "value") or JSON nested too deeply (`kind` "syntax")."""

    def __init__(self, message, kind="value"):
        super().__init__(message)
        self.message = message
        self.kind = kind


def is_scalar_text(text):
    """Tell whether `text` holds only Unicode scalar values (no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(text, what="A value"):
    """Raise UntrustedInputError unless `text` holds only Unicode scalar values."""
    if not is_scalar_text(text):
        raise UntrustedInputError(f"{what} holds a lone surrogate, which is not a Unicode character")


def check_url_bytes(raw, what, encoded=True):
    """Raise UntrustedInputError unless the bytes of `raw` (a URL part; a WSGI string holds bytes as latin-1),
    percent-decoded when `encoded`, are UTF-8 text."""
    if isinstance(raw, str):
        raw = raw.encode("latin-1", errors="replace")
    if raw.isascii() and (b"%" not in raw or not encoded):
        return
    try:
        (unquote_to_bytes(raw) if encoded else raw).decode("utf-8")
    except UnicodeDecodeError:
        raise UntrustedInputError(f"{what} is not UTF-8 text (it encodes a byte sequence or a surrogate "
                                  f"that is not a Unicode character)") from None


def check_json(value, max_depth=MAX_JSON_DEPTH):
    """Raise UntrustedInputError for a parsed JSON value nested deeper than `max_depth` or holding a string
    (a member name included) that is not Unicode text."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, "A JSON string")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise UntrustedInputError(f"The JSON is nested deeper than {max_depth} levels", "syntax")
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key, "A JSON member name")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _refuse_constant(name):
    # Python reads NaN, Infinity and -Infinity, which JSON (RFC 8259 §6) has no place for and PostgreSQL's json
    # type refuses: a document holding one is refused where it enters.
    raise UntrustedInputError(f"The JSON holds {name}, which is not a JSON number")


def load_json(data, max_depth=MAX_JSON_DEPTH, allow_constants=False):
    """Parse JSON text or UTF-8 bytes and check it (`check_json`).

    Raises ValueError for text that is not JSON (UnicodeDecodeError included) and UntrustedInputError (a
    ValueError too) for JSON nested too deeply, holding a lone surrogate or, unless `allow_constants` (a caller
    that refuses them itself, with its own words), NaN or Infinity."""
    try:
        value = json.loads(data, parse_constant=None if allow_constants else _refuse_constant)
    except RecursionError:
        raise UntrustedInputError(f"The JSON is nested deeper than {max_depth} levels", "syntax") from None
    check_json(value, max_depth)
    return value
