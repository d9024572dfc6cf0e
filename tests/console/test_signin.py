"""Console sign-in: the mailed code (8 digits, hashed, once, 5 tries, 10 minutes, resend throttled), the link,
sessions (cookie flags, rotation, idle timeout, sign-out everywhere), CSRF and the security headers."""

import datetime
import re

import pytest

from models.db import db
from models.services import Actor
from models.services.signin import issue_link
from models.sessions import ConsoleSession, SigninCode
from tests.console.helpers import csrf_of, mailed_code, sign_in

OWNER = "owner@acme.test"


def ask_code(client, email):
    page = client.get("/console/signin")
    return client.post("/console/signin", data={"email": email, "csrf_token": csrf_of(page)})


def enter_code(client, email, code):
    page = client.get(f"/console/signin/code?email={email}")
    return client.post("/console/signin/code", data={"email": email, "code": code, "csrf_token": csrf_of(page)})


def session_cookie(response):
    return next((h for h in response.headers.getlist("Set-Cookie") if h.startswith("roster_session=")), None)


def test_code_signs_in_once_with_a_safe_cookie(app, client, workspace_setup, mailbox):
    r = ask_code(client, OWNER)
    assert r.status_code == 302 and "/console/signin/code?email=owner@acme.test" in r.headers["Location"]
    code, _ = mailed_code(mailbox, OWNER)
    assert re.fullmatch(r"\d{8}", code)
    with app.app_context(), db.connection_context():
        row = SigninCode.get(SigninCode.email == OWNER)
        assert code not in row.code_hash and len(row.code_hash) == 64
        assert row.expires_at - row.created_at == datetime.timedelta(minutes=10)
    r = enter_code(client, OWNER, code)
    assert r.status_code == 302 and r.headers["Location"] == "/console/"
    cookie = session_cookie(r)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/console/", follow_redirects=True).request.path == \
        f"/console/w/{workspace_setup.workspace.slug}/"
    other = app.test_client()
    r = enter_code(other, OWNER, code)
    assert r.status_code == 400 and "expired or was replaced" in r.get_data(as_text=True)


def test_secure_cookie_under_https(app, client, workspace_setup, mailbox, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://roster.example")
    ask_code(client, OWNER)
    code, link = mailed_code(mailbox, OWNER)
    assert link.startswith("https://roster.example/console/signin/link?token=")
    assert "Secure" in session_cookie(enter_code(client, OWNER, code))


def test_five_wrong_codes_burn_the_code(app, client, workspace_setup, mailbox):
    ask_code(client, OWNER)
    code, _ = mailed_code(mailbox, OWNER)
    wrong = f"{(int(code) + 1) % 10 ** 8:08d}"
    for left in (4, 3, 2, 1):
        r = enter_code(client, OWNER, wrong)
        assert r.status_code == 400 and f"{left} tries left" in r.get_data(as_text=True)
    r = enter_code(client, OWNER, wrong)
    assert "Too many wrong codes" in r.get_data(as_text=True)
    r = enter_code(client, OWNER, code)
    assert r.status_code == 400 and session_cookie(r) is None


def test_expired_code_is_refused(app, client, workspace_setup, mailbox):
    ask_code(client, OWNER)
    code, _ = mailed_code(mailbox, OWNER)
    with app.app_context(), db.connection_context():
        SigninCode.update(expires_at=datetime.datetime(2000, 1, 1)).execute()
    r = enter_code(client, OWNER, code)
    assert r.status_code == 400 and session_cookie(r) is None


def test_resend_is_throttled_and_replaces_the_code(app, client, workspace_setup, mailbox):
    ask_code(client, OWNER)
    first, _ = mailed_code(mailbox, OWNER)
    page = client.get(f"/console/signin/code?email={OWNER}")
    r = client.post("/console/signin/resend", data={"email": OWNER, "csrf_token": csrf_of(page)})
    assert r.status_code == 429 and "ask again in" in r.get_data(as_text=True)
    assert len(mailbox.messages) == 1
    with app.app_context(), db.connection_context():
        SigninCode.update(created_at=datetime.datetime(2000, 1, 1)).execute()
    r = client.post("/console/signin/resend", data={"email": OWNER, "csrf_token": csrf_of(page)})
    assert r.status_code == 200 and "We sent a new code" in r.get_data(as_text=True)
    second, _ = mailed_code(mailbox, OWNER)
    if second != first:
        assert enter_code(client, OWNER, first).status_code == 400
    assert enter_code(client, OWNER, second).status_code == 302


def test_unknown_email_gets_the_same_answer_and_no_mail(app, client, workspace_setup, mailbox):
    r = ask_code(client, "stranger@example.test")
    assert r.status_code == 302 and "/console/signin/code" in r.headers["Location"]
    assert mailbox.messages == []
    r = ask_code(client, "not an email")
    assert r.status_code == 400 and "Not a valid email address" in r.get_data(as_text=True)
    assert 'value="not an email"' in r.get_data(as_text=True)


def test_mailed_link_asks_before_it_is_used_and_works_once(app, client, workspace_setup, mailbox):
    ask_code(client, OWNER)
    _, link = mailed_code(mailbox, OWNER)
    path = link.split("roster.test", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and "Continue as owner@acme.test" in page.get_data(as_text=True)
    page = client.get(path)  # opening it (a mail scanner does) uses nothing
    token = path.split("token=")[1]
    r = client.post("/console/signin/link", data={"token": token, "csrf_token": csrf_of(page)})
    assert r.status_code == 302 and session_cookie(r)
    other = app.test_client()
    assert other.get(path).status_code == 410


def test_post_without_csrf_is_refused(app, client, workspace_setup, mailbox):
    r = client.post("/console/signin", data={"email": OWNER})
    assert r.status_code == 403 and "text/html" in r.content_type
    assert "did not come from Roster" in r.get_data(as_text=True)
    assert mailbox.messages == []
    client.get("/console/signin")
    assert client.post("/console/signin", data={"email": OWNER, "csrf_token": "0" * 64}).status_code == 403
    sign_in(client, mailbox, OWNER)
    r = client.post(f"/console/w/{workspace_setup.workspace.slug}/members/invite",
                    data={"email": "x@example.test", "role-dev": "Admin"})
    assert r.status_code == 403


def test_sign_in_rotates_and_sign_out_everywhere_ends_every_session(app, client, workspace_setup, mailbox):
    first = session_cookie(sign_in(client, mailbox, OWNER))
    with app.test_request_context(), db.connection_context():
        link = issue_link(Actor(kind="cli"), workspace_setup.owner)
    path = link.split("roster.test", 1)[1]
    page = client.get(path)
    second = session_cookie(client.post("/console/signin/link", data={"token": path.split("token=")[1],
                                                                      "csrf_token": csrf_of(page)}))
    assert second and first != second
    with app.app_context(), db.connection_context():
        assert ConsoleSession.select().where(ConsoleSession.ended_at.is_null()).count() == 1
        SigninCode.update(created_at=datetime.datetime(2000, 1, 1)).execute()
    laptop = app.test_client()
    sign_in(laptop, mailbox, OWNER)
    page = client.get(f"/console/w/{workspace_setup.workspace.slug}/")
    r = client.post("/console/signout/everywhere", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 302 and "notice=everywhere" in r.headers["Location"]
    assert laptop.get("/console/").status_code == 302
    assert laptop.get("/console/").headers["Location"].startswith("/console/signin")


def test_idle_session_ends(app, client, workspace_setup, mailbox):
    sign_in(client, mailbox, OWNER)
    assert client.get("/console/").headers["Location"].startswith("/console/w/")
    with app.app_context(), db.connection_context():
        ConsoleSession.update(last_seen_at=datetime.datetime.utcnow() - datetime.timedelta(minutes=61)).execute()
    assert client.get("/console/").headers["Location"].startswith("/console/signin")


@pytest.mark.parametrize("path", ["/console/signin", "/invitations/accept?token=x", "/console/nothing-here"])
def test_security_headers(client, app, path):
    r = client.get(path)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Referrer-Policy"] == "no-referrer"
    assert "text/html" in r.content_type
