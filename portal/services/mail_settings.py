"""The business's outgoing email: its own SMTP server, From and bounce addresses, open tracking.

A business with no SMTP server of its own sends through the platform's (``SMTP_HOST``). Its
server must be reachable on the public internet: a name that resolves to a loopback, private or
link-local address is refused, so an admin cannot aim the portal at the platform's own network
(and read the answers through "Send a test email"). ``SMTP_ALLOW_PRIVATE_HOSTS`` lifts that for
installations on a trusted network, and for tests.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, replace
from email.errors import InvalidHeaderDefect, NonPrintableDefect
from email.headerregistry import HeaderRegistry
from email.utils import formataddr
from typing import Any, Final

from email_validator import EmailNotValidError, validate_email
from flask import current_app

from integrations.notify.email import (
    AddressCheck,
    LogMailer,
    OutgoingEmail,
    SendError,
    SmtpMailer,
)
from integrations.webhooks import IPAddress, refused_address
from portal.extensions import db
from portal.models import Business, Role
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput

SECURITY: Final = {
    "starttls": "STARTTLS",
    "tls": "TLS from the start",
    "none": "None",
}
#: The port a blank Port field stands for, by security.
DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
TEST_TIMEOUT: Final = 15.0
_LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_HEADERS = HeaderRegistry()

# Looked up through the module, so tests can answer for names without DNS.
resolve = socket.getaddrinfo


@dataclass(frozen=True, slots=True)
class MailSettings:
    smtp_host: str = ""
    smtp_port: int | None = None  # None: the usual port for the security chosen
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""  # empty: keep the stored one
    clear_password: bool = False
    mail_from: str = ""
    bounce_address: str = ""
    track_opens: bool = True


@dataclass(frozen=True, slots=True)
class TestOutcome:
    ok: bool
    message: str


def settings_of(business: Business) -> MailSettings:
    """What the form shows: everything but the password."""
    return MailSettings(
        smtp_host=business.smtp_host,
        smtp_port=business.smtp_port,
        smtp_security=business.smtp_security,
        smtp_username=business.smtp_username,
        mail_from=business.mail_from,
        bounce_address=business.bounce_address,
        track_opens=business.track_opens,
    )


def has_password(business: Business) -> bool:
    return bool(business.smtp_password)


def save_mail_settings(actor: Actor, data: MailSettings) -> Business:
    """Check every field, then store them all in one transaction with an audit event."""
    actor.require(Role.ADMIN)
    business = actor.business
    clean = _checked(data, stored_password=has_password(business))
    before = _describe(business)
    business.smtp_host = clean.smtp_host
    business.smtp_port = clean.smtp_port or DEFAULT_PORTS[clean.smtp_security]
    business.smtp_security = clean.smtp_security
    business.smtp_username = clean.smtp_username
    if clean.clear_password:
        business.smtp_password = ""
    elif clean.smtp_password:
        business.smtp_password = clean.smtp_password
    business.mail_from = clean.mail_from
    business.bounce_address = clean.bounce_address
    business.track_opens = clean.track_opens
    after = _describe(business)
    after["password_changed"] = bool(clean.smtp_password) or (
        clean.clear_password and before["password_set"]
    )
    audit.record(
        business=business,
        actor=actor.user,
        action="business.mail_settings_changed",
        entity_type="business",
        entity_id=business.public_id,
        before=before,
        after=after,
    )
    db.session.commit()
    return business


def send_test_email(actor: Actor) -> TestOutcome:
    """Send a short message to the acting user through the saved settings, while they wait.

    A fresh session, not one kept from earlier sends, so the login is tried again."""
    from portal.jobs.delivery import mailer_for  # the job module imports the services

    actor.require(Role.ADMIN)
    business = actor.business
    mailer = mailer_for(business)
    to = actor.user.email
    message = OutgoingEmail(
        to=(to,),
        subject=f"Test email from {business.legal_name}",
        text=(
            f"This is a test sent from Invoice Lite by {to}.\n\n"
            "If it arrived, invoices, quotes and reminders will reach your clients the same way."
        ),
        headers=(("Auto-Submitted", "auto-generated"),),
        return_path=business.bounce_address or None,
    )
    if isinstance(mailer, LogMailer):
        mailer.send(message)
        return TestOutcome(
            False,
            "No SMTP server is set up, neither here nor for the platform: the message went to "
            "the server's log instead of to you.",
        )
    if isinstance(mailer, SmtpMailer):
        mailer = replace(mailer, sessions=None, timeout=TEST_TIMEOUT)
    try:
        mailer.send(message)
    except SendError as error:
        return TestOutcome(False, str(error) or type(error).__name__)
    server = business.smtp_host or "the platform's server"
    return TestOutcome(True, f"Sent to {to} through {server}. Check that it arrived.")


# ----------------------------------------------------------------------------- checking


def _checked(data: MailSettings, *, stored_password: bool) -> MailSettings:
    errors: dict[str, str] = {}
    security = data.smtp_security
    if security not in SECURITY:
        errors["smtp_security"] = "Choose STARTTLS, TLS from the start, or none."
    host = data.smtp_host.strip().lower()
    if host:
        problem, host = _host_problem(host)
        if problem:
            errors["smtp_host"] = problem
    port = data.smtp_port
    if port is not None and not 1 <= port <= 65535:
        errors["smtp_port"] = "Choose a port between 1 and 65535."
    username = data.smtp_username.strip()
    password = "" if not data.smtp_password.strip() else data.smtp_password
    if len(username) > 200:
        errors["smtp_username"] = "Keep the username under 200 characters."
    # (S105: these are messages about password fields, not passwords.)
    if len(password) > 1000:
        errors["smtp_password"] = "Keep the password under 1000 characters."  # noqa: S105
    if password and data.clear_password:
        errors["clear_password"] = "Type a new password or remove the saved one, not both."  # noqa: S105
    elif password and not username:
        errors["smtp_username"] = "Give the username that goes with the password."
    will_have_password = bool(password) or (stored_password and not data.clear_password)
    if username and not will_have_password and "smtp_username" not in errors:
        errors["smtp_password"] = "Give the password for this username."  # noqa: S105
    if (
        host
        and security == "none"
        and (username or password)
        and host not in _LOOPBACK_NAMES
        and "smtp_security" not in errors
    ):
        errors["smtp_security"] = (
            "Without encryption the password would cross the network readable: "
            "choose STARTTLS or TLS."
        )
    mail_from, problem = _from_address(data.mail_from)
    if problem:
        errors["mail_from"] = problem
    bounce, problem = _plain_address(data.bounce_address)
    if problem:
        errors["bounce_address"] = problem
    if errors:
        raise InvalidInput(errors)
    return replace(
        data,
        smtp_host=host,
        smtp_security=security,
        smtp_username=username,
        smtp_password=password,
        mail_from=mail_from,
        bounce_address=bounce,
    )


def _host_problem(host: str) -> tuple[str | None, str]:
    """Why ``host`` cannot be an SMTP server's name, or None; and the name as stored."""
    if "://" in host or host.startswith(("smtp:", "smtps:", "mailto:")):
        return "Give the server's name only, without smtp:// or any other prefix.", host
    if any(c.isspace() for c in host):
        return "A server name has no spaces.", host
    if len(host) > 200:
        return "Keep the server name under 200 characters.", host
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        literal = ipaddress.ip_address(bare)
    except ValueError:
        literal = None
    if literal is None:
        if re.fullmatch(r"[^:]+:\d*", host):
            return "Put the port in the Port field, not after the server name.", host
        if "/" in host or "@" in host:
            return "Give the server's name only, like smtp.example.com.", host
        try:
            bare = bare.rstrip(".").encode("idna").decode("ascii")
        except UnicodeError:
            return "Give a server name like smtp.example.com, or an IP address.", host
        if not all(_LABEL.fullmatch(label) for label in bare.split(".")):
            return "Give a server name like smtp.example.com, or an IP address.", host
    else:
        bare = str(literal)
    return _reachability_problem(bare, literal), bare


def address_guard() -> AddressCheck | None:
    """What a business's own SMTP server may be, checked again on every connection (its name
    may lead elsewhere by then): None when ``SMTP_ALLOW_PRIVATE_HOSTS`` lets it be anything."""
    if current_app.config.get("SMTP_ALLOW_PRIVATE_HOSTS"):
        return None
    return refused_address


def _reachability_problem(host: str, literal: IPAddress | None) -> str | None:
    guard = address_guard()
    if guard is None:
        return None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = resolve(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return f"The server {host} could not be found."
        addresses = [ipaddress.ip_address(str(i[4][0]).split("%", 1)[0]) for i in found]
    if not addresses:
        return f"The server {host} could not be found."
    for address in addresses:
        # One inner address is enough: a name may not mix public and inner addresses.
        why = guard(address)
        if why is not None:
            return f"{host} is {why}: give a server on the internet."
    return None


def _from_address(value: str) -> tuple[str, str | None]:
    """``billing@example.com`` or ``Acme Billing <billing@example.com>``, normalised."""
    value = value.strip()
    if not value:
        return "", None
    bad = "Give an address like billing@example.com, or Acme Billing <billing@example.com>."
    if "\r" in value or "\n" in value or len(value) > 254:
        return value, bad
    try:
        header: Any = _HEADERS("From", value)
    except (ValueError, IndexError, AttributeError, TypeError):
        return value, bad
    addresses = header.addresses
    # An obsolete form (a dot in the name: "Acme Inc. Billing") is fine; a broken one is not.
    defects = [d for d in header.defects if isinstance(d, InvalidHeaderDefect | NonPrintableDefect)]
    if len(addresses) != 1 or defects:
        return value, bad if len(addresses) <= 1 else "Give one address, not several."
    (address,) = addresses
    try:
        normal = validate_email(address.addr_spec, check_deliverability=False).normalized
    except EmailNotValidError as error:
        return value, str(error)
    name = address.display_name.strip()
    formatted = formataddr((name, normal)) if name else normal
    if len(formatted) > 254:
        return value, "Keep the address under 254 characters."
    return formatted, None


def _plain_address(value: str) -> tuple[str, str | None]:
    value = value.strip()
    if not value:
        return "", None
    if len(value) > 254:
        return value, "Keep the address under 254 characters."
    try:
        return validate_email(value, check_deliverability=False).normalized, None
    except EmailNotValidError as error:
        return value, str(error)


def _describe(business: Business) -> dict[str, Any]:
    # Never the password: only whether there is one.
    return {
        "smtp_host": business.smtp_host,
        "smtp_port": business.smtp_port,
        "smtp_security": business.smtp_security,
        "smtp_username": business.smtp_username,
        "password_set": bool(business.smtp_password),
        "mail_from": business.mail_from,
        "bounce_address": business.bounce_address,
        "track_opens": business.track_opens,
    }
