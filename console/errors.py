"""Error pages and form errors: a refusal in the console is a page in the console's layout, never JSON and never
a 500 page for bad input; a form's refusal is shown beside its field."""

from flask import g, render_template

from web.errors import reason

TITLES = {
    400: "That did not work", 403: "Not allowed", 404: "Page not found", 405: "Not allowed here",
    409: "That conflicts with something", 410: "Gone", 413: "Too large", 429: "Slow down",
    500: "Something went wrong on our side", 503: "Temporarily unavailable",
}


def render_error_page(error):
    """Render a ServiceError (or an HTTP error converted to one) as a console page with its status."""
    status = error.status if isinstance(error.status, int) else 500
    message = error.message if status != 500 else "The error was logged. Please try again in a moment."
    if status == 404 and message in ("Not Found", "Workspace not found", "Member not found") or not message:
        message = "There is nothing here, or you do not have access to it."
    body = render_template("console/error.html", status=status, title=TITLES.get(status, reason(status)),
                           message=message, person=g.get("person"), workspace=g.get("workspace"),
                           workspaces=g.get("workspaces") or [])
    headers = dict(getattr(error, "headers", None) or {})
    return body, status, headers


def field_errors(error, fields, default="_form"):
    """Return {field: [messages]} for a form from a refusal: its per-field errors on the form's fields, else its
    message under `default` (a field, or "_form" for the top of the form)."""
    out = {}
    for key, messages in (getattr(error, "errors", None) or {}).items():
        if key in fields:
            out.setdefault(key, []).extend(messages if isinstance(messages, list) else [str(messages)])
    if not out:
        out[default] = [error.message]
    return out
