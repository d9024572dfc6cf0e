"""Who is signed in: the session cookie, the CSRF token of every form, the Actor of console actions and the
security headers of console answers.

The session lives in the database (models/services/signin.py); the cookie holds only its random secret:
HttpOnly, SameSite=Lax, Secure when Roster is served over https, replaced at every sign-in. A form carries a
CSRF token derived from that session (or, before sign-in, from a random pre-session cookie) with SECRET_KEY;
a POST without the right one is refused with 403 before any view runs.
"""

import functools
import hashlib
import hmac
import secrets

from flask import current_app, g, redirect, request, url_for

from models.services import Actor, PermissionDeniedError
from models.services import signin
from web.auth import request_info

SESSION_COOKIE = "roster_session"
PRE_COOKIE = "roster_pre"
CSRF_FIELD = "csrf_token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def load():
    """Read the request's cookies: the signed-in session and person, or a pre-session for the sign-in forms.
    A static file (CSS, script) needs neither: it is served without a session look-up."""
    g.console_session, g.person, g.new_pre = None, None, None
    if request.endpoint == "console.static":
        return
    found = signin.session_for(request.cookies.get(SESSION_COOKIE))
    if found is not None:
        g.console_session, g.person = found
    g.pre = request.cookies.get(PRE_COOKIE)
    if g.person is None and not (isinstance(g.pre, str) and 20 <= len(g.pre) <= 100):
        g.pre = g.new_pre = secrets.token_urlsafe(32)


def csrf_token():
    """Return the CSRF token forms of this page carry."""
    basis = f"s:{g.console_session.token_hash}" if g.get("console_session") is not None else f"p:{g.get('pre')}"
    return hmac.new(current_app.config["SECRET_KEY"].encode(), basis.encode(), hashlib.sha256).hexdigest()


def check_csrf():
    """Refuse a POST whose form does not carry this browser's CSRF token."""
    if request.method != "POST":
        return
    sent = request.form.get(CSRF_FIELD, "")
    if not sent or not hmac.compare_digest(sent, csrf_token()):
        raise PermissionDeniedError("This form has expired or did not come from Roster. Go back, reload the page "
                                    "and try again.")


def _secure():
    return request.is_secure or current_app.config["PUBLIC_URL"].startswith("https://")


def _set_cookie(response, name, value, max_age):
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Lax", secure=_secure(), path="/")


def begin(response, person):
    """Sign `person` in on `response`: a new session (the old one ends), a new cookie, a new CSRF token."""
    if g.get("console_session") is not None:
        signin.end_session(g.console_session)
    info = request_info()
    _, raw = signin.open_session(person, info["ip"], info["user_agent"])
    hours = current_app.config.get("CONSOLE_SESSION_HOURS", 12)
    _set_cookie(response, SESSION_COOKIE, raw, hours * 3600)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


def end(response, everywhere=False):
    """Sign out this browser (or every browser of the person) on `response`."""
    if g.get("console_session") is not None:
        if everywhere:
            signin.end_all_sessions(g.person)
        else:
            signin.end_session(g.console_session)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def store_cookies(response):
    """Hand out the pre-session cookie the page's forms are bound to."""
    if g.get("new_pre") and SESSION_COOKIE not in str(response.headers.getlist("Set-Cookie")):
        _set_cookie(response, PRE_COOKIE, g.new_pre, 3600)
    return response


def security_headers(response):
    """No framing, no inline script, no referrer carrying a token, nothing cached."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith("/console/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def console_actor():
    """Return the Actor of a console action: the signed-in person, through this session."""
    session = g.get("console_session")
    return Actor(kind="console", person=g.get("person"), token_id=session.id if session else None,
                 token_label="console session" if session else None, **request_info())


def signed_in(view):
    """Send a visitor who is not signed in to the sign-in page, back here afterwards."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("person") is None:
            return redirect(url_for("console.signin_page", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapper


def safe_next(target):
    """Return `target` when it is a path of this console, else the console's home."""
    if isinstance(target, str) and target.startswith("/console/") and not target.startswith("//") \
            and "\\" not in target and len(target) <= 500:
        return target
    return url_for("console.home")
