"""What a view declares about itself (its provisioning-log operation, its rate limit, that it is operational):
attributes set by decorators, read back for the view answering a request."""

from flask import current_app, request


def view_declaration(endpoint, method, attribute):
    """Return `attribute` as declared by the view answering `method` at `endpoint`, or None."""
    view = current_app.view_functions.get(endpoint) if endpoint else None
    view_class = getattr(view, "view_class", None)  # a MethodView: one method per HTTP verb
    if view_class is not None:
        view = getattr(view_class, method.lower(), None)
    return getattr(view, attribute, None)


def operational(view):
    """Mark an operator's view (health, metrics): no rate limit, no per-request database connection."""
    view.operational = True
    return view


def is_operational():
    """Tell whether the request is answered by an operational view."""
    return bool(view_declaration(request.endpoint, request.method, "operational"))
