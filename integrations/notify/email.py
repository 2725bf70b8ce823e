"""Email through SMTP (STARTTLS, implicit TLS or plain on loopback), or to a log in a demo."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Literal, Protocol

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    cc: tuple[str, ...] = field(default=())


class Mailer(Protocol):
    def send(self, message: OutgoingEmail) -> str:
        """Deliver the message and return its Message-ID."""
        ...


def build_message(sender: str, message: OutgoingEmail) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(message.to)
    if message.cc:
        mail["Cc"] = ", ".join(message.cc)
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    mail["Subject"] = message.subject
    domain = sender.rsplit("@", 1)[-1].rstrip(">") or "invoice-lite.invalid"
    mail["Message-ID"] = make_msgid(domain=domain)
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
    return mail


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    host: str
    port: int
    sender: str
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    def send(self, message: OutgoingEmail) -> str:
        mail = build_message(self.sender, message)
        context = ssl.create_default_context() if self.security != "none" else None
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(mail)
        return str(mail["Message-ID"])


@dataclass(frozen=True, slots=True)
class LogMailer:
    """For the local demo: the message goes to the log, links included."""

    sender: str

    def send(self, message: OutgoingEmail) -> str:
        mail = build_message(self.sender, message)
        log.warning(
            "Email (no SMTP configured) to %s: %s\n%s", mail["To"], message.subject, message.text
        )
        return str(mail["Message-ID"])
