"""The open pixel, views from the client portal, and the due-date calendar feed."""

from __future__ import annotations

import re
from datetime import date

from portal.extensions import db as _db
from portal.models import Delivery, Document, Role
from portal.services import delivery as service
from portal.services import documents
from tests.services import factories as f


def _pixel_path(inbox) -> str:
    html = inbox.deliveries[-1].message.get_body(("html",)).get_content()
    match = re.search(r'src="http://[^/]+(/t/[^"]+\.gif)"', html)
    assert match is not None
    return match.group(1)


def test_the_pixel_records_the_open_and_the_invoice_is_viewed(client, team, invoice, inbox):
    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)
    path = _pixel_path(inbox)

    tampered = client.get(path.replace(".gif", "x.gif"))
    assert tampered.status_code == 200 and tampered.mimetype == "image/gif"
    _db.session.expire_all()
    assert _db.session.get(Delivery, delivery.id).opened_at is None

    answer = client.get(path)
    assert answer.status_code == 200 and answer.data.startswith(b"GIF89a")
    _db.session.expire_all()
    assert _db.session.get(Delivery, delivery.id).opened_at is not None
    doc = _db.session.get(Document, invoice.id)
    assert (doc.status, doc.viewed_at is not None) == ("viewed", True)


def test_no_tracking_when_the_business_turned_it_off(client, team, invoice, inbox):
    team.business.track_opens = False
    _db.session.commit()
    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)
    html = inbox.deliveries[-1].message.get_body(("html",)).get_content()
    assert "/t/" not in html
    assert client.get(f"/t/{service.pixel_token(delivery)}.gif").status_code == 200
    _db.session.expire_all()
    assert _db.session.get(Delivery, delivery.id).opened_at is None


def test_record_view_marks_an_issued_invoice_viewed(team, invoice):
    service.record_view(invoice)
    assert invoice.status == "viewed" and invoice.viewed_at is not None


def _unfold(feed: str) -> list[str]:
    return feed.replace("\r\n ", "").split("\r\n")


def test_the_calendar_lists_open_invoices_as_valid_icalendar(client, team, db):
    owner = team.actor()
    long_name = "Société Générale des Ûberlangen Firmenbezeichnungen, Zweigstelle Nord; GmbH & Co."
    customer = f.client(owner, name=long_name)
    open_one = f.issued_invoice(owner, customer, f.line("Work", "1", "1234.56"))
    closed = f.issued_invoice(owner, customer)
    documents.void_invoice(owner, closed.public_id, "duplicate")
    f.draft(owner, customer)
    path = service.calendar_path(team.business)

    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
    raw = answer.data
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    assert any(line.startswith(b" ") for line in raw.split(b"\r\n"))  # the long SUMMARY folded
    lines = _unfold(raw.decode("utf-8"))
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    assert "VERSION:2.0" in lines and any(x.startswith("PRODID:") for x in lines)
    assert lines.count("BEGIN:VEVENT") == 1 == lines.count("END:VEVENT")
    due: date = open_one.due_date
    assert f"DTSTART;VALUE=DATE:{due:%Y%m%d}" in lines
    assert f"UID:invoice-{open_one.public_id}@invoice-lite" in lines
    summary = next(x for x in lines if x.startswith("SUMMARY:"))
    escaped = long_name.replace(",", "\\,").replace(";", "\\;")
    assert summary == f"SUMMARY:{open_one.number} due: €1\\,234.56 from {escaped}"
    assert any(x.startswith("DTSTAMP:") and x.endswith("Z") for x in lines)
    # Stable: the same feed twice.
    assert client.get(path).data == raw


def test_a_tampered_calendar_token_is_not_found(client, team):
    token = service.calendar_token(team.business)
    assert client.get(f"/calendar/{token[:-2]}xx.ics").status_code == 404


def test_the_settings_page_shows_the_feed_and_edits_rules(client, login, team):
    page = login(Role.ADMIN)
    html = page.get("/app/settings/delivery").get_data(as_text=True)
    assert service.calendar_path(team.business) in html
    assert page.post("/app/settings/delivery", data={"action": "suggested"}).status_code == 303
    from portal.services.reminders import rules_of

    assert [r.offset_days for r in rules_of(team.business)] == [-3, 0, 7, 14, 30]
    answer = page.post(
        "/app/settings/delivery",
        data={"offset_days": ["5", "5"], "template": ["reminder_late", "reminder_final"]},
    )
    assert answer.status_code == 422
    assert "Another rule already uses this day." in answer.get_data(as_text=True)
    page.post("/logout")
    assert login(Role.STAFF).get("/app/settings/delivery").status_code == 403
