"""The SSRF guard and the signing of ``integrations.webhooks``, without the app."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook

from integrations import webhooks
from integrations.webhooks import TargetRefused, check_url, new_secret, post, signed_headers
from tests.webhooks.receiver import Receiver


def _resolving(table: dict[str, list[str]]) -> Any:
    """A stand-in for ``socket.getaddrinfo``; address literals stay themselves, as in libc."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        literal = host.replace(".", "").isdigit() or ":" in host
        found = [host] if literal else table.get(host)
        if found is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in found
        ]

    return resolve


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://10.0.0.1/hooks", "a private address"),
        ("https://172.16.0.1/hooks", "a private address"),
        ("https://192.168.1.1/hooks", "a private address"),
        ("http://169.254.169.254/latest/meta-data", "a link-local address"),
        ("http://127.0.0.1:8080/hooks", "a loopback address"),
        ("http://[::1]/hooks", "a loopback address"),
        ("https://[fc00::1]/hooks", "a private address"),
        ("https://[fe80::1]/hooks", "a link-local address"),
        ("https://[::ffff:127.0.0.1]/hooks", "a loopback address"),
        ("https://[::ffff:10.1.2.3]/hooks", "a private address"),
        ("https://0.0.0.0/hooks", "an unspecified address"),
        ("https://[::]/hooks", "an unspecified address"),
        ("https://224.0.0.1/hooks", "a multicast address"),
        ("https://[ff02::1]/hooks", "a multicast address"),
        ("https://240.0.0.1/hooks", "a private address"),
        ("https://100.64.0.1/hooks", "an address that is not public"),
        ("https://[64:ff9b::a00:1]/hooks", "a private address"),
        ("https://[2002:a00:1::]/hooks", "a private address"),
    ],
)
def test_inner_addresses_are_refused(url: str, why: str) -> None:
    with pytest.raises(TargetRefused, match=re.escape(why)):
        check_url(url)


def test_loopback_passes_only_when_allowed() -> None:
    target = check_url("http://127.0.0.1:8080/in?x=1", allow_loopback=True)
    assert (target.address, target.port, target.path) == ("127.0.0.1", 8080, "/in?x=1")
    assert check_url("http://[::1]:9/", allow_loopback=True).address == "::1"
    # Allowing loopback allows nothing else.
    with pytest.raises(TargetRefused, match="a private address"):
        check_url("http://10.0.0.1/", allow_loopback=True)
    with pytest.raises(TargetRefused, match="a link-local address"):
        check_url("http://169.254.169.254/", allow_loopback=True)


def test_a_name_that_resolves_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        webhooks.socket,
        "getaddrinfo",
        _resolving(
            {
                "inside.example.com": ["10.20.30.40"],
                "mixed.example.com": ["93.184.215.14", "192.168.0.7"],
                "v6.example.com": ["fd12:3456::1"],
                "public.example.com": ["93.184.215.14"],
            }
        ),
    )
    with pytest.raises(TargetRefused, match=re.escape("points at a private address (10.20.30.40)")):
        check_url("https://inside.example.com/hooks")
    # One inner address among public ones is enough to refuse.
    with pytest.raises(TargetRefused, match=re.escape("(192.168.0.7)")):
        check_url("https://mixed.example.com/hooks")
    with pytest.raises(TargetRefused, match="a private address"):
        check_url("https://v6.example.com/hooks")
    with pytest.raises(TargetRefused, match="could not be found"):
        check_url("https://nowhere.example.com/hooks")
    target = check_url("https://public.example.com/hooks")
    assert (target.host, target.address, target.port) == (
        "public.example.com",
        "93.184.215.14",
        443,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.com/hooks", "Use an http:// or https:// URL."),
        ("file:///etc/passwd", "Use an http:// or https:// URL."),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "Use an http:// or https:// URL."),
        ("http://user:pass@127.0.0.1/hooks", "Leave the user name and password out of the URL."),
        ("https://token@hooks.example.com/", "Leave the user name and password out of the URL."),
        ("https:///nohost", "The URL has no host."),
        ("https://hooks.example.com:99999/", "This is not a valid URL"),
    ],
)
def test_other_schemes_credentials_and_broken_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(TargetRefused, match=re.escape(message)):
        check_url(url, allow_loopback=True)


def test_post_connects_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch, receiver_only: Receiver
) -> None:
    """The name is resolved once, by the guard: a second lookup (DNS rebinding) never happens."""
    calls: list[str] = []
    resolve = _resolving({"hooks.example.com": ["127.0.0.1"]})

    def counting(host: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", counting)
    url = f"http://hooks.example.com:{receiver_only.port}/hooks"
    target = check_url(url, allow_loopback=True)
    # From here on the name would resolve to an inner address.
    rebound = _resolving({"hooks.example.com": ["10.9.9.9"]})

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)
        return rebound(host, *args, **kwargs)

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", rebinding)
    secret = new_secret()
    receiver_only.secrets.append(secret)
    body = '{"type":"webhook.test"}'
    headers = signed_headers("msg_1", datetime.now(UTC), body, [secret])
    answer = post(target, headers, body.encode(), timeout=2)
    assert answer.status == 200
    # The connection asked for the checked address, never the name again.
    assert calls == ["hooks.example.com", "127.0.0.1"]
    (got,) = receiver_only.wait_for(1)
    assert got.headers["host"] == f"hooks.example.com:{receiver_only.port}"
    assert got.verified_by == (secret,)


def test_a_redirect_is_not_followed(receiver_only: Receiver) -> None:
    receiver_only.secrets.append(secret := new_secret())
    receiver_only.answers.append("redirect:http://10.0.0.1/internal")
    body = "{}"
    answer = post(
        check_url(receiver_only.url, allow_loopback=True),
        signed_headers("msg_2", datetime.now(UTC), body, [secret]),
        body.encode(),
        timeout=2,
    )
    assert answer.status == 302
    assert dict(answer.headers)["location"] == "http://10.0.0.1/internal"
    assert len(receiver_only.wait_for(1)) == 1


def test_no_answer_within_the_timeout_is_a_delivery_error(receiver_only: Receiver) -> None:
    receiver_only.secrets.append(secret := new_secret())
    receiver_only.answers.append("hang")
    with pytest.raises(webhooks.DeliveryError, match=re.escape("No answer within 0.3 s.")):
        post(
            check_url(receiver_only.url, allow_loopback=True),
            signed_headers("msg_3", datetime.now(UTC), "{}", [secret]),
            b"{}",
            timeout=0.3,
        )


def test_every_secret_signs_and_each_signature_verifies_alone() -> None:
    new, old = new_secret(), new_secret()
    now = datetime.now(UTC)
    body = '{"id":"evt","type":"invoice.issued"}'
    headers = signed_headers("evt_01", now, body, [new, old])
    assert headers["webhook-id"] == "evt_01"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    first, second = headers["webhook-signature"].split(" ")
    for secret, signature in ((new, first), (old, second)):
        alone = {**headers, "webhook-signature": signature}
        assert Webhook(secret).verify(body, alone) == {"id": "evt", "type": "invoice.issued"}
    stranger = Webhook(new_secret())
    with pytest.raises(Exception, match="No matching signature found"):
        stranger.verify(body, headers)
    with pytest.raises(ValueError, match="at least one secret"):
        signed_headers("evt_01", now, body, [])
