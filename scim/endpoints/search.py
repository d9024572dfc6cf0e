"""Listing and searching: GET /Users and /Groups, POST /Users/.search, /Groups/.search and /.search.

RFC 7644 §3.4.2: the filter runs in the database (`scim.filters.compile_filter`), `sortBy`/`sortOrder` order
it (then the id, so pages are stable), `startIndex` is 1-based (below 1 means 1), `count` below 0 means 0 and
above the advertised maximum is capped to it; `count=0` answers only totalResults. A filter matching nothing
is a 200 with totalResults 0, never a 404 (Entra's Test Connection). POST /.search (§3.4.3) lists Users, then
Groups; an attribute one type does not have simply matches nothing of that type.
"""

from flask import g, request

from models.directory import Group, GroupMember, Member

from .. import repository, schema
from ..constants import DEFAULT_COUNT, SEARCH_REQUEST
from ..errors import InvalidFilterError, InvalidValueError
from ..filters import (And, Comparison, Not, Or, ValuePath, compile_filter, filter_quirks, group_resource_map,
                       order_by, parse_filter, user_resource_map)
from ..quirks import QuirkRecorder
from ..responses import list_response
from ..schema import GROUP, USER, get_ci
from . import base_url, bp, json_body, max_results, note_quirks, projection, strict

def resource_map(resource_type):
    """Return the filter ResourceMap of a resource type."""
    if resource_type == USER:
        return user_resource_map(Member, GroupMember, Group)
    return group_resource_map(Group, GroupMember, Member)


def _integer(source, key, default):
    value = get_ci(source, key)
    if value is None or value == "":
        return default
    # RFC 7644 §3.4.2.4: startIndex and count are integers; 2.0 is one, 1.9 and 1e400 (infinity) are not.
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidValueError(f"{key} must be an integer, not {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidValueError(f"{key} must be an integer, not {value!r}") from None


class SearchRequest:
    """The listing parameters of a query string or a SearchRequest body (RFC 7644 §3.4.2, §3.4.3)."""

    def __init__(self, source):
        # RFC 7644 §3.4.2.4: startIndex is 1-based; values below 1 mean 1, a negative count means 0.
        self.start_index = max(1, _integer(source, "startIndex", 1))
        self.count = min(max(0, _integer(source, "count", DEFAULT_COUNT)), max_results())
        text = get_ci(source, "filter")
        if text is not None and not isinstance(text, str):
            raise InvalidFilterError("filter must be a string")
        self.filter = parse_filter(text) if text and text.strip() else None
        if self.filter is not None:
            recorder = QuirkRecorder(strict())
            for name in filter_quirks(self.filter):
                # Entra's emails[type eq "work"].value eq "x" (idp_fixtures/entra/scim/19-match-by-work-email.json).
                recorder.tolerate(name, f"Invalid filter {text!r}: a value filter cannot be followed by a "
                                        f"sub-attribute and an operator; write emails[type eq \"work\" and "
                                        f"value eq \"...\"]", error=InvalidFilterError)
            note_quirks(recorder.applied)
        sort_by = get_ci(source, "sortBy")
        if sort_by is not None and not isinstance(sort_by, str):
            raise InvalidValueError("sortBy must be an attribute name")
        self.sort_by = sort_by.strip() if sort_by and sort_by.strip() else None
        order = get_ci(source, "sortOrder")
        if order is None or order == "":
            order = "ascending"
        if not isinstance(order, str) or order.lower() not in ("ascending", "descending"):
            raise InvalidValueError("sortOrder must be ascending or descending")
        self.descending = order.lower() == "descending"
        self.source = source


def _known(resource_type, path):
    return schema.resolve(resource_type, path.uri, path.name) is not None


def restrict(node, resource_type):
    """Fold a root-search filter for one type: attributes it lacks match nothing (RFC 7644 §3.4.3).

    Returns the reduced node, True (matches everything) or False (matches nothing).
    """
    if isinstance(node, (Comparison, ValuePath)):
        return node if _known(resource_type, node.path) else False
    if isinstance(node, Not):
        inner = restrict(node.expr, resource_type)
        return (not inner) if isinstance(inner, bool) else Not(inner)
    if isinstance(node, (And, Or)):
        left, right = restrict(node.left, resource_type), restrict(node.right, resource_type)
        absorbing = isinstance(node, Or)  # True absorbs an or, False absorbs an and
        for side, other in ((left, right), (right, left)):
            if isinstance(side, bool):
                return absorbing if side is absorbing else other
        return type(node)(left, right)
    return node


def _where(resource_type, search, root=False):
    """Return the compiled filter of one resource type; False when nothing of the type can match."""
    node = search.filter
    if node is not None and root:
        node = restrict(node, resource_type)
        if node is True:
            node = None
        elif node is False:
            return False
    return compile_filter(node, resource_map(resource_type)) if node is not None else None


def _order(resource_type, search):
    """Return the sortBy terms of one resource type (without the id tiebreak), or None for the default."""
    if not search.sort_by:
        return None
    return order_by(search.sort_by, resource_map(resource_type), search.descending)[:-1]


def _render(resource_type, rows, search):
    proj = projection(resource_type, search.source)
    if resource_type == USER:
        return repository.render_users(g.workspace, rows, proj, base_url())
    return repository.render_groups(g.workspace, rows, proj, base_url())


def run_search(resource_types, search):
    """Answer a listing over one or more resource types as a ListResponse."""
    offset, limit = search.start_index - 1, search.count
    plans, first_error = [], None
    root = len(resource_types) > 1
    for resource_type in resource_types:
        try:
            where = _where(resource_type, search, root)
        except (InvalidFilterError, InvalidValueError) as error:
            if not root:
                raise
            first_error, where = first_error or error, False
        plans.append([resource_type, where, None])
    if search.filter is not None and root and all(where is False for _, where, _ in plans):
        raise first_error or InvalidFilterError("The filter names no attribute of any resource type")
    # A root search sorts each type by the attribute when it has it; a type without it keeps the default
    # order (its values are all missing, and missing sorts last). Only an attribute no type has is a 400.
    sort_error = None
    for plan in plans:
        try:
            plan[2] = _order(plan[0], search)
        except (InvalidFilterError, InvalidValueError) as error:
            if not root:
                raise
            sort_error = sort_error or error
            plan[2] = False
    if sort_error is not None and all(order is False for _, _, order in plans):
        raise sort_error
    resources, total = [], 0
    for resource_type, where, order in plans:
        if where is False:
            continue
        type_total, rows = repository.list_page(g.workspace, resource_type, where, order or None,
                                                offset=max(0, offset - total), limit=limit - len(resources))
        if offset < total + type_total and rows:
            resources.extend(_render(resource_type, rows, search))
        total += type_total
    return list_response(resources, total, search.start_index)


def _search_body():
    body = json_body()
    if not isinstance(body, dict):
        raise InvalidValueError("A SearchRequest must be a JSON object")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or SEARCH_REQUEST not in schemas):
        raise InvalidValueError(f"A SearchRequest's schemas must contain {SEARCH_REQUEST}")
    return body


@bp.get("/Users")
def list_users():
    """List or filter users."""
    return run_search([USER], SearchRequest(request.args))


@bp.get("/Groups")
def list_groups():
    """List or filter groups."""
    return run_search([GROUP], SearchRequest(request.args))


@bp.post("/Users/.search")
def search_users():
    """Search users with a SearchRequest body (RFC 7644 §3.4.3)."""
    return run_search([USER], SearchRequest(_search_body()))


@bp.post("/Groups/.search")
def search_groups():
    """Search groups with a SearchRequest body (RFC 7644 §3.4.3)."""
    return run_search([GROUP], SearchRequest(_search_body()))


@bp.post("/.search")
def search_all():
    """Search every resource type with a SearchRequest body (RFC 7644 §3.4.3)."""
    return run_search([USER, GROUP], SearchRequest(_search_body()))
