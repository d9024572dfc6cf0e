"""The public filter AST (RFC 7644 §3.4.2.2): small frozen dataclasses, independent of any parser."""

from dataclasses import dataclass, field
from typing import Any, Optional

OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr")


@dataclass(frozen=True)
class AttrPath:
    """An attribute path: optional schema URN, attribute name and optional sub-attribute."""

    uri: Optional[str]
    name: str
    sub: Optional[str] = None

    def __str__(self):
        text = f"{self.uri}:{self.name}" if self.uri else self.name
        return f"{text}.{self.sub}" if self.sub else text


@dataclass(frozen=True)
class Comparison:
    """An attribute expression: `path op value`, or `path pr` (value None)."""

    path: AttrPath
    op: str
    value: Any = None


@dataclass(frozen=True)
class And:
    left: Any
    right: Any


@dataclass(frozen=True)
class Or:
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    expr: Any


@dataclass(frozen=True)
class ValuePath:
    """A complex-attribute filter `path[filter]`: every condition of `filter` applies to the same value.

    `quirk` names the IdP deviation (scim/quirks.py) the parser rewrote into this node, if any; it does not
    change what the node means, so it takes no part in equality.
    """

    path: AttrPath
    filter: Any
    quirk: Optional[str] = field(default=None, compare=False)


def leaves(node):
    """Yield the comparisons and value paths of a filter tree, left to right, opening and/or/not."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (And, Or)):
            stack.extend((current.right, current.left))
        elif isinstance(current, Not):
            stack.append(current.expr)
        else:
            yield current


def filter_quirks(node):
    """Return the names of the IdP quirks the parser tolerated in a filter tree, in order, without repeats."""
    found, pending = [], [node]
    while pending:
        for leaf in leaves(pending.pop()):
            if isinstance(leaf, ValuePath):
                if leaf.quirk and leaf.quirk not in found:
                    found.append(leaf.quirk)
                pending.append(leaf.filter)
    return found


def operands(node, kind):
    """Return the operands of a chain of `kind` (And or Or) nodes, left to right, without recursion."""
    result, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, kind):
            stack.append(current.right)
            stack.append(current.left)
        else:
            result.append(current)
    return result
