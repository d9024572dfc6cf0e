"""SCIM filters (RFC 7644 §3.4.2.2): parse to an AST, match in memory, compile to a peewee expression."""

from .match import matches
from .nodes import And, AttrPath, Comparison, Not, Or, ValuePath, filter_quirks, leaves
from .parser import MAX_FILTER_DEPTH, parse_filter
from .sql import (Column, Relation, ResourceMap, compile_filter, group_resource_map, order_by, sort_key,
                  user_resource_map)

__all__ = ["AttrPath", "Comparison", "And", "Or", "Not", "ValuePath", "filter_quirks", "leaves", "parse_filter",
           "matches", "compile_filter", "sort_key", "order_by", "ResourceMap", "Column", "Relation",
           "user_resource_map", "group_resource_map", "MAX_FILTER_DEPTH"]
