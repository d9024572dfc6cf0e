"""Outgoing mail over SMTP; with no SMTP server configured, messages go to the log."""

import logging
import smtplib
import ssl
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger("roster.mail")


class MailError(Exception):
    """The message could not be handed to the SMTP server."""


class Mailer:
    def __init__(self, host="", port=25, username="", password="", starttls=False, use_ssl=False,
                 sender="Roster <no-reply@roster.local>", timeout=10):
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls, self.use_ssl = starttls, use_ssl
        self.sender, self.timeout = sender, timeout

    @classmethod
    def from_config(cls, config):
        """Build a mailer from the app configuration."""
        return cls(config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_USERNAME"], config["SMTP_PASSWORD"],
                   config["SMTP_STARTTLS"], config["SMTP_SSL"], config["MAIL_FROM"])

    def send(self, to, subject, body):
        """Send a plain-text message, or log it when no SMTP host is configured."""
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, to, subject
        msg.set_content(body)
        if not self.host:
            log.info("SMTP not configured; mail to %s\nSubject: %s\n\n%s", to, subject, body)
            return
        try:
            if self.use_ssl:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password)
                client.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail to %s failed: %s", to, exc.__class__.__name__)
            raise MailError(f"The mail server did not accept the message ({exc.__class__.__name__})") from exc


def send_mail(to, subject, body):
    """Send a message with the current app's mailer."""
    current_app.extensions["roster.mailer"].send(to, subject, body)
