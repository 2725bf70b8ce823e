"""SMTP with encryption and a login, as real servers ask for it: STARTTLS on the submission
port, TLS from the first byte (SMTPS), AUTH PLAIN and AUTH LOGIN, a wrong password.

The servers are aiosmtpd on 127.0.0.1 with a certificate made here; the client trusts it
through ``SmtpMailer.ca_file``, or, on the product's own path (the business's settings, the
delivery job), through ``SSL_CERT_FILE`` as an operator with a private CA would.
"""

from __future__ import annotations

import io
import ipaddress
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import Flask
from pypdf import PdfReader

from integrations.notify.email import (
    SESSIONS,
    Attachment,
    OutgoingEmail,
    PermanentSendError,
    SmtpMailer,
    TemporarySendError,
)
from portal.models import Document, Role
from portal.services import delivery, mail_settings
from tests.conftest import Inbox, Team, _free_port
from tests.web.helpers import text_of

# aiosmtpd warns about AUTH without STARTTLS even on SMTPS, where the socket is TLS already.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

USER = "billing@acme.example"
SECRET = "smtp secret 42"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Invoice Lite test SMTP")])
    now = datetime.now(UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class Logins:
    """The authenticator: one username and password; records each attempt's mechanism."""

    attempts: list[tuple[str, str, bool]] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode()
        ok = login == USER and auth_data.password.decode() == SECRET
        self.attempts.append((mechanism, login, ok))
        # handled=False: aiosmtpd answers a failure with its own 535.
        return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    port: int
    inbox: Inbox
    logins: Logins


Start = Callable[..., Server]


@pytest.fixture
def start(certificate: Certificate) -> Iterator[Start]:
    """``start("starttls")`` or ``start("tls")``: a server that wants encryption and a login."""
    controllers: list[Controller] = []

    def run(kind: str, exclude: tuple[str, ...] = ()) -> Server:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate.cert, certificate.key)
        inbox, logins, port = Inbox(), Logins(), _free_port()
        common: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": port,
            "auth_required": True,
            "authenticator": logins,
            "auth_exclude_mechanism": exclude,
        }
        if kind == "starttls":
            controller = Controller(
                inbox,
                tls_context=context,
                require_starttls=True,
                auth_require_tls=True,
                **common,
            )
        else:
            # aiosmtpd cannot tell that an SMTPS connection is encrypted, so it must be told
            # not to wait for STARTTLS before offering AUTH: the socket is TLS from the start.
            controller = Controller(inbox, ssl_context=context, auth_require_tls=False, **common)
        controller.start()
        controllers.append(controller)
        return Server(port, inbox, logins)

    yield run
    SESSIONS.close_all()  # kept sessions to servers about to go
    for controller in controllers:
        controller.stop()


def _invoice_email(number: str = "INV-TEST-1") -> OutgoingEmail:
    return OutgoingEmail(
        to=("ap@client.example",),
        subject=f"Invoice {number} from Acme Ltd",
        text=f"Please find attached invoice {number}.",
        html=f"<p>Please find attached invoice <strong>{number}</strong>.</p>",
        attachments=(Attachment(f"{number}.pdf", b"%PDF-1.7 not really", "application/pdf"),),
        return_path="bounces@acme.example",
    )


def _mailer(server: Server, security: str, certificate: Certificate, **changes: Any) -> SmtpMailer:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "sender": f"Acme Billing <{USER}>",
        "security": security,
        "username": USER,
        "password": SECRET,
        "ca_file": str(certificate.cert),
        "sessions": None,
        "timeout": 10.0,
        **changes,
    }
    return SmtpMailer(**settings)


# ----------------------------------------------------------------------------- SmtpMailer


@pytest.mark.parametrize(
    ("kind", "exclude", "mechanism"),
    [
        pytest.param("starttls", ("LOGIN",), "PLAIN", id="STARTTLS, AUTH PLAIN"),
        pytest.param("starttls", ("PLAIN",), "LOGIN", id="STARTTLS, AUTH LOGIN"),
        pytest.param("tls", ("LOGIN",), "PLAIN", id="SMTPS, AUTH PLAIN"),
        pytest.param("tls", ("PLAIN",), "LOGIN", id="SMTPS, AUTH LOGIN"),
    ],
)
def test_an_invoice_email_arrives_over_tls_after_logging_in(
    kind: str, exclude: tuple[str, ...], mechanism: str, start: Start, certificate: Certificate
) -> None:
    server = start(kind, exclude)
    message_id = _mailer(server, kind, certificate).send(_invoice_email())

    [received] = server.inbox.deliveries
    assert server.logins.attempts == [(mechanism, USER, True)]
    assert received.mail_from == "bounces@acme.example"
    assert received.rcpt_tos == ["ap@client.example"]
    assert received.message["Message-ID"] == message_id
    assert received.message["Subject"] == "Invoice INV-TEST-1 from Acme Ltd"
    [pdf] = received.message.iter_attachments()
    assert pdf.get_filename() == "INV-TEST-1.pdf"


@pytest.mark.parametrize("kind", ["starttls", "tls"])
def test_a_wrong_password_is_a_clear_permanent_failure(
    kind: str, start: Start, certificate: Certificate
) -> None:
    server = start(kind)
    with pytest.raises(PermanentSendError) as refused:
        _mailer(server, kind, certificate, password="not the password").send(_invoice_email())
    assert str(refused.value) == (
        "The server refused the login: 535 5.7.8 Authentication credentials invalid"
    )
    # smtplib tries each mechanism the server offers before it gives up.
    assert server.logins.attempts == [("PLAIN", USER, False), ("LOGIN", USER, False)]
    assert server.inbox.deliveries == []


def test_a_server_that_requires_starttls_refuses_plain_text(
    start: Start, certificate: Certificate
) -> None:
    server = start("starttls")
    with pytest.raises(PermanentSendError, match=r"^530 Must issue a STARTTLS command first"):
        _mailer(server, "none", certificate, username=None, password=None).send(_invoice_email())
    assert server.inbox.deliveries == []


def test_a_login_without_tls_is_refused_before_the_password_is_sent(
    start: Start, certificate: Certificate
) -> None:
    server = start("starttls")
    with pytest.raises(TemporarySendError, match="SMTP AUTH extension not supported"):
        _mailer(server, "none", certificate).send(_invoice_email())
    assert server.logins.attempts == []


@pytest.mark.parametrize("kind", ["starttls", "tls"])
def test_a_certificate_nobody_vouches_for_is_refused(kind: str, start: Start) -> None:
    server = start(kind)
    mailer = SmtpMailer(
        host="127.0.0.1",
        port=server.port,
        sender=USER,
        security=kind,  # type: ignore[arg-type]
        username=USER,
        password=SECRET,
        sessions=None,
        timeout=10.0,
    )
    with pytest.raises(TemporarySendError, match="CERTIFICATE_VERIFY_FAILED"):
        mailer.send(_invoice_email())
    assert server.logins.attempts == []  # the password never left


# ----------------------------------------------------------------------------- the product's path


@pytest.fixture
def trusted(
    app: Flask, certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Trust the test certificate process-wide, and allow a server on 127.0.0.1."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    monkeypatch.setitem(app.config, "SMTP_ALLOW_PRIVATE_HOSTS", True)
    yield


def _save(team: Team, server: Server, security: str, password: str = SECRET) -> None:
    mail_settings.save_mail_settings(
        team.actor(Role.ADMIN),
        mail_settings.MailSettings(
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            smtp_security=security,
            smtp_username=USER,
            smtp_password=password,
            mail_from=f"Acme Billing <{USER}>",
            bounce_address="bounces@acme.example",
        ),
    )


@pytest.mark.parametrize("kind", ["starttls", "tls"])
def test_an_invoice_goes_out_through_the_business_s_own_server(
    kind: str, start: Start, team: Team, invoice: Document, trusted: None
) -> None:
    server = start(kind)
    _save(team, server, kind)

    sent = delivery.send_invoice(team.actor(Role.STAFF), invoice.public_id)

    assert sent.status == "sent", sent.error
    assert server.logins.attempts == [("PLAIN", USER, True)]
    [received] = server.inbox.deliveries
    assert received.mail_from == "bounces@acme.example"
    assert sorted(received.rcpt_tos) == ["ada@blueharbor.example", "ben@blueharbor.example"]
    mail = received.message
    assert mail["From"] == f"Acme Billing <{USER}>"
    assert mail["Subject"] == f"Invoice {invoice.number} from Acme Ltd"
    [pdf] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    pages = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert str(invoice.number) in pages
    assert "1,231.56" in pages


def test_a_wrong_saved_password_fails_the_delivery_with_the_server_s_words(
    start: Start, team: Team, invoice: Document, trusted: None
) -> None:
    server = start("starttls")
    _save(team, server, "starttls", password="an old password")

    sent = delivery.send_invoice(team.actor(Role.STAFF), invoice.public_id)

    assert sent.status == "failed"
    assert sent.error == (
        "The server refused the login: 535 5.7.8 Authentication credentials invalid"
    )
    assert server.inbox.deliveries == []


def test_the_test_button_logs_in_over_starttls(
    start: Start, team: Team, login: Any, trusted: None
) -> None:
    server = start("starttls")
    _save(team, server, "starttls")
    client = login(Role.ADMIN)
    me = team.users[Role.ADMIN].email

    html = text_of(client.post("/app/settings/delivery/email/test"))
    assert f"Sent to {me} through 127.0.0.1." in html
    [received] = server.inbox.deliveries
    assert received.rcpt_tos == [me]

    _save(team, server, "starttls", password="typed wrong")
    html = text_of(client.post("/app/settings/delivery/email/test"))
    assert (
        "Not sent: The server refused the login: 535 5.7.8 Authentication credentials invalid"
    ) in html
    assert len(server.inbox.deliveries) == 1
