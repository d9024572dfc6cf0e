"""Console sign-in: one-time codes and links mailed to a person, and the server-side sessions they open.

A code is 8 digits, valid 10 minutes, works once and allows 5 guesses; asking again is throttled (one code a
minute per email) and makes older codes stop working. Codes are stored as an HMAC keyed with SECRET_KEY (an
8-digit code hashed without a key would fall to a brute force of a leaked table); link and session secrets
carry 256 bits and are stored as SHA-256. Nothing here tells whether an email belongs to someone: every ask
gets a row and the same answer, and mail goes only to known people.
"""

import datetime
import hmac
import secrets

from flask import current_app

from ..db import db, utcnow
from ..directory import Person
from ..sessions import ConsoleSession, SigninCode
from . import InvalidError, TooManyRequestsError, mail_after_commit, mutation
from .invitations import check_email
from .tokens import hash_code, hash_secret
from .workspaces import CODE_MAX_ATTEMPTS, CODE_RESEND_INTERVAL

CODE_TTL = datetime.timedelta(minutes=10)
LINK_TTL = datetime.timedelta(minutes=60)  # `roster signin-link`: an operator hands it over by hand
CODE_DIGITS = 8
SESSION_TOUCH = datetime.timedelta(seconds=60)  # last_seen_at is refreshed at most this often
SIGNIN_PATH = "/console/signin/link"
CODE_EXPIRED = "This code has expired or was replaced by a newer one: ask for a new code"


def _code_hash(email, code):
    return hash_code(f"signin:{email}", code)


def signin_url(raw):
    """Return the absolute sign-in link for a link secret."""
    return f"{current_app.config['PUBLIC_URL']}{SIGNIN_PATH}?token={raw}"


def _latest(email):
    return SigninCode.select().where(SigninCode.email == email).order_by(SigninCode.created_at.desc()).first()


def request_code(actor, email):
    """Mail a sign-in code and link to `email` (when it belongs to a person); return when the code expires."""
    email = check_email(email)
    with mutation(None, actor, "console.signin_code_sent") as change:
        now = utcnow()
        last = _latest(email)
        if last is not None and now - last.created_at < CODE_RESEND_INTERVAL:
            wait = (CODE_RESEND_INTERVAL - (now - last.created_at)).total_seconds()
            raise TooManyRequestsError(f"A code was sent moments ago; you can ask again in {int(wait) + 1} s",
                                       retry_after=max(1, int(wait) + 1))
        SigninCode.delete().where(SigninCode.email == email, SigninCode.expires_at < now - datetime.timedelta(days=1)
                                  ).execute()
        SigninCode.update(used=True).where(SigninCode.email == email, SigninCode.used == False).execute()  # noqa
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        raw = secrets.token_urlsafe(32)
        row = SigninCode.create(email=email, code_hash=_code_hash(email, code), link_hash=hash_secret(raw),
                                created_at=now, expires_at=now + CODE_TTL)
        if Person.select().where(Person.email == email).exists():
            def undo(_undo_change):
                SigninCode.delete().where(SigninCode.id == row.id).execute()
            minutes = int(CODE_TTL.total_seconds() // 60)
            mail_after_commit(
                change, email, f"{code} is your Roster sign-in code",
                f"Your Roster sign-in code is\n\n    {code}\n\nor open this link in the browser you are signing in "
                f"with:\n\n    {signin_url(raw)}\n\nThe code and the link work once, for {minutes} minutes. If you "
                f"did not try to sign in, you can ignore this message.\n",
                undo, "The sign-in code could not be mailed")
    return row.expires_at


def verify_code(email, code):
    """Consume the latest code of `email`; return the person, or raise InvalidError naming the `code` field.

    Runs and commits on its own, so a wrong guess counts."""
    email = check_email(email)
    code = (code or "").strip().replace(" ", "") if isinstance(code, str) else ""
    if not code.isdigit() or not 6 <= len(code) <= CODE_DIGITS:
        raise InvalidError("Enter the code from the mail", errors={"code": ["Enter the 8-digit code from the mail"]})
    with db.atomic():
        row = (SigninCode.select().where(SigninCode.email == email, SigninCode.used == False,  # noqa: E712
                                         SigninCode.code_hash.is_null(False))
               .order_by(SigninCode.created_at.desc()).first())
        if row is None or row.expires_at <= utcnow():
            raise InvalidError(CODE_EXPIRED, errors={"code": [CODE_EXPIRED]})
        if row.attempts >= CODE_MAX_ATTEMPTS:
            raise InvalidError("Too many wrong codes", errors={"code": ["Too many wrong codes: ask for a new one"]})
        ok = hmac.compare_digest(row.code_hash, _code_hash(email, code))
        consumed = SigninCode.update(attempts=SigninCode.attempts + 1, used=ok).where(
            SigninCode.id == row.id, SigninCode.used == False).execute()  # noqa: E712
        person = Person.get_or_none(Person.email == email) if ok and consumed == 1 else None
    if person is None:
        left = CODE_MAX_ATTEMPTS - row.attempts - 1
        hint = f"That code is not right; {left} tries left" if left > 0 else "Too many wrong codes: ask for a new one"
        raise InvalidError("Wrong code", errors={"code": [hint]})
    return person


def issue_link(actor, person, ttl=LINK_TTL):
    """Return a one-time sign-in link for `person` (the command line prints it for an operator without mail)."""
    with mutation(None, actor, "console.signin_link_issued"):
        raw = secrets.token_urlsafe(32)
        SigninCode.create(email=person.email, link_hash=hash_secret(raw), expires_at=utcnow() + ttl)
    return signin_url(raw)


def _usable_link(raw):
    if not isinstance(raw, str) or not 20 <= len(raw) <= 100:
        return None
    row = SigninCode.get_or_none(SigninCode.link_hash == hash_secret(raw))
    if row is None or row.used or row.expires_at <= utcnow():
        return None
    return row


def link_email(raw):
    """Return the email a sign-in link is for, or None when it is unknown, used or expired (reading only)."""
    row = _usable_link(raw)
    return row.email if row is not None else None


def consume_link(raw):
    """Use a sign-in link once; return its person, or raise InvalidError."""
    with db.atomic():
        row = _usable_link(raw)
        consumed = SigninCode.update(used=True).where(SigninCode.id == row.id, SigninCode.used == False  # noqa
                                                      ).execute() if row is not None else 0
        person = Person.get_or_none(Person.email == row.email) if consumed == 1 else None
    if person is None:
        raise InvalidError("This sign-in link has expired or was already used: ask for a new one")
    return person


# Sessions ---------------------------------------------------------------------------------------------------

def _idle():
    return datetime.timedelta(minutes=current_app.config.get("CONSOLE_IDLE_MINUTES", 60))


def open_session(person, ip=None, user_agent=None):
    """Start a session for `person`; return (session, raw secret for the cookie)."""
    now = utcnow()
    ConsoleSession.delete().where(ConsoleSession.person == person.id, ConsoleSession.expires_at < now).execute()
    raw = secrets.token_urlsafe(32)
    hours = current_app.config.get("CONSOLE_SESSION_HOURS", 12)
    session = ConsoleSession.create(person=person.id, token_hash=hash_secret(raw), created_at=now, last_seen_at=now,
                                    expires_at=now + datetime.timedelta(hours=hours), ip=ip,
                                    user_agent=(user_agent or "")[:400] or None)
    return session, raw


def session_for(raw):
    """Return (session, person) for a cookie's secret, or None when unknown, ended, idle too long or expired."""
    if not isinstance(raw, str) or not 20 <= len(raw) <= 100:
        return None
    row = (ConsoleSession.select(ConsoleSession, Person).join(Person)
           .where(ConsoleSession.token_hash == hash_secret(raw)).first())
    now = utcnow()
    if row is None or row.ended_at is not None or row.expires_at <= now or now - row.last_seen_at > _idle():
        return None
    if now - row.last_seen_at > SESSION_TOUCH:
        ConsoleSession.update(last_seen_at=now).where(ConsoleSession.id == row.id).execute()
    return row, row.person


def end_session(session):
    """Sign one browser out."""
    ConsoleSession.update(ended_at=utcnow()).where(ConsoleSession.id == session.id).execute()


def end_all_sessions(person):
    """Sign the person out everywhere; return how many sessions ended."""
    return ConsoleSession.update(ended_at=utcnow()).where(ConsoleSession.person == person.id,
                                                          ConsoleSession.ended_at.is_null()).execute()
