"""SCIM filters (RFC 7644 §3.4.2.2): parse to an AST, match in memory, compile to a peewee expression."""

from .match import matches
from .nodes import And, AttrPath, Comparison, Not, Or, ValuePath
from .parser import MAX_FILTER_DEPTH, parse_filter

__all__ = ["AttrPath", "Comparison", "And", "Or", "Not", "ValuePath", "parse_filter", "matches",
           "MAX_FILTER_DEPTH"]
