"""Our outgoing webhooks: Standard Webhooks signatures, and a POST that cannot be aimed inward.

A receiver checks ``webhook-signature`` with the ``standardwebhooks`` library (or by hand: an
HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}``). While a secret is being rotated
the header carries one signature per secret, space-separated, and either verifies.

The guard (``check_url``) refuses what would let a webhook reach the portal's own network: other
schemes than http(s), credentials in the URL, and any host that resolves to a private, loopback,
link-local, multicast, reserved or unspecified address (IPv4 and IPv6, IPv4 inside IPv6 too).
``post`` then connects to exactly the address that was checked, so a name cannot resolve to
something else between the check and the connection, and never follows a redirect.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's marker, not a secret
USER_AGENT = "InvoiceLite-Webhooks/1.0"
# How much of an answer we read; the rest is dropped unread.
MAX_ANSWER_BYTES = 64 * 1024

Resolver = Callable[..., Sequence[tuple[Any, ...]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class TargetRefused(ValueError):
    """The URL may not receive webhooks; ``str()`` says why, fit to show to the person."""


class DeliveryError(Exception):
    """No answer: the connection failed, timed out or broke. ``str()`` says which."""


@dataclass(frozen=True, slots=True)
class Target:
    """A URL that passed the guard, and the address it was checked at."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # with the query
    address: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    duration_ms: int


# ----------------------------------------------------------------------------- signing


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, msg_id: str, timestamp: datetime, body: str) -> str:
    """``v1,<base64>``: the library's own signature of one message."""
    return Webhook(secret).sign(msg_id, timestamp, body)


def signed_headers(
    msg_id: str, timestamp: datetime, body: str, secrets_: Sequence[str]
) -> dict[str, str]:
    """The headers of one delivery: one signature per secret, newest first."""
    if not secrets_:
        raise ValueError("at least one secret signs a webhook")
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.astimezone(UTC).timestamp())),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_),
    }


# ----------------------------------------------------------------------------- the guard


def refused_address(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not go to ``address``, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refused_address(embedded, allow_loopback=allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "an address that is not public"
    return None


def check_url(
    url: str, *, allow_loopback: bool = False, resolver: Resolver | None = None
) -> Target:
    """Resolve ``url``'s host and check every address it has; raise ``TargetRefused``."""
    resolver = resolver or socket.getaddrinfo
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"This is not a valid URL ({exc}).") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise TargetRefused("Use an http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("Leave the user name and password out of the URL.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused("The URL has no host.")
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = resolver(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise TargetRefused(f"The host {host} could not be found.") from exc
        addresses = []
        for info in found:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise TargetRefused(f"The host {host} has no address.")
    for address in addresses:
        # One bad address is enough: a name may not mix public and inner addresses.
        why = refused_address(address, allow_loopback=allow_loopback)
        if why is not None:
            raise TargetRefused(f"The host {host} points at {why} ({address}); use a public one.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        url=url.strip(),
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        address=str(addresses[0]),
    )


# ----------------------------------------------------------------------------- sending


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address, with the certificate checked against the host name."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.address, target.port, timeout=timeout, context=context)
        self._server_name = target.host
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self._server_name)


def post(
    target: Target,
    headers: Mapping[str, str],
    body: bytes,
    *,
    timeout: float,
    tls: ssl.SSLContext | None = None,
) -> Answer:
    """POST ``body`` to the checked address; a redirect is an answer like any other."""
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = _PinnedHTTPSConnection(target, timeout, tls or ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    sent = {**headers, "Host": target.host_header, "Content-Length": str(len(body))}
    started = time.perf_counter()
    try:
        conn.request("POST", target.path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read(MAX_ANSWER_BYTES)
        answer_headers = tuple((k.lower(), v) for k, v in response.getheaders())
        status = response.status
    except TimeoutError as exc:
        raise DeliveryError(f"No answer within {timeout:g} s.") from exc
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS failed: {exc}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"Connection failed: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    duration_ms = round((time.perf_counter() - started) * 1000)
    return Answer(status=status, body=data, headers=answer_headers, duration_ms=duration_ms)
