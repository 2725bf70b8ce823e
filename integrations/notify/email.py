"""Email through SMTP (STARTTLS, implicit TLS or plain on loopback), or to a log in a demo.

SMTP errors come back as two kinds: ``TemporarySendError`` (4xx, a refused or dropped
connection, a timeout: worth trying again) and ``PermanentSendError`` (5xx: the same message will
fail the same way). Both carry the server's own words.

A mailer keeps its SMTP session open for the next message (``SessionPool``): a worker sending
one email after another logs in once.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from typing_extensions import Buffer

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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


class ServerRefused(Exception):
    """The server's name leads to an address this installation does not send to."""


#: Why an address may not be connected to (e.g. "a private address"), or None when it may.
AddressCheck = Callable[[IPAddress], str | None]


class _Guarded(smtplib.SMTP):
    """An SMTP session that remembers whether a message's DATA has begun (until then a
    dropped connection has delivered nothing, and the message may go again at once), and
    that, given a ``guard``, connects only to addresses the guard accepts: the name is
    resolved and checked on every connection, since it may lead elsewhere than when it was
    saved. TLS still checks the certificate against the name."""

    data_begun = False
    guard: AddressCheck | None = None

    def __init__(self, *args: Any, guard: AddressCheck | None = None, **kwargs: Any) -> None:
        # Set before connecting (the constructor connects); SMTP_SSL's own constructor calls
        # this one again without a guard, which must not undo it.
        if guard is not None:
            self.guard = guard
        super().__init__(*args, **kwargs)

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        self.data_begun = True
        return super().data(msg)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        if self.guard is None:
            return super()._get_socket(host, port, timeout)  # type: ignore[misc,no-any-return]
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
        for address in addresses:
            why = self.guard(address)
            if why is not None:
                raise ServerRefused(
                    f"The server {host} is {why} ({address}); email goes only to servers on "
                    "the internet."
                )
        error: OSError | None = None
        for address in addresses:
            try:
                return socket.create_connection((str(address), port), timeout, self.source_address)
            except OSError as exc:
                error = exc
        raise error or OSError(f"{host} has no address")


class _Session(_Guarded):
    pass


class _TlsSession(smtplib.SMTP_SSL, _Guarded):
    def __init__(self, *args: Any, guard: AddressCheck | None = None, **kwargs: Any) -> None:
        if guard is not None:
            self.guard = guard
        super().__init__(*args, **kwargs)


Session = _Session | _TlsSession
_Key = tuple[str, int, str, str | None, str | None]


class SessionPool:
    """Open SMTP sessions kept between messages, per server and login, for this process.

    Logging in (TCP, greeting, EHLO, STARTTLS, AUTH) costs more than sending a message, so a
    worker sends one message after another on one session. A session idle longer than
    ``max_idle`` seconds is closed rather than trusted; after a fork the child closes its copies
    of the parent's sockets without a word, so two processes never talk on one session.
    """

    def __init__(self, keep: int = 4, max_idle: float = 15.0) -> None:
        self.keep = keep
        self.max_idle = max_idle
        self._idle: dict[_Key, list[tuple[float, Session]]] = {}
        self._lock = threading.Lock()

    def take(self, key: _Key) -> Session | None:
        """An idle session to this server, or None: the caller connects."""
        stale: list[Session] = []
        found: Session | None = None
        now = time.monotonic()
        with self._lock:
            sessions = self._idle.get(key, [])
            while sessions:
                since, session = sessions.pop()
                if now - since <= self.max_idle:
                    found = session
                    break
                stale.append(session)
        for session in stale:
            _quit(session)
        return found

    def give(self, key: _Key, session: Session) -> None:
        """Keep a session that has just sent a message, for the next one."""
        with self._lock:
            sessions = self._idle.setdefault(key, [])
            if len(sessions) < self.keep:
                sessions.append((time.monotonic(), session))
                return
        _quit(session)

    def idle(self) -> int:
        with self._lock:
            return sum(len(sessions) for sessions in self._idle.values())

    def close_all(self) -> None:
        """Say QUIT on every idle session (at exit)."""
        with self._lock:
            sessions = [s for kept in self._idle.values() for _, s in kept]
            self._idle.clear()
        for session in sessions:
            _quit(session)

    def forget_all(self) -> None:
        """Close this process's copies of the sockets, sending nothing: after a fork, the
        sessions belong to the parent."""
        with self._lock:
            sessions = [s for kept in self._idle.values() for _, s in kept]
            self._idle.clear()
        for session in sessions:
            session.close()


def _quit(session: smtplib.SMTP) -> None:
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        session.close()


SESSIONS = SessionPool()
atexit.register(SESSIONS.close_all)
os.register_at_fork(after_in_child=SESSIONS.forget_all)


def _stale(exc: Exception) -> bool:
    """The server had closed a kept session (idle timeout, restart): nothing was delivered."""
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError)


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    host: str
    port: int
    sender: str
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    # A PEM file of the certificates to trust instead of the system's (a private CA, a test).
    ca_file: str | None = None
    # Where kept sessions live; None opens and closes a session per message.
    sessions: SessionPool | None = field(default=SESSIONS, compare=False, repr=False)
    # Checks each address the server's name leads to before connecting; None trusts any.
    guard: AddressCheck | None = field(default=None, compare=False, repr=False)

    def send(self, message: OutgoingEmail) -> str:
        mail = build_message(self.sender, message)
        try:
            refused = self._deliver(mail, message.return_path)
        except ServerRefused as exc:
            raise PermanentSendError(str(exc)) from exc
        except smtplib.SMTPAuthenticationError as exc:
            answer = _answer(exc.smtp_code, exc.smtp_error)
            raise _classify(exc.smtp_code, f"The server refused the login: {answer}") from exc
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

    def _key(self) -> _Key:
        return (self.host, self.port, self.security, self.username, self.password)

    def _connect(self) -> Session:
        context = None
        if self.security != "none":
            context = ssl.create_default_context(cafile=self.ca_file)
        smtp: Session
        if self.security == "tls":
            smtp = _TlsSession(
                self.host, self.port, timeout=self.timeout, context=context, guard=self.guard
            )
        else:
            smtp = _Session(self.host, self.port, timeout=self.timeout, guard=self.guard)
        try:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _deliver(self, mail: EmailMessage, return_path: str | None) -> dict[str, tuple[int, bytes]]:
        if self.sessions is None:
            with self._connect() as smtp:
                return smtp.send_message(mail, from_addr=return_path)
        kept = self.sessions.take(self._key())
        smtp = kept or self._connect()
        try:
            try:
                refused = smtp.send_message(mail, from_addr=return_path)
            except (smtplib.SMTPException, OSError) as exc:
                if kept is None or smtp.data_begun or not _stale(exc):
                    raise
                log.info("SMTP session to %s:%s was closed; opening a new one", *self._key()[:2])
                smtp.close()
                smtp = self._connect()
                refused = smtp.send_message(mail, from_addr=return_path)
        except BaseException:
            smtp.close()
            raise
        smtp.data_begun = False
        self.sessions.give(self._key(), smtp)
        return refused


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
