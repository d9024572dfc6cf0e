"""Evaluate a parsed filter against a SCIM dict in memory (RFC 7644 §3.4.2.2).

Used by the PATCH engine for value filters such as `members[value eq "x"]` against one value of a
multi-valued attribute, and usable against a whole resource. Rules, shared with the SQL compiler:

- attribute names are case-insensitive (RFC 7643 §2.1); strings compare case-insensitively unless the
  attribute is `caseExact` (RFC 7644 §3.4.2.2), known through `scim.schema` when the resource type or the
  parent attribute is given; without a schema every string is compared case-insensitively;
- dateTime values compare as instants, whatever their offset; numbers numerically; booleans only with
  eq/ne (gt/ge/lt/le on a boolean or binary attribute is invalidFilter);
- a multi-valued attribute matches when any of its values does; a complex attribute named without a
  sub-attribute means its `value` (`emails co "x"` is `emails.value co "x"`);
- `ne` is the negation of `eq` (an absent attribute is "not equal"), `eq null` means "not present";
- `pr` is true for a value that is not null, not "", not [] and not a complex value without content.
"""

from .. import schema
from ..schema import get_ci
from ..errors import InvalidFilterError
from .nodes import And, Comparison, Not, Or, ValuePath, operands
from .parser import parse_filter
from .values import (ORDERING, check_operand, coerce_boolean, parse_datetime, resolve_sub_target,
                     resolve_target)

_CORE_URNS = frozenset(u.lower() for u in (schema.USER_SCHEMA, schema.GROUP_SCHEMA))


def matches(node, element, attribute=None, *, resource_type=None):
    """Tell whether `element` satisfies the filter `node` (an AST or filter text).

    With `attribute` (a `scim.schema.Attribute`, e.g. the definition of `emails`) `element` is one value of
    that multi-valued attribute and the filter's paths are its sub-attributes; otherwise `element` is a
    whole resource, typed by `resource_type` ("User", "Group") when given.
    """
    if isinstance(node, str):
        node = parse_filter(node)
    if attribute is not None:
        return _Matcher(resource_type, attribute, element_mode=True).test(node, element)
    return _Matcher(resource_type, None, element_mode=False).test(node, element)


def _flatten(values):
    result = []
    for value in values:
        if isinstance(value, list):
            result.extend(v for v in value if v is not None)
        elif value is not None:
            result.append(value)
    return result


def is_present(value):
    """Tell whether a value counts as present for `pr` (RFC 7644 §3.4.2.2)."""
    if value is None or value == "" or value == []:
        return False
    if isinstance(value, dict):
        return any(is_present(v) for v in value.values())
    if isinstance(value, list):
        return any(is_present(v) for v in value)
    return True


class _Matcher:
    def __init__(self, resource_type, parent, element_mode):
        self.resource_type = resource_type
        self.parent = parent
        self.element_mode = element_mode

    def test(self, node, doc):
        if isinstance(node, (And, Or)):
            kind = type(node)
            # Evaluate every operand, so an invalid one is reported whatever the others say.
            results = [self.test(item, doc) for item in operands(node, kind)]
            return all(results) if kind is And else any(results)
        if isinstance(node, Not):
            return not self.test(node.expr, doc)
        if isinstance(node, ValuePath):
            return self._value_path(node, doc)
        if isinstance(node, Comparison):
            return self._comparison(node, doc)
        raise InvalidFilterError(f"Not a filter expression: {node!r}")

    def _value_path(self, node, doc):
        if self.element_mode:
            raise InvalidFilterError("A value filter cannot be nested inside another value filter")
        if self.resource_type is not None:
            target = resolve_target(self.resource_type, node.path)
            container = doc if target.extension is None else get_ci(doc, target.extension)
            top, parent = get_ci(container, target.name), target.attr
        else:
            top, parent = self._schemaless_top(node.path, doc), None
        items = top if isinstance(top, list) else ([] if top is None else [top])
        inner = _Matcher(self.resource_type, parent, element_mode=True)
        results = [inner.test(node.filter, item) for item in items]
        if not items:
            inner.test(node.filter, {})  # still validate the bracketed filter
        return any(results)

    def _schemaless_top(self, path, doc):
        container = doc
        if path.uri is not None and path.uri.lower() not in _CORE_URNS:
            container = get_ci(doc, path.uri)
        value = get_ci(container, path.name)
        if value is None and path.uri is None and isinstance(doc, dict):
            for key, extension in doc.items():
                if isinstance(key, str) and key.lower().startswith("urn:") and isinstance(extension, dict):
                    value = get_ci(extension, path.name)
                    if value is not None:
                        break
        return value

    def _locate(self, path, op, doc):
        """Return (definition of the compared value or None, label, list of values found)."""
        if self.element_mode:
            if self.parent is not None:
                target = resolve_sub_target(self.parent, path, op)
                if not self.parent.is_complex:
                    return target.leaf, target.label, _flatten([doc])
                return target.leaf, target.label, _flatten([get_ci(doc, target.sub_name)])
            value = get_ci(doc, path.name) if isinstance(doc, dict) else (doc if path.name.lower() == "value"
                                                                          else None)
            if path.sub is not None:
                value = [get_ci(v, path.sub) for v in (value if isinstance(value, list) else [value])]
            return None, str(path), _flatten([value])
        if self.resource_type is not None:
            target = resolve_target(self.resource_type, path, op)
            container = doc if target.extension is None else get_ci(doc, target.extension)
            top, sub_key = get_ci(container, target.name), target.sub_name
            leaf, label = target.leaf, target.label
        else:
            top, sub_key, leaf, label = self._schemaless_top(path, doc), path.sub, None, str(path)
            if sub_key is None and op != "pr":
                first = top[0] if isinstance(top, list) and top else top
                if isinstance(first, dict):
                    sub_key = "value"
        items = top if isinstance(top, list) else [top]
        if sub_key is not None:
            items = [get_ci(item, sub_key) for item in items]
        return leaf, label, _flatten(items)

    def _comparison(self, node, doc):
        op, value = node.op, node.value
        leaf, label, found = self._locate(node.path, op, doc)
        attr_type = leaf.type if leaf is not None else None
        expected = check_operand(label, attr_type, op, value) if attr_type else _schemaless_operand(op, value)
        if op == "pr":
            return any(is_present(v) for v in found)
        if expected is None:  # `eq null` is "absent", `ne null` is "present"
            present = any(is_present(v) for v in found)
            return present if op == "ne" else not present
        case_exact = bool(leaf is not None and leaf.case_exact)
        if op == "ne":
            return not any(_compare("eq", v, expected, attr_type, case_exact) for v in found)
        return any(_compare(op, v, expected, attr_type, case_exact) for v in found)


def _schemaless_operand(op, value):
    if op in ORDERING and (value is None or isinstance(value, bool)):
        raise InvalidFilterError(f"'{op}' cannot compare with {value!r}")
    return value


def _compare(op, actual, expected, attr_type, case_exact):
    """Compare one stored value with the filter value; values of the wrong type never match."""
    if attr_type == schema.BOOLEAN or (attr_type is None and isinstance(expected, bool)):
        actual = coerce_boolean(actual)
        return actual is not None and actual == expected and op == "eq"
    if attr_type in (schema.INTEGER, schema.DECIMAL) or (
            attr_type is None and isinstance(expected, (int, float))):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return False
        return _order(op, actual, expected)
    if attr_type == schema.DATETIME:
        instant = parse_datetime(actual)
        return instant is not None and _order(op, instant, expected)
    if not isinstance(actual, str) or not isinstance(expected, str):
        return False
    if not case_exact:
        actual, expected = actual.lower(), expected.lower()
    if op == "co":
        return expected in actual
    if op == "sw":
        return actual.startswith(expected)
    if op == "ew":
        return actual.endswith(expected)
    return _order(op, actual, expected)


def _order(op, actual, expected):
    if op == "eq":
        return actual == expected
    if op == "gt":
        return actual > expected
    if op == "ge":
        return actual >= expected
    if op == "lt":
        return actual < expected
    if op == "le":
        return actual <= expected
    return False
