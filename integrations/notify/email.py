"""Email through SMTP (STARTTLS, implicit TLS or plain on loopback), or to a log in a demo.

SMTP errors come back as two kinds: ``TemporarySendError`` (4xx, a refused or dropped
connection, a timeout: worth trying again) and ``PermanentSendError`` (5xx: the same message will
fail the same way). Both carry the server's own words.
"""

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
class Attachment:
    filename: str
    data: bytes
    media_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    cc: tuple[str, ...] = field(default=())
    attachments: tuple[Attachment, ...] = field(default=())
    # Extra headers, e.g. ("Auto-Submitted", "auto-generated"); never From/To/Subject.
    headers: tuple[tuple[str, str], ...] = field(default=())
    # Chosen by the caller so a retry carries the same Message-ID; generated when None.
    message_id: str | None = None
    # The envelope sender (Return-Path), where bounces go; the From address when None.
    return_path: str | None = None


class SendError(Exception):
    """The server refused the message; ``str()`` is its answer, e.g. ``550 5.1.1 no such user``."""


class TemporarySendError(SendError):
    """Worth trying again later."""


class PermanentSendError(SendError):
    """Will fail the same way every time."""


class Mailer(Protocol):
    def send(self, message: OutgoingEmail) -> str:
        """Deliver the message and return its Message-ID."""
        ...


def message_id_for(sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].rstrip(">").strip() or "invoice-lite.invalid"
    return make_msgid(domain=domain)


def build_message(sender: str, message: OutgoingEmail) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(message.to)
    if message.cc:
        mail["Cc"] = ", ".join(message.cc)
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    mail["Subject"] = message.subject
    mail["Message-ID"] = message.message_id or message_id_for(sender)
    for name, value in message.headers:
        mail[name] = value
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.media_type.partition("/")
        mail.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return mail


def _answer(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {words}".strip()


def _classify(code: int, answer: str) -> SendError:
    return TemporarySendError(answer) if 400 <= code < 500 else PermanentSendError(answer)


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
        try:
            refused = self._deliver(mail, message.return_path)
        except smtplib.SMTPRecipientsRefused as exc:
            answers = [(code, _answer(code, text)) for code, text in exc.recipients.values()]
            # Every recipient refused: temporary only if every refusal was.
            code = min(c for c, _ in answers) if answers else 550
            raise _classify(code, "; ".join(a for _, a in answers)) from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, _answer(exc.smtp_code, exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnected, refused connection, timeout, TLS trouble: the server may be back.
            raise TemporarySendError(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            log.warning("some recipients of %s were refused: %s", mail["Message-ID"], refused)
        return str(mail["Message-ID"])

    def _deliver(self, mail: EmailMessage, return_path: str | None) -> dict[str, tuple[int, bytes]]:
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
            return smtp.send_message(mail, from_addr=return_path)


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
