"""Typing rules shared by the matcher and the SQL compiler: which operator suits which attribute type."""

import datetime

from ..errors import InvalidFilterError
from .. import schema

ORDERING = ("gt", "ge", "lt", "le")
SUBSTRING = ("co", "sw", "ew")
STRING_TYPES = (schema.STRING, schema.REFERENCE, schema.BINARY)
NUMBER_TYPES = (schema.INTEGER, schema.DECIMAL)


def parse_datetime(text):
    """Parse an RFC 7643 §2.3.5 dateTime (xsd:dateTime) into an aware UTC datetime, or return None."""
    if not isinstance(text, str) or len(text) < 10:
        return None
    value = text.strip()
    if value[-1:] in ("z", "Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    try:
        return parsed.astimezone(datetime.timezone.utc)
    except OverflowError:
        # An offset that pushes the instant before year 1 or past 9999: no datetime can hold it.
        return None


def coerce_boolean(value):
    """Return a filter value as a bool; accept "true"/"false" strings in any case (Entra's habit)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def check_operand(label, attr_type, op, value):
    """Validate `op value` against an attribute type and return the value to compare with.

    RFC 7644 §3.4.2.2: gt/ge/lt/le on boolean or binary attributes is a 400 invalidFilter; we also refuse
    substring operators on non-strings and values of the wrong JSON type, naming the attribute.
    """
    if op == "pr" or value is None:
        if value is None and op not in ("pr", "eq", "ne"):
            raise InvalidFilterError(f"'{label} {op} null' is not a valid comparison")
        return value
    if attr_type == schema.BOOLEAN:
        if op not in ("eq", "ne"):
            raise InvalidFilterError(f"'{label}' is a boolean: only eq, ne and pr apply to it")
        coerced = coerce_boolean(value)
        if coerced is None:
            raise InvalidFilterError(f"'{label}' is a boolean: compare it with true or false")
        return coerced
    if attr_type in NUMBER_TYPES:
        if op in SUBSTRING:
            raise InvalidFilterError(f"'{label}' is a number: '{op}' applies to strings only")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidFilterError(f"'{label}' is a number: compare it with a number")
        return value
    if attr_type == schema.DATETIME:
        if op in SUBSTRING:
            raise InvalidFilterError(f"'{label}' is a dateTime: '{op}' applies to strings only")
        instant = parse_datetime(value)
        if instant is None:
            raise InvalidFilterError(
                f"'{label}' is a dateTime: compare it with an xsd:dateTime such as \"2024-01-31T12:00:00Z\"")
        return instant
    if attr_type == schema.BINARY and op in ORDERING:
        raise InvalidFilterError(f"'{label}' is binary: '{op}' does not apply to it")
    if attr_type == schema.COMPLEX:
        raise InvalidFilterError(f"'{label}' is complex: name one of its sub-attributes")
    if attr_type in STRING_TYPES:
        if not isinstance(value, str):
            raise InvalidFilterError(f"'{label}' is a string: compare it with a quoted value")
        return value
    return value


class Target:
    """Where a filter path points in a resource: attribute definitions, canonical names and the extension."""

    def __init__(self, label, attr, sub, extension):
        self.label = label
        self.attr = attr
        self.sub = sub
        self.extension = extension

    @property
    def name(self):
        return self.attr.name

    @property
    def sub_name(self):
        return self.sub.name if self.sub is not None else None

    @property
    def leaf(self):
        """Return the definition of the compared value: the sub-attribute if any, else the attribute."""
        return self.sub if self.sub is not None else self.attr

    @property
    def multi_valued(self):
        return self.attr.multi_valued


def resolve_target(resource_type, path, op=None):
    """Resolve a filter AttrPath against a resource type's schemas; InvalidFilterError names unknown ones.

    A complex attribute compared without a sub-attribute means its `value` sub-attribute, as in the RFC 7644
    §3.4.2.2 example `emails co "example.com"`; `pr` on a complex attribute tests the attribute itself.
    """
    attr = schema.resolve(resource_type, path.uri, path.name)
    if attr is None:
        if path.uri is not None and schema.canonical_urn(resource_type, path.uri) is None:
            raise InvalidFilterError(f"Unknown schema '{path.uri}' in '{path}'")
        raise InvalidFilterError(f"Unknown attribute '{path}'")
    sub = None
    if path.sub is not None:
        sub = attr.sub(path.sub) if attr.is_complex else None
        if sub is None:
            raise InvalidFilterError(f"Unknown attribute '{path}'")
    elif attr.is_complex and op is not None and op != "pr":
        sub = attr.sub("value")
        if sub is None:
            raise InvalidFilterError(f"'{attr.name}' is complex: name one of its sub-attributes")
    extension = attr.schema if attr.schema != schema.core_schema(resource_type) else None
    label = attr.name if sub is None else f"{attr.name}.{sub.name}"
    return Target(label, attr, sub, extension)


def resolve_sub_target(parent, path, op=None):
    """Resolve a path inside `parent[...]` (a sub-attribute name) against the parent's definition."""
    if path.uri is not None or path.sub is not None:
        raise InvalidFilterError(f"Inside {parent.name}[...] use the sub-attribute names of {parent.name}")
    if not parent.is_complex:
        if path.name.lower() != "value":
            raise InvalidFilterError(
                f"'{parent.name}' has no sub-attributes: use 'value' inside its brackets")
        return Target(parent.name, parent, None, None)
    sub = parent.sub(path.name)
    if sub is None:
        raise InvalidFilterError(f"Unknown attribute '{parent.name}.{path.name}'")
    return Target(f"{parent.name}.{sub.name}", parent, sub, None)
