"""Console test helpers: reading a page's CSRF token, signing in by the mailed code."""

import re


def csrf_of(response):
    """Return the CSRF token of the first form of a page."""
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:500]
    return match.group(1)


def mailed_code(mailbox, email):
    """Return (code, link) of the last sign-in mail to `email`."""
    message = mailbox.last_to(email)
    assert message is not None, f"no mail to {email}"
    code = re.search(r"code is\s+(\d{8})", message["body"]).group(1)
    link = re.search(r"(https?://\S+/console/signin/link\?token=\S+)", message["body"]).group(1)
    return code, link


def sign_in(client, mailbox, email):
    """Sign in through the pages: ask for a code, read it from the mail, enter it."""
    page = client.get("/console/signin")
    r = client.post("/console/signin", data={"email": email, "csrf_token": csrf_of(page)})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    code, _ = mailed_code(mailbox, email)
    page = client.get(r.headers["Location"])
    r = client.post("/console/signin/code", data={"email": email, "code": code, "csrf_token": csrf_of(page)})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return r
