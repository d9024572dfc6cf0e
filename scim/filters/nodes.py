"""The public filter AST (RFC 7644 §3.4.2.2): small frozen dataclasses, independent of any parser."""

from dataclasses import dataclass
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
    """A complex-attribute filter `path[filter]`: every condition of `filter` applies to the same value."""

    path: AttrPath
    filter: Any


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
