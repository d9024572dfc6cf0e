"""Compile a parsed filter into a parameterised peewee expression, run by SQLite or PostgreSQL.

Nothing is string-built with values in it and no row is loaded into Python: every filter value, LIKE
pattern, JSON path (SQLite) and JSON key (PostgreSQL) is a bound parameter. A `ResourceMap` says where each
SCIM attribute lives:

- a column (`Column`): `userName` is compared on `user_name_ci = lower(value)` so the (workspace_id,
  user_name_ci) index serves Okta's and Entra's lookups; `meta.created`/`meta.lastModified` on the
  timestamps; `active`, `externalId`, `displayName`, `id` on their columns;
- a link table (`Relation`): `groups.value` on Users and `members.value` on Groups are EXISTS subqueries
  on group_member, and `members[...]` applies all its conditions to the same membership row;
- otherwise the JSON document: SQLite `json_extract`/`json_type`/`->`/`json_each`, PostgreSQL
  `->`/`#>>`/`jsonb_typeof`/`jsonb_array_elements`. A multi-valued attribute is an EXISTS over its
  elements, so the conditions inside one bracket hold for the same element (RFC 7644 §3.4.2.2).

Typing follows `values.check_operand` (the same rules as the in-memory matcher). `co`/`sw`/`ew` use LIKE
with `%`, `_` and the escape character escaped and an ESCAPE clause. Case-insensitive strings compare
`lower()`ed; SQLite's lower() folds ASCII letters only, so non-ASCII case differences are not folded there
(the `*_ci` columns are lower-cased in Python when written and are not affected). Ordering comparisons of
strings use the "C" collation on PostgreSQL: Unicode code point order with no locale (RFC 7644 §3.4.2.3),
which is also SQLite's BINARY order. A JSON dateTime compares as text; Roster's only dateTimes (meta) are
columns and compare as instants.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any, Optional

from peewee import SQL, Case, Expression, Field, NodeList, fn

from .. import schema
from .dialects import dialect_for, param
from ..errors import InvalidFilterError, InvalidValueError
from .nodes import And, AttrPath, Comparison, Not, Or, ValuePath, operands
from .parser import parse_filter
from .values import ORDERING, SUBSTRING, check_operand, resolve_sub_target, resolve_target


@dataclass(frozen=True)
class Column:
    """A SCIM attribute in a column: `expr` (a field or a boolean expression), `ci` a lower-cased copy.

    `unassigned_marker` names document keys that hold a JSON null once a client removed the attribute
    (RFC 7644 §3.5.2.2): a boolean column whose value is then the default (true) counts as unassigned, SQL
    NULL, so `pr`, `eq` and sorting see what GET returns (User `active`).
    """

    expr: Any
    ci: Any = None
    unassigned_marker: tuple = ()


@dataclass(frozen=True)
class Relation:
    """A multi-valued reference attribute stored as rows of a link table (User.groups, Group.members).

    `owner` is the link column holding the filtered resource's id, `value` the column holding the
    referenced id; `target`/`target_id`/`display` join the referenced table for the `display`
    sub-attribute; `workspace` is (link column, resource column) so the subquery stays inside the tenant.
    """

    link: Any
    owner: Any
    value: Any
    target: Any = None
    target_id: Any = None
    display: Any = None
    display_ci: Any = None
    workspace: Optional[tuple] = None


@dataclass(frozen=True)
class ResourceMap:
    """Where the attributes of one SCIM resource type live: columns, relations and the JSON document.

    `columns` and `relations` are keyed by canonical attribute path: "userName", "meta.created",
    "urn:...:enterprise:2.0:User:employeeNumber" (the URN prefix only for extension attributes).
    """

    resource_type: str
    model: Any
    id: Any
    document: Any
    columns: dict = field(default_factory=dict)
    relations: dict = field(default_factory=dict)


def user_resource_map(member, group_member, group):
    """Return the ResourceMap of /Users for member, group_member and member_group models of Roster's shape."""
    active = member._meta.fields.get("active")
    if isinstance(active, Field):
        active_expr = active
    else:  # Roster's Member keeps a status; active is "not suspended"
        active_expr = member.status != "suspended"
    return ResourceMap(
        resource_type=schema.USER,
        model=member,
        id=member.id,
        document=member.attributes,
        columns={
            "id": Column(member.id),
            "userName": Column(member.user_name, ci=member.user_name_ci),
            "externalId": Column(member.external_id),
            "displayName": Column(member.display_name),
            "active": Column(active_expr, unassigned_marker=("active",)),
            "meta.created": Column(member.created_at),
            "meta.lastModified": Column(member.updated_at),
        },
        relations={
            "groups": Relation(link=group_member, owner=group_member.member, value=group_member.group,
                               target=group, target_id=group.id, display=group.display_name,
                               display_ci=group.display_name_ci,
                               workspace=(group_member.workspace, member.workspace)),
        },
    )


def group_resource_map(group, group_member, member):
    """Return the ResourceMap of /Groups for member_group, group_member and member models (Roster's shape)."""
    return ResourceMap(
        resource_type=schema.GROUP,
        model=group,
        id=group.id,
        document=group.attributes,
        columns={
            "id": Column(group.id),
            "displayName": Column(group.display_name, ci=group.display_name_ci),
            "externalId": Column(group.external_id),
            "meta.created": Column(group.created_at),
            "meta.lastModified": Column(group.updated_at),
        },
        relations={
            "members": Relation(link=group_member, owner=group_member.group, value=group_member.member,
                                target=member, target_id=member.id, display=member.display_name,
                                workspace=(group_member.workspace, group.workspace)),
        },
    )


def compile_filter(node, resource_map, database=None):
    """Compile a filter (AST or text) to a peewee expression for `Model.select().where(...)`.

    The dialect follows `database`, or the model's database (through a DatabaseProxy). Raises
    InvalidFilterError for unknown attributes and operators the attribute's type does not allow.
    """
    if isinstance(node, str):
        node = parse_filter(node)
    return _Compiler(resource_map, dialect_for(resource_map, database)).compile(node)


def sort_key(path, resource_map, database=None):
    """Return the expression to ORDER BY for a sortBy attribute path (RFC 7644 §3.4.2.3).

    Strings sort case-insensitively unless caseExact; a multi-valued attribute sorts by its primary value,
    else its first one. Raises InvalidValueError for an unknown or unsortable attribute.
    """
    if isinstance(path, str):
        try:
            parsed = parse_filter(f"{path} pr")
        except InvalidFilterError as exc:
            raise InvalidValueError(f"Invalid sortBy '{path}': {exc.detail}") from None
        if not isinstance(parsed, Comparison) or parsed.op != "pr":
            raise InvalidValueError(f"Invalid sortBy '{path}'")
        path = parsed.path
    if not isinstance(path, AttrPath):
        raise InvalidValueError("sortBy must be an attribute path")
    try:
        return _Compiler(resource_map, dialect_for(resource_map, database)).sort_key(path)
    except InvalidFilterError as exc:
        raise InvalidValueError(f"Cannot sort by '{path}': {exc.detail}") from None


def order_by(path, resource_map, descending=False, database=None):
    """Return ORDER BY terms for sortBy/sortOrder: the key (missing values last), then the id (stable)."""
    key = sort_key(path, resource_map, database)
    term = key.desc(nulls="LAST") if descending else key.asc(nulls="LAST")
    return [term, resource_map.id.asc()]


def _balanced(items, kind):
    """Combine expressions with AND/OR as a balanced tree, so long lists stay shallow for SQL generation."""
    if len(items) == 1:
        return items[0]
    middle = len(items) // 2
    left, right = _balanced(items[:middle], kind), _balanced(items[middle:], kind)
    return (left & right) if kind is And else (left | right)


def _like_pattern(op, value):
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"co": f"%{escaped}%", "sw": f"{escaped}%", "ew": f"%{escaped}"}[op]


def _naive_utc(instant):
    return instant.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _negate(expr):
    """Return NOT expr with SQL NULL read as false, so `not` and `ne` stay two-valued."""
    return ~fn.COALESCE(expr, False)


class _Compiler:
    def __init__(self, resource_map, dialect):
        self.map = resource_map
        self.dialect = dialect
        self.resource_type = resource_map.resource_type
        self._join_target = False

    # -- logical structure -------------------------------------------------------------------------
    def compile(self, node, scope=None):
        """Compile `node`; `scope` is (parent Attribute, element accessor or Relation) inside brackets."""
        if isinstance(node, (And, Or)):
            kind = type(node)
            return _balanced([self.compile(item, scope) for item in operands(node, kind)], kind)
        if isinstance(node, Not):
            return _negate(self.compile(node.expr, scope))
        if isinstance(node, ValuePath):
            if scope is not None:
                raise InvalidFilterError("A value filter cannot be nested inside another value filter")
            return self._value_path(node)
        if isinstance(node, Comparison):
            if scope is not None:
                return self._scoped_comparison(node, scope)
            return self._comparison(node)
        raise InvalidFilterError(f"Not a filter expression: {node!r}")

    def _key(self, target):
        prefix = f"{target.extension}:" if target.extension else ""
        return prefix + (target.label if target.sub is not None else target.name)

    def _comparison(self, node):
        target = resolve_target(self.resource_type, node.path, node.op)
        relation = self.map.relations.get(self._key_top(target))
        if relation is not None:
            return self._multi(node, lambda op, value: self._relation_exists(
                relation, lambda rel: self._relation_condition(rel, target, op, value)))
        column = self.map.columns.get(self._key(target))
        if column is not None:
            return self._column_condition(column, target, node.op, node.value)
        keys = ([target.extension] if target.extension else []) + [target.name]
        if target.multi_valued:
            if node.op == "pr" and target.sub is None:
                return self.dialect.array_length(self.map.document, keys) > 0
            sub_keys = [target.sub_name] if target.sub is not None else []
            return self._multi(node, lambda op, value: self.dialect.exists(
                self.map.document, keys,
                lambda element: self._json_condition(element.value(sub_keys), target, op, value)))
        if target.sub is not None:
            keys.append(target.sub_name)
        return self._json_condition(self.dialect.value(self.map.document, keys), target, node.op, node.value)

    @staticmethod
    def _multi(node, exists_for):
        """Compile a comparison on a multi-valued attribute from `exists_for(op, value)` (an EXISTS).

        Any value may match (RFC 7644 §3.4.2.2); `ne` is "no value equals", `eq null` "no value present".
        """
        op, value = node.op, node.value
        if value is None and op in ("eq", "ne"):
            present = exists_for("pr", None)
            return present if op == "ne" else _negate(present)
        if op == "ne":
            return _negate(exists_for("eq", value))
        return exists_for(op, value)

    @staticmethod
    def _key_top(target):
        prefix = f"{target.extension}:" if target.extension else ""
        return prefix + target.name

    def _value_path(self, node):
        target = resolve_target(self.resource_type, node.path)
        parent = target.attr
        relation = self.map.relations.get(self._key_top(target))
        if relation is not None:
            return self._relation_exists(relation, lambda rel: self.compile(node.filter, (parent, rel)))
        keys = ([target.extension] if target.extension else []) + [target.name]
        if not parent.multi_valued:
            # A single complex attribute, e.g. manager[value eq "x"]: its sub-attributes are plain paths.
            document, base = self.map.document, keys
            accessor = _DocumentElement(self.dialect, document, base)
            return self.compile(node.filter, (parent, accessor))
        return self.dialect.exists(self.map.document, keys,
                                   lambda element: self.compile(node.filter, (parent, element)))

    def _scoped_comparison(self, node, scope):
        parent, accessor = scope
        target = resolve_sub_target(parent, node.path, node.op)
        if isinstance(accessor, Relation):
            if node.op == "ne" and node.value is not None:
                return _negate(self._relation_condition(accessor, target, "eq", node.value))
            condition = self._relation_condition(accessor, target, node.op, node.value)
            return SQL("1 = 1") if condition is None else condition
        keys = [target.sub_name] if target.sub is not None else []
        if node.op == "ne" and node.value is not None:
            return _negate(self._json_condition(accessor.value(keys), target, "eq", node.value))
        return self._json_condition(accessor.value(keys), target, node.op, node.value)

    # -- relations (group_member) ----------------------------------------------------------------
    def _relation_exists(self, relation, condition_for):
        conditions = [relation.owner == self.map.id]
        if relation.workspace is not None:
            conditions.append(relation.workspace[0] == relation.workspace[1])
        self._join_target = False
        condition = condition_for(relation)
        if condition is not None:
            conditions.append(condition)
        query = relation.link.select(SQL("1"))
        if self._join_target:  # only `display` needs the referenced table
            query = query.join(relation.target, on=(relation.value == relation.target_id))
        return fn.EXISTS(query.where(*conditions))

    def _relation_condition(self, relation, target, op, value):
        """Return the condition on one link row for `sub op value`, or None for "any row"."""
        sub = target.sub_name
        if sub in (None, "value"):
            if op == "pr":
                return None
            return self._column_condition(Column(relation.value), target, op, value, case_exact=True)
        if sub == "display" and relation.display is not None:
            self._join_target = True
            column = Column(relation.display, ci=relation.display_ci)
            return self._column_condition(column, target, op, value, case_exact=False)
        raise InvalidFilterError(f"'{target.label}' cannot be used in a filter (use value or display)")

    # -- columns ---------------------------------------------------------------------------------
    def _column_expr(self, column):
        """Return the column's SQL value, NULL where its unassigned marker says a client removed it."""
        if not column.unassigned_marker:
            return column.expr
        marked = self.dialect.value(self.map.document, list(column.unassigned_marker)).is_json_null()
        return Case(None, [(marked & column.expr, None)], column.expr)

    def _column_condition(self, column, target, op, value, case_exact=None):
        leaf = target.leaf
        expected = check_operand(target.label, leaf.type, op, value)
        if case_exact is None:
            case_exact = leaf.case_exact
        expr = self._column_expr(column)
        if op == "pr" or expected is None:
            present = expr.is_null(False)
            if leaf.type in (schema.STRING, schema.REFERENCE, schema.BINARY):
                present = present & (expr != "")
            if op == "pr":
                return present
            return present if op == "ne" else _negate(present)
        if op == "ne":
            return _negate(self._column_condition(column, target, "eq", value, case_exact))
        if leaf.type == schema.BOOLEAN:
            return Expression(expr, "=", param(expected))
        if leaf.type == schema.DATETIME:
            return Expression(expr, _SQL_OPS[op], _naive_utc(expected))
        if leaf.type in (schema.INTEGER, schema.DECIMAL):
            return Expression(expr, _SQL_OPS[op], param(expected))
        if case_exact:
            lhs, operand = expr, expected
        else:
            lhs = column.ci if column.ci is not None else fn.LOWER(expr)
            operand = expected.lower()
        return self._string_condition(lhs, op, operand, case_exact)

    def _string_condition(self, lhs, op, operand, case_exact):
        if op in SUBSTRING:
            return self._like(lhs, op, operand, case_exact)
        if op in ORDERING:
            return Expression(self.dialect.order_text(lhs), _SQL_OPS[op], param(operand))
        return Expression(lhs, "=", param(operand))

    def _like(self, lhs, op, operand, case_exact):
        if operand == "":
            return lhs.is_null(False)
        like = NodeList((lhs, SQL("LIKE"), param(_like_pattern(op, operand)), SQL("ESCAPE '\\'")))
        if case_exact and self.dialect.name == "sqlite":
            # SQLite's LIKE ignores ASCII case: confirm the match case-sensitively.
            length = len(operand)
            if op == "co":
                exact = fn.instr(lhs, param(operand)) > 0
            elif op == "sw":
                exact = fn.substr(lhs, 1, length) == param(operand)
            else:
                exact = fn.substr(lhs, -length) == param(operand)
            return like & exact
        return like

    # -- JSON ------------------------------------------------------------------------------------
    def _json_condition(self, value, target, op, operand):
        leaf = target.leaf
        expected = check_operand(target.label, leaf.type, op, operand)
        if op == "pr":
            return value.present()
        if expected is None:
            return value.present() if op == "ne" else _negate(value.present())
        if op == "ne":
            return _negate(self._json_condition(value, target, "eq", operand))
        if leaf.type == schema.BOOLEAN:
            return value.is_boolean(expected)
        if leaf.type in (schema.INTEGER, schema.DECIMAL):
            return Expression(value.number(), _SQL_OPS[op], param(expected))
        if leaf.type == schema.DATETIME:
            expected = expected.isoformat().replace("+00:00", "Z")
            return self._string_condition(value.text(), op, expected, True)
        if leaf.case_exact:
            return self._string_condition(value.text(), op, expected, True)
        return self._string_condition(fn.LOWER(value.text()), op, expected.lower(), False)

    # -- sorting ---------------------------------------------------------------------------------
    def sort_key(self, path):
        target = resolve_target(self.resource_type, path, "eq")
        if self.map.relations.get(self._key_top(target)) is not None:
            raise InvalidFilterError("group membership cannot be sorted on")
        leaf = target.leaf
        column = self.map.columns.get(self._key(target))
        string_like = leaf.type in (schema.STRING, schema.REFERENCE, schema.BINARY)
        if column is not None:
            if string_like and not leaf.case_exact:
                expr = column.ci if column.ci is not None else fn.LOWER(column.expr)
                return self.dialect.order_text(expr)
            return self.dialect.order_text(column.expr) if string_like else self._column_expr(column)
        keys = ([target.extension] if target.extension else []) + [target.name]
        if target.multi_valued:
            expr = self.dialect.element_value(self.map.document, keys, target.sub_name)
        else:
            if target.sub is not None:
                keys.append(target.sub_name)
            value = self.dialect.value(self.map.document, keys)
            if leaf.type in (schema.INTEGER, schema.DECIMAL):
                return value.number()
            if leaf.type == schema.BOOLEAN:
                return Case(None, [(value.is_boolean(False), 0), (value.is_boolean(True), 1)], None)
            expr = value.text()
        if string_like and not leaf.case_exact:
            expr = fn.LOWER(expr)
        return self.dialect.order_text(expr)


class _DocumentElement:
    """Accessor for the sub-attributes of a single complex attribute stored in the document."""

    def __init__(self, dialect, document, keys):
        self.dialect = dialect
        self.document = document
        self.keys = keys

    def value(self, keys):
        return self.dialect.value(self.document, self.keys + list(keys))


_SQL_OPS = {"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
