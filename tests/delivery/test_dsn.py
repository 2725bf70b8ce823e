"""Delivery status notifications: parsing (pure) and importing bounces from files."""

from __future__ import annotations

import mailbox

from integrations.notify.dsn import Bounce, is_dsn, parse_dsn
from portal.extensions import db as _db
from portal.models import Delivery, Role
from portal.services import delivery as service


def dsn(
    message_id: str,
    recipient: str = "ada@blueharbor.example",
    *,
    status: str = "5.1.1",
    action: str = "failed",
    headers_only: bool = False,
) -> bytes:
    original = (
        f"From: billing@acme.example\r\nTo: {recipient}\r\nSubject: Invoice\r\n"
        f"Message-ID: {message_id}\r\n"
    )
    original_part = (
        "Content-Type: text/rfc822-headers\r\n\r\n" + original
        if headers_only
        else "Content-Type: message/rfc822\r\n\r\n" + original + "\r\nHello\r\n"
    )
    return (
        "From: MAILER-DAEMON@mx.example\r\n"
        "To: bounces@acme.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\n"
        "Content-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "\r\n--B\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n"
        "Arrival-Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mx.blueharbor.example\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <ada@blueharbor.example>: Recipient address rejected\r\n"
        "\r\n--B\r\n" + original_part + "\r\n--B--\r\n"
    ).encode()


def test_a_dsn_names_the_failed_recipient_and_the_original_message():
    [bounce] = parse_dsn(dsn("<abc@acme.example>"))
    assert bounce == Bounce(
        recipient="ada@blueharbor.example",
        action="failed",
        status="5.1.1",
        diagnostic="550 5.1.1 <ada@blueharbor.example>: Recipient address rejected",
        original_message_id="<abc@acme.example>",
    )
    assert bounce.permanent
    [from_headers] = parse_dsn(dsn("<xyz@acme.example>", headers_only=True))
    assert from_headers.original_message_id == "<xyz@acme.example>"


def test_a_delay_is_not_a_bounce_and_other_mail_is_not_a_dsn():
    [delayed] = parse_dsn(dsn("<abc@acme.example>", action="delayed", status="4.4.1"))
    assert not delayed.permanent
    plain = b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n"
    assert not is_dsn(plain) and parse_dsn(plain) == []


def test_bounces_import_reads_a_maildir_and_marks_the_delivery(app, team, invoice, inbox, tmp_path):
    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box.add(dsn(delivery.message_id))
    box.add(dsn("<unknown@elsewhere.example>"))
    box.add(b"From: a@b.example\r\nSubject: not a report\r\n\r\nhello\r\n")

    result = app.test_cli_runner().invoke(args=["bounces", "import", str(tmp_path / "Maildir")])
    assert result.exit_code == 0, result.output
    assert (
        "3 message(s) read, 2 delivery report(s), 1 delivery(ies) marked bounced." in result.output
    )
    _db.session.expire_all()
    bounced = _db.session.get(Delivery, delivery.id)
    assert bounced.status == "bounced" and bounced.bounced_at is not None
    assert bounced.error == (
        "ada@blueharbor.example: 550 5.1.1 <ada@blueharbor.example>: Recipient address rejected"
    )
    # Importing the same file again changes nothing.
    single = tmp_path / "one.eml"
    single.write_bytes(dsn(delivery.message_id))
    again = app.test_cli_runner().invoke(args=["bounces", "import", str(single)])
    assert "0 delivery(ies) marked bounced" in again.output


def test_the_scheduler_reads_the_bounce_mailbox_once(
    app, team, invoice, inbox, tmp_path, monkeypatch
):
    from portal.jobs.schedule import read_bounces

    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)
    assert read_bounces()["skipped"].startswith("no bounce mailbox")
    folder = tmp_path / "bounces"
    box = mailbox.Maildir(str(folder), create=True)
    box.add(b"From: a@b.example\r\nSubject: not a report\r\n\r\nhello\r\n")
    monkeypatch.setitem(app.config, "BOUNCE_MAILDIR", str(folder))

    assert read_bounces() == {"messages": 1, "reports": 0, "bounced": 0}
    box.add(dsn(delivery.message_id))
    # Only what is new is read; every message read is filed as seen.
    assert read_bounces() == {"messages": 1, "reports": 1, "bounced": 1}
    assert read_bounces() == {"messages": 0, "reports": 0, "bounced": 0}
    assert all("S" in box.get_message(key).get_flags() for key in box.iterkeys())
    _db.session.expire_all()
    assert _db.session.get(Delivery, delivery.id).status == "bounced"
