"""Signing in by a mailed one-time code (or the link in the same mail, or one `roster signin-link` printed),
and signing out of this browser or everywhere."""

from flask import g, redirect, request, url_for

from models.services import InvalidError, ServiceError, TooManyRequestsError, UnavailableError
from models.services import signin as svc
from models.services.workspaces import workspaces_of

from . import bp
from . import session
from .errors import field_errors
from .pages import page


def _next():
    return session.safe_next(request.values.get("next"))


@bp.route("/console/")
@session.signed_in
def home():
    """Open the first workspace of the signed-in person, or say there is none yet."""
    g.workspaces = workspaces_of(g.person)
    if g.workspaces:
        return redirect(url_for("console.overview", ws=g.workspaces[0].slug))
    return page("console/home.html")


@bp.route("/console/signin", methods=["GET"])
def signin_page():
    """Ask for an email."""
    if g.person is not None:
        return redirect(_next())
    notice = {"signed_out": "You are signed out.", "everywhere": "You are signed out on every device."}.get(
        request.args.get("notice"))
    return page("console/signin.html", email=request.args.get("email", "")[:320], next=_next(), errors={},
                notice=notice)


@bp.route("/console/signin", methods=["POST"])
def request_code():
    """Mail a code to the email and go on to the code page."""
    email, nxt = request.form.get("email", "").strip()[:320], _next()
    try:
        svc.request_code(session.console_actor(), email)
    except TooManyRequestsError:
        pass  # a code is on its way already: the code page says how long until another one
    except UnavailableError:
        return page("console/signin.html", 503, email=email, next=nxt, notice=None,
                    errors={"email": ["We could not send the mail just now. Try again in a moment."]})
    except InvalidError as error:
        return page("console/signin.html", 400, email=email, next=nxt, notice=None,
                    errors=field_errors(error, ("email",), "email"))
    return redirect(url_for("console.code_page", email=email.lower(), next=nxt))


def _code_page(status=200, errors=None, notice=None):
    email = request.values.get("email", "").strip()[:320]
    if not email:
        return redirect(url_for("console.signin_page"))
    return page("console/code.html", status, email=email, next=_next(), errors=errors or {}, notice=notice,
                minutes=int(svc.CODE_TTL.total_seconds() // 60))


@bp.route("/console/signin/code", methods=["GET"])
def code_page():
    """Ask for the mailed code."""
    return _code_page()


@bp.route("/console/signin/code", methods=["POST"])
def submit_code():
    """Check the code; sign in on success."""
    try:
        person = svc.verify_code(request.form.get("email", ""), request.form.get("code", ""))
    except InvalidError as error:
        return _code_page(400, errors=field_errors(error, ("code",), "code"))
    return session.begin(redirect(_next()), person)


@bp.route("/console/signin/resend", methods=["POST"])
def resend_code():
    """Mail a new code (at most one a minute)."""
    try:
        svc.request_code(session.console_actor(), request.form.get("email", ""))
    except TooManyRequestsError as error:
        return _code_page(429, errors={"resend": [error.message]})
    except ServiceError as error:
        return _code_page(error.status, errors={"resend": [error.message]})
    return _code_page(notice="We sent a new code. Earlier codes no longer work.")


@bp.route("/console/signin/link", methods=["GET"])
def link_page():
    """Show whom a sign-in link is for; the link is used only by pressing Continue (so a mail scanner opening it
    does not use it up)."""
    token = request.args.get("token", "")
    email = svc.link_email(token)
    return page("console/link.html", 200 if email else 410, token=token if email else "", email=email)


@bp.route("/console/signin/link", methods=["POST"])
def use_link():
    """Use a sign-in link once and sign in."""
    try:
        person = svc.consume_link(request.form.get("token", ""))
    except InvalidError:
        return page("console/link.html", 410, token="", email=None)
    return session.begin(redirect(url_for("console.home")), person)


@bp.route("/console/signout", methods=["POST"])
def signout():
    """Sign this browser out."""
    return session.end(redirect(url_for("console.signin_page", notice="signed_out")))


@bp.route("/console/signout/everywhere", methods=["POST"])
def signout_everywhere():
    """Sign out on every device: every session of the person ends."""
    return session.end(redirect(url_for("console.signin_page", notice="everywhere")), everywhere=True)
