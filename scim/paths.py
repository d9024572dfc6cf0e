"""Parse the PATCH "path" attribute (RFC 7644 §3.5.2, Figure 7): PATH = attrPath / valuePath [subAttr].

    attrPath  = [URI ":"] ATTRNAME *1subAttr        name, name.givenName, urn:...:User:manager
    valuePath = attrPath "[" valFilter "]"          emails[type eq "work"]
    subAttr   = "." ATTRNAME                        emails[type eq "work"].value

The bracketed filter is parsed by scim.filters.parse_filter, so a malformed one is 400 invalidFilter
(RFC 7644 §3.12 lists the PATCH path filter under invalidFilter); everything else malformed is
400 invalidPath. Whether the attribute exists is decided by the caller against scim.schema.
"""

import re
from dataclasses import dataclass
from typing import Any, Optional

from .errors import InvalidPathError
from .filters import AttrPath, parse_filter

# RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar); "$ref" is the one reserved sub-attribute name.
_NAME = r"(?:\$ref|[A-Za-z][A-Za-z0-9_-]*)"
_ATTR_RE = re.compile(rf"({_NAME})(?:\.({_NAME}))?")
_SUB_RE = re.compile(rf"\.({_NAME})")


@dataclass(frozen=True)
class PatchPath:
    """A parsed PATCH path: the attribute path, an optional value filter and a sub-attribute after it."""

    path: AttrPath
    value_filter: Optional[Any] = None
    sub: Optional[str] = None

    def __str__(self):
        text = str(self.path)
        if self.value_filter is not None:
            text += "[...]"
        return f"{text}.{self.sub}" if self.sub else text


def _closing_bracket(text, start):
    """Return the index of the "]" closing the "[" at `start`, skipping quoted strings."""
    in_string = False
    escaped = False
    for index in range(start + 1, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "[":
            raise InvalidPathError(f"Invalid path '{text}': value filters cannot be nested")
        elif char == "]":
            return index
    raise InvalidPathError(f"Invalid path '{text}': '[' is never closed")


def parse_patch_path(text):
    """Parse a PATCH path into a PatchPath; raise InvalidPathError (or InvalidFilterError) if malformed."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidPathError("The path must be a non-empty string")
    text = text.strip()
    bracket = text.find("[")
    head = text if bracket < 0 else text[:bracket]
    uri = None
    if head.lower().startswith("urn:"):
        # The URN itself contains ":" and "." ("...:enterprise:2.0:User"): the attribute follows the last ":".
        uri, _, head = head.rpartition(":")
        if uri.lower() == "urn" or not head:
            raise InvalidPathError(f"Invalid path '{text}': a schema URN must be followed by ':' and an "
                                   f"attribute name")
    match = _ATTR_RE.fullmatch(head)
    if match is None:
        raise InvalidPathError(f"Invalid path '{text}': expected attribute[.subAttribute], optionally "
                               f"followed by [filter] and .subAttribute")
    name, sub = match.group(1), match.group(2)
    if bracket < 0:
        return PatchPath(path=AttrPath(uri, name, sub))
    if sub is not None:
        raise InvalidPathError(f"Invalid path '{text}': a value filter applies to a multi-valued attribute, "
                               f"not to a sub-attribute")
    close = _closing_bracket(text, bracket)
    filter_text = text[bracket + 1:close]
    if not filter_text.strip():
        raise InvalidPathError(f"Invalid path '{text}': the value filter is empty")
    rest = text[close + 1:]
    after = None
    if rest:
        sub_match = _SUB_RE.fullmatch(rest)
        if sub_match is None:
            raise InvalidPathError(f"Invalid path '{text}': only '.subAttribute' may follow the value filter")
        after = sub_match.group(1)
    return PatchPath(path=AttrPath(uri, name, None), value_filter=parse_filter(filter_text), sub=after)
