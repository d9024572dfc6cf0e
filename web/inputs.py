"""The one place every request's text is checked before any view sees it (`models/untrusted.py`).

The path, the query string, form fields and a JSON body must be Unicode text: a lone surrogate or bytes that
are not UTF-8 are refused with 400 (SCIM's `invalidValue` under /scim/, the admin error JSON elsewhere), and a
JSON body nested too deeply with 400 (`invalidSyntax` on SCIM), before anything is read or written. A body
that is not JSON at all is left to the view, which answers in its own words.
"""

from flask import g, request

from models.errors import InvalidError
from models.untrusted import UntrustedInputError, check_text, check_url_bytes, load_json

_PARSED = "_roster_json_body"


def _refusal(error):
    refusal = InvalidError(error.message)
    refusal.scim_type = "invalidSyntax" if error.kind == "syntax" else "invalidValue"
    return refusal


def _check_strings(pairs, what):
    for key, value in pairs:
        check_text(key, f"The name of {what} '{key.encode('utf-8', 'replace').decode()}'"
                   if isinstance(key, str) else what)
        if isinstance(value, str):
            check_text(value, f"{what.capitalize()} '{key.encode('utf-8', 'replace').decode()}'")


def check_request():
    """Refuse a request whose path, query, form or JSON body is not Unicode text, or whose JSON body is
    nested too deeply. The parsed body is kept for `json_body`."""
    environ = request.environ
    try:
        check_url_bytes(environ.get("PATH_INFO", ""), "The request path", encoded=False)
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""  # as sent, still percent-encoded
        check_url_bytes(raw_uri.partition("?")[0], "The request path")
        check_url_bytes(environ.get("QUERY_STRING", ""), "The query string")
        _check_strings(request.args.items(multi=True), "the query parameter")
        _check_strings((request.view_args or {}).items(), "the path segment")
        if request.mimetype == "application/x-www-form-urlencoded":
            check_url_bytes(request.get_data(cache=True).replace(b"+", b" "), "The form body")
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            _check_strings(request.form.items(multi=True), "the form field")
            if any("\x00" in value for value in request.form.values()):  # PostgreSQL cannot store or compare NUL
                raise UntrustedInputError("A form field holds a NUL character")
        elif request.is_json:
            raw = request.get_data(cache=True)
            if raw.strip():
                try:
                    g.setdefault(_PARSED, (load_json(raw),))
                except UntrustedInputError:
                    raise
                except ValueError:
                    pass  # not JSON: the view says so in its own format
    except UntrustedInputError as error:
        raise _refusal(error) from None


def json_body():
    """Return the request's body parsed as JSON and checked (once per request, whatever its media type), or
    raise ValueError for text that is not JSON; JSON that is not Unicode text or too deep is a 400 refusal."""
    cached = g.get(_PARSED)
    if cached is not None:
        return cached[0]
    try:
        value = load_json(request.get_data(cache=True))
    except UntrustedInputError as error:
        raise _refusal(error) from None
    g.setdefault(_PARSED, (value,))
    return value
