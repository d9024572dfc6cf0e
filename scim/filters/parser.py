"""Parse a SCIM filter (RFC 7644 §3.4.2.2) into the AST of `scim.filters.nodes`.

The grammar is scim2-filter-parser 0.7.0's sly lexer and LALR parser, corrected on our side:

- numbers: 0.7.0 lexes one digit per token, so `x gt 12` and `x gt 1.5` fail; we lex JSON numbers
  (RFC 8259 §6) and return int or float;
- strings: 0.7.0 stops at the first `"` and ignores escapes, so `"a\\"b"` fails; we lex JSON strings
  and decode their escapes;
- `true`/`false`/`null` are lexed only as whole words (0.7.0 splits `nullable` into `null` + `able`);
- precedence: 0.7.0 gives `and` and `or` the same level, so `a or b and c` groups as `(a or b) and c`;
  RFC 7644 §3.4.2.2 says "not" binds tighter than "and", which binds tighter than "or";
- Entra's `emails[type eq "work"].value eq "x"` (outside the RFC ABNF, idp_fixtures/entra/scim/19-match-by-work-email.json) becomes
  `emails[type eq "work" and value eq "x"]`, a ValuePath marked with the quirk
  `entra.filter_value_path_attribute` (`nodes.filter_quirks` lists the marks; callers record or refuse them).

Every failure, whatever its cause, is an `InvalidFilterError` with a message that says where and why.
"""

import json

from scim2_filter_parser import ast as sly_ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError

from ..constants import MAX_FILTER_LENGTH
from ..errors import InvalidFilterError
from ..quirks import ENTRA_FILTER_VALUE_PATH_ATTRIBUTE
from .nodes import And, AttrPath, Comparison, Not, Or, ValuePath

# Parentheses and brackets nested deeper than this are refused (the matcher and compiler recurse).
MAX_FILTER_DEPTH = 32

_WORD_END = r"(?![A-Za-z0-9_$:.-])"

_TOKEN_NAMES = {
    "LPAREN": "'('", "RPAREN": "')'", "LBRACKET": "'['", "RBRACKET": "']'", "COMP_VALUE": "a string",
    "NUMBER": "a number", "TRUE": "true", "FALSE": "false", "NULL": "null", "ATTRNAME": "attribute name",
    "SCHEMA_URI": "schema URI", "SUBATTR": "sub-attribute",
}


class FilterLexer(SCIMLexer):
    """scim2-filter-parser's lexer with JSON numbers, JSON strings and whole-word literals."""

    tokens = SCIMLexer.tokens

    @_(r"(?i:false)" + _WORD_END)  # noqa: F821
    def FALSE(self, t):
        t.value = False
        return t

    @_(r"(?i:true)" + _WORD_END)  # noqa: F821
    def TRUE(self, t):
        t.value = True
        return t

    @_(r"(?i:null)" + _WORD_END)  # noqa: F821
    def NULL(self, t):
        t.value = None
        return t

    @_(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?" + _WORD_END)  # noqa: F821
    def NUMBER(self, t):
        text = t.value
        t.value = float(text) if any(c in text for c in ".eE") else int(text)
        return t

    @_(r'"(?:[^"\\]|\\.)*"')  # noqa: F821
    def COMP_VALUE(self, t):
        try:
            t.value = json.loads(t.value, strict=False)
        except ValueError as exc:
            raise InvalidFilterError(
                f"Invalid escape in the string at position {t.index + 1}: {exc.msg}") from None
        return t

    def error(self, t):
        char = t.value[0]
        if char == '"':
            raise InvalidFilterError(f"Unterminated string starting at position {t.index + 1}")
        raise InvalidFilterError(f"Unexpected character {char!r} at position {t.index + 1}")


class FilterParser(SCIMParser):
    """scim2-filter-parser's grammar with RFC precedence (not > and > or) and a marked Entra value path."""

    precedence = (
        ("left", "OR"),
        ("left", "AND"),
        ("right", "NOT"),
    )

    # Reuse 0.7.0's productions; sly builds new tables for this class from them and the precedence above.
    filter = SCIMParser.filter
    value_path = SCIMParser.value_path
    attr_exp = SCIMParser.attr_exp
    log_exp = SCIMParser.log_exp
    comp_value = SCIMParser.comp_value

    @_(  # noqa: F821
        "ATTRNAME",
        "ATTRNAME sub_attr",
        "SCHEMA_URI ATTRNAME",
        "SCHEMA_URI ATTRNAME sub_attr",
        "value_path",
        "value_path sub_attr",
    )
    def attr_path(self, p):
        if len(p) == 2 and isinstance(p[0], sly_ast.Filter):
            # `emails[...].value`: keep the trailing sub-attribute on the outer path (0.7.0 folds it into the
            # bracketed path, which makes `name.x[...]` and `name[...].x` indistinguishable).
            return sly_ast.AttrPath(p[0], p[1], None)
        return SCIMParser.attr_path(self, p)

    sub_attr = SCIMParser.sub_attr

    def error(self, token):
        if token is None:
            raise InvalidFilterError("The filter ends too early: an operand or a closing bracket is missing")
        previous = self.symstack[-1].type if self.symstack else None
        if previous in ("ATTRNAME", "SUBATTR", "sub_attr", "attr_path") and token.type == "ATTRNAME":
            raise InvalidFilterError(
                f"The operator '{token.value}' is not supported "
                "(use eq, ne, co, sw, ew, gt, ge, lt, le or pr)")
        shown = token.value if token.type in ("ATTRNAME", "SCHEMA_URI", "SUBATTR") else None
        what = repr(shown) if shown is not None else _TOKEN_NAMES.get(token.type, repr(str(token.value)))
        raise InvalidFilterError(f"Unexpected {what} at position {token.index + 1}")


def _tokenize(text):
    """Lex the whole filter first, so lexer errors come before parser errors and nesting can be checked."""
    tokens = list(FilterLexer().tokenize(text))
    depth = 0
    for token in tokens:
        if token.type in ("LPAREN", "LBRACKET"):
            depth += 1
            if depth > MAX_FILTER_DEPTH:
                raise InvalidFilterError(
                    f"The filter is nested too deeply (more than {MAX_FILTER_DEPTH} levels)")
        elif token.type in ("RPAREN", "RBRACKET"):
            depth -= 1
    return tokens


def parse_filter(text):
    """Parse a SCIM filter into the AST; raise InvalidFilterError for anything malformed."""
    if not isinstance(text, str):
        raise InvalidFilterError("The filter must be a string")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterError(f"The filter is longer than {MAX_FILTER_LENGTH} characters")
    if not text.strip():
        raise InvalidFilterError("The filter is empty")
    try:
        tokens = _tokenize(text)
        tree = FilterParser().parse(iter(tokens))
        if tree is None:
            raise InvalidFilterError("The filter is empty")
        return _Converter().filter(tree)
    except InvalidFilterError:
        raise
    except SCIMParserError:
        raise InvalidFilterError("A value filter can be followed by one sub-attribute only") from None
    except (RecursionError, MemoryError):
        raise InvalidFilterError("The filter is too complex") from None
    except Exception as exc:  # noqa: BLE001 - a filter must never cause a 500 (RFC 7644 §3.12)
        raise InvalidFilterError(f"The filter could not be parsed: {exc}") from None


class _Converter:
    """Turn the scim2-filter-parser tree into our dataclasses, checking what the grammar leaves open."""

    def filter(self, node, parent=None):
        """Convert a Filter/LogExpr/AttrExpr node; `parent` is the AttrPath of an enclosing value path."""
        if isinstance(node, sly_ast.LogExpr):
            return self._chain(node, parent)
        if isinstance(node, sly_ast.AttrExpr):
            return self._comparison(node, parent)
        if not isinstance(node, sly_ast.Filter):
            raise InvalidFilterError("The filter could not be parsed")
        if node.namespace is not None:
            return self._value_path(node.namespace, node.expr, parent)
        inner = self.filter(node.expr, parent)
        return Not(inner) if node.negated else inner

    def _chain(self, node, parent):
        """Convert a run of the same logical operator iteratively (a long `or` list must not recurse)."""
        op = node.op.lower()
        kind = And if op == "and" else Or
        pending, items = [node], []
        while pending:
            current = pending.pop()
            while (isinstance(current, sly_ast.Filter) and not current.negated
                   and current.namespace is None):
                current = current.expr
            if isinstance(current, sly_ast.LogExpr) and current.op.lower() == op:
                pending.append(current.expr2)
                pending.append(current.expr1)
            else:
                items.append(self.filter(current, parent))
        result = items[0]
        for item in items[1:]:
            result = kind(result, item)
        return result

    def _comparison(self, node, parent):
        op = node.value.lower()
        value = None if node.comp_value is None else node.comp_value.value
        if isinstance(value, str) and "\x00" in value:
            # No stored string holds NUL (writes refuse it), and PostgreSQL cannot compare with one.
            raise InvalidFilterError("A filter value must not contain NUL characters")
        raw = node.attr_path
        if isinstance(raw.attr_name, sly_ast.Filter):
            # Entra's `emails[type eq "work"].value eq "x"` (idp_fixtures/entra/scim/19-match-by-work-email.json).
            if parent is not None:
                raise InvalidFilterError("A value filter cannot be nested inside another value filter")
            if raw.sub_attr is None:
                raise InvalidFilterError(
                    f"A value filter cannot be compared with '{op}': name a sub-attribute, "
                    "as in emails[type eq \"work\"].value")
            outer = self._path(raw.attr_name.namespace)
            inner = self.filter(raw.attr_name.expr, outer)
            sub = AttrPath(None, raw.sub_attr.value, None)
            return ValuePath(outer, And(inner, Comparison(sub, op, value)),
                             quirk=ENTRA_FILTER_VALUE_PATH_ATTRIBUTE)
        path = self._path(raw)
        if parent is not None and (path.uri or path.sub):
            raise InvalidFilterError(
                f"Inside {parent}[...] use the sub-attribute names of {parent.name}, not '{path}'")
        if op in ("co", "sw", "ew") and not isinstance(value, str):
            raise InvalidFilterError(f"'{op}' needs a string value, not {json.dumps(value)}")
        if op in ("gt", "ge", "lt", "le") and (value is None or isinstance(value, bool)):
            # RFC 7644 §3.4.2.2: ordering on booleans is a 400 invalidFilter.
            raise InvalidFilterError(f"'{op}' cannot compare with {json.dumps(value)}")
        return Comparison(path, op, value)

    def _value_path(self, namespace, expr, parent):
        if parent is not None:
            raise InvalidFilterError("A value filter cannot be nested inside another value filter")
        if isinstance(getattr(namespace, "attr_name", None), sly_ast.Filter):
            raise InvalidFilterError("A value filter cannot be applied to the result of another value filter")
        path = self._path(namespace)
        if path.sub:
            raise InvalidFilterError(
                f"A value filter applies to an attribute, not to the sub-attribute '{path}'")
        return ValuePath(path, self.filter(expr, path))

    @staticmethod
    def _path(raw):
        if not isinstance(raw, sly_ast.AttrPath) or not isinstance(raw.attr_name, str):
            raise InvalidFilterError("Invalid attribute path")
        sub = raw.sub_attr.value if raw.sub_attr is not None else None
        if raw.attr_name.startswith("$") and raw.attr_name != "$ref":
            raise InvalidFilterError(f"Invalid attribute name '{raw.attr_name}'")
        return AttrPath(raw.uri, raw.attr_name, sub)
