"""The two SQL dialects SCIM filters compile to: how SQLite and PostgreSQL reach into a JSON document, walk a
multi-valued attribute's elements, and pick its primary value (scim.filters.sql drives them)."""

import itertools

from peewee import SQL, Case, DatabaseProxy, Expression, NodeList, PostgresqlDatabase, SqliteDatabase, Value, fn


def database_of(resource_map, database=None):
    """Return the concrete peewee Database behind a model (or the one given), unwrapping DatabaseProxy."""
    db = database if database is not None else resource_map.model._meta.database
    while isinstance(db, DatabaseProxy):
        db = db.obj
    if db is None:
        raise RuntimeError("The database proxy is not initialised")
    return db


def dialect_for(resource_map, database):
    db = database_of(resource_map, database)
    if isinstance(db, PostgresqlDatabase):
        return PostgresDialect()
    if isinstance(db, SqliteDatabase):
        return SqliteDialect()
    raise RuntimeError(f"Unsupported database for SCIM filters: {type(db).__name__}")


def param(value):
    """Bind a value as-is (no field conversion)."""
    return Value(value, converter=False)


class SqliteJson:
    """A JSON value in SQLite, seen through its json_type and its SQL value."""

    def __init__(self, type_expr, value_expr):
        self.type_expr = type_expr
        self.value_expr = value_expr

    def text(self):
        return Case(None, [(self.type_expr == "text", self.value_expr)], None)

    def number(self):
        return Case(None, [(self.type_expr << ["integer", "real"], self.value_expr)], None)

    def is_boolean(self, value):
        return self.type_expr == ("true" if value else "false")

    def is_json_null(self):
        return self.type_expr == "null"

    def present(self):
        kind, value = self.type_expr, self.value_expr
        return ((kind << ["true", "false", "integer", "real"])
                | ((kind == "text") & (value != ""))
                | ((kind == "array") & (value != "[]"))
                | ((kind == "object") & (value != "{}")))


class PostgresJson:
    """A jsonb value in PostgreSQL."""

    def __init__(self, expr):
        self.expr = expr

    def text(self):
        as_text = Expression(self.expr, "#>>", SQL("'{}'"))
        return Case(None, [(fn.jsonb_typeof(self.expr) == "string", as_text)], None)

    def number(self):
        as_number = NodeList((SQL("CAST("), Expression(self.expr, "#>>", SQL("'{}'")), SQL("AS NUMERIC)")))
        return Case(None, [(fn.jsonb_typeof(self.expr) == "number", as_number)], None)

    def is_boolean(self, value):
        return Expression(self.expr, "=", SQL("'true'::jsonb" if value else "'false'::jsonb"))

    def is_json_null(self):
        return fn.jsonb_typeof(self.expr) == "null"

    def present(self):
        empty = SQL("('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb)")
        return Expression(fn.COALESCE(self.expr, SQL("'null'::jsonb")), "NOT IN", empty)


class SqliteDialect:
    name = "sqlite"

    def __init__(self):
        self._aliases = itertools.count(1)

    @staticmethod
    def _path(keys):
        return "$" + "".join('."%s"' % key.replace('"', '\\"') for key in keys)

    def value(self, document, keys):
        path = param(self._path(keys))
        return SqliteJson(fn.json_type(document, path), fn.json_extract(document, path))

    def exists(self, document, keys, condition_for):
        alias = f"scim_e{next(self._aliases)}"
        element = SqliteElement(alias)
        return NodeList((SQL("EXISTS (SELECT 1 FROM json_each("), document, SQL(", "),
                         param(self._path(keys)), SQL(f") AS {alias} WHERE "), condition_for(element),
                         SQL(")")), glue="")

    def array_length(self, document, keys):
        return Case(None, [(fn.json_type(document, param(self._path(keys))) == "array",
                            fn.json_array_length(document, param(self._path(keys))))], 0)

    def order_text(self, expr):
        return expr

    def element_value(self, document, keys, sub):
        """Return the SQL value of keys[i].sub for the primary element, else the first (for sorting)."""
        alias = f"scim_e{next(self._aliases)}"
        sub_path = param(self._path([sub]) if sub else "$")
        primary = NodeList((
            SQL("(SELECT json_extract("), SQL(f"{alias}.value"), SQL(", "), sub_path,
            SQL(") FROM json_each("),
            document, SQL(", "), param(self._path(keys)),
            SQL(f") AS {alias} WHERE json_extract({alias}.value, '$.primary') = 1 LIMIT 1)")), glue="")
        first_path = self._path(keys) + "[0]" + (self._path([sub])[1:] if sub else "")
        first = fn.json_extract(document, param(first_path))
        return fn.COALESCE(primary, first)


class SqliteElement:
    def __init__(self, alias):
        self.alias = alias

    def value(self, keys):
        if not keys:
            return SqliteJson(SQL(f"{self.alias}.type"), SQL(f"{self.alias}.value"))
        path = param(SqliteDialect._path(keys))
        source = SQL(f"{self.alias}.value")
        return SqliteJson(fn.json_type(source, path), fn.json_extract(source, path))


class PostgresDialect:
    name = "postgres"

    def __init__(self):
        self._aliases = itertools.count(1)

    @staticmethod
    def _walk(expr, keys):
        for key in keys:
            expr = Expression(expr, "->", param(key))
        return expr

    def value(self, document, keys):
        return PostgresJson(self._walk(document, keys))

    def exists(self, document, keys, condition_for):
        alias = f"scim_e{next(self._aliases)}"
        array = self._walk(document, keys)
        guarded = Case(None, [(fn.jsonb_typeof(array) == "array", array)], SQL("'[]'::jsonb"))
        element = PostgresElement(alias)
        return NodeList((SQL("EXISTS (SELECT 1 FROM jsonb_array_elements("), guarded,
                         SQL(f") AS {alias}(value) WHERE "), condition_for(element), SQL(")")), glue="")

    def array_length(self, document, keys):
        array = self._walk(document, keys)
        return Case(None, [(fn.jsonb_typeof(array) == "array", fn.jsonb_array_length(array))], 0)

    def order_text(self, expr):
        return expr.collate('"C"')

    def element_value(self, document, keys, sub):
        alias = f"scim_e{next(self._aliases)}"
        array = self._walk(document, keys)
        guarded = Case(None, [(fn.jsonb_typeof(array) == "array", array)], SQL("'[]'::jsonb"))
        item = SQL(f"{alias}.value")
        chosen = PostgresJson(self._walk(item, [sub]) if sub else item).text()
        where_primary = f") AS {alias}(value) WHERE {alias}.value -> 'primary' = 'true'::jsonb LIMIT 1)"
        primary = NodeList((SQL("(SELECT "), chosen, SQL(" FROM jsonb_array_elements("), guarded,
                            SQL(where_primary)), glue="")
        first = Expression(array, "->", param(0))
        first_value = PostgresJson(self._walk(first, [sub]) if sub else first).text()
        return fn.COALESCE(primary, first_value)


class PostgresElement:
    def __init__(self, alias):
        self.alias = alias

    def value(self, keys):
        return PostgresJson(PostgresDialect._walk(SQL(f"{self.alias}.value"), keys))
