"""A business's own email templates: the editor, its checks, the preview, and the next email."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db as _db
from portal.jobs.delivery import DEFAULTS
from portal.models import AuditEvent, DocumentTemplate, Role
from portal.services import delivery as sending
from portal.services import email_templates as service
from portal.services.errors import Forbidden, InvalidInput, NotFound
from tests.conftest import Team
from tests.web.helpers import count, errors_beside

URL = "/app/settings/email-templates"
OWN_BODY = (
    "Dear {{ client.name }},\n\n{% if message.text %}{{ message.text }}\n\n{% endif %}"
    "invoice **{{ document.number }}** over {{ document.total }} is due {{ document.due_date }}."
)


def _rows() -> list[DocumentTemplate]:
    return list(
        _db.session.scalars(select(DocumentTemplate).where(DocumentTemplate.kind.like("email_%")))
    )


def _save(client: FlaskClient, kind: str, subject: str, body: str) -> Any:
    return client.post(f"{URL}/{kind}", data={"subject": subject, "body": body})


def _preview(client: FlaskClient, kind: str, subject: str, body: str) -> str:
    response = client.post(f"{URL}/{kind}/preview", data={"subject": subject, "body": body})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_every_kind_of_email_is_listed_as_built_in_until_it_is_customised(login, team):
    client = login(Role.ADMIN)
    page = client.get(f"{URL}/").get_data(as_text=True)
    for kind, name in service.NAMES.items():
        row = re.search(rf'<tr id="email-template-{kind}">(.*?)</tr>', page, re.S)
        assert row is not None, kind
        assert name in row.group(1) and "Built-in" in row.group(1)
    assert set(service.NAMES) == set(DEFAULTS)

    assert (
        _save(client, "reminder_late", "Overdue: {{ document.number }}", "Pay, please.").status_code
        == 303
    )
    page = client.get(f"{URL}/").get_data(as_text=True)
    row = re.search(r'<tr id="email-template-reminder_late">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "Your own" in row.group(1) and "Overdue: {{ document.number }}" in unescape(row.group(1))
    assert "Built-in" in re.search(r'<tr id="email-template-invoice">(.*?)</tr>', page, re.S)[1]  # type: ignore[index]


def test_the_settings_page_links_to_the_editor(login):
    page = login(Role.ADMIN).get("/app/settings/").get_data(as_text=True)
    assert f'href="{URL}/"' in page


@pytest.mark.parametrize("kind", list(DEFAULTS))
def test_each_built_in_template_passes_the_checks_and_every_placeholder_renders(team, app, kind):
    admin = team.actor(Role.ADMIN)
    with app.test_request_context():
        shown = service.template_of(admin, kind)
        assert (shown.subject, shown.body, shown.customised) == (*DEFAULTS[kind], False)
        service.preview_email(admin, kind, shown.subject, shown.body)
        for name, _ in service.placeholders_for(kind):
            email = service.preview_email(admin, kind, "s", f"[{{{{ {name} }}}}]")
            assert re.fullmatch(r"\[.+\]", email.text), (name, email.text)


def test_the_editor_shows_the_placeholders_and_a_preview_with_sample_values(login):
    client = login(Role.OWNER)
    page = unescape(client.get(f"{URL}/reminder_final").get_data(as_text=True))
    listed = re.sub(r"<[^>]+>", "", page.split('id="placeholders"')[1].split("</ul>")[0])
    assert "{{ reminder.days_late }} — days since the due date" in listed
    assert "{{ message.text }}" not in listed
    assert 'id="preview-subject">Final reminder: invoice INV-2026-00042<' in page
    assert "is 30 days overdue and €1,234.56 is still open" in page

    fragment = _preview(client, "invoice", "Bill {{ document.number }}", OWN_BODY)
    assert fragment.startswith('<div id="email-preview"')
    assert 'id="preview-subject">Bill INV-2026-00042<' in fragment
    assert "<strong>INV-2026-00042</strong>" in fragment
    text = unescape(re.search(r'<pre id="preview-text">(.*?)</pre>', fragment, re.S)[1])  # type: ignore[index]
    assert text.startswith("Dear Blue Harbor GmbH,\nThank you for the smooth project.")
    assert "**" not in text and "<" not in text
    assert _rows() == []  # a preview stores nothing


def test_a_saved_template_is_what_the_next_invoice_email_says(login, team, invoice, inbox):
    client = login(Role.ADMIN)
    response = _save(
        client, "invoice", "Bill {{ document.number }} for {{ client.name }}", OWN_BODY
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{URL}/invoice"
    assert "the next one sent uses it" in client.get(f"{URL}/invoice").get_data(as_text=True)

    sending.send_invoice(team.actor(Role.STAFF), invoice.public_id, message="Merci!")

    [received] = inbox.deliveries
    mail = received.message
    assert mail["Subject"] == f"Bill {invoice.number} for Blue Harbor GmbH"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Dear Blue Harbor GmbH,\nMerci!\ninvoice ")
    assert f"invoice {invoice.number} over €1,231.56 is due" in text
    assert f"<strong>{invoice.number}</strong>" in mail.get_body(("html",)).get_content()
    [event] = _db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "email_template.saved")
    )
    assert event.after == {
        "subject": "Bill {{ document.number }} for {{ client.name }}",
        "body": OWN_BODY,
    }
    assert event.before is None


def test_reset_deletes_the_own_template_and_the_next_email_is_the_built_in_one(
    login, team, invoice, inbox
):
    client = login(Role.ADMIN)
    assert _save(client, "invoice", "Own {{ document.number }}", "Own text.").status_code == 303
    page = client.get(f"{URL}/invoice").get_data(as_text=True)
    assert "Reset to default" in page

    response = client.post(f"{URL}/invoice/reset")
    assert response.status_code == 303
    assert _rows() == []
    page = unescape(client.get(f"{URL}/invoice").get_data(as_text=True))
    assert "Reset to default" not in page
    assert DEFAULTS["invoice"][0] in page

    sending.send_invoice(team.actor(Role.STAFF), invoice.public_id)
    [received] = inbox.deliveries
    assert received.message["Subject"] == f"Invoice {invoice.number} from Acme Ltd"
    [event] = _db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "email_template.reset")
    )
    assert event.before == {"subject": "Own {{ document.number }}", "body": "Own text."}


INVALID = [
    pytest.param("", "Hello", "subject", "Enter a subject.", id="empty subject"),
    pytest.param("   ", "Hello", "subject", "Enter a subject.", id="blank subject"),
    pytest.param(
        "Invoice\nBcc: x@evil.example",
        "Hello",
        "subject",
        "A subject is one line: remove the line break.",
        id="subject with a newline",
    ),
    pytest.param(
        "x" * 201, "Hello", "subject", "Keep the subject to 200 characters or fewer.", id="long"
    ),
    pytest.param(
        "Invoice {invoce_number}",
        "Hello",
        "subject",
        "{invoce_number} is not a placeholder of this email. Did you mean {{ document.number }}?",
        id="single braces, unknown name",
    ),
    pytest.param(
        "Invoice {{ invoce_number }}",
        "Hello",
        "subject",
        "“invoce_number” is not a placeholder of this email. Did you mean {{ document.number }}?",
        id="unknown name",
    ),
    pytest.param(
        "Invoice",
        "Hello,\n\nsee {{ document.numbr }}",
        "body",
        "Line 3: “document.numbr” is not a placeholder of this email."
        " Did you mean {{ document.number }}?",
        id="misspelt field",
    ),
    pytest.param(
        "Invoice",
        "Hello {document.number}",
        "body",
        "Line 1: write placeholders with double braces: {{ document.number }}.",
        id="single braces, known name",
    ),
    pytest.param(
        "Invoice",
        "Hello\n{{ document.number",
        "body",
        "Line 2: a placeholder is not written right (unexpected end of template, expected"
        " 'end of print statement'). Write them as {{ document.number }}.",
        id="unclosed placeholder",
    ),
    pytest.param(
        "Invoice",
        "{% if message.text %}{{ message.text }}",
        "body",
        "Line 1: a placeholder is not written right (Unexpected end of template.",
        id="unclosed if",
    ),
    pytest.param(
        "Invoice",
        "{{ reminder.days_late }} days",
        "body",
        "Line 1: “reminder.days_late” is not a placeholder of this email.",
        id="a placeholder of another kind",
    ),
    pytest.param(
        "Invoice",
        "{{ document }}",
        "body",
        "Line 1: use one of the fields of “document”, e.g. {{ document.number }}.",
        id="a whole object",
    ),
    pytest.param(
        "Invoice",
        "{{ document.__class__ }}",
        "body",
        "Line 1: “document.__class__” is not a placeholder of this email.",
        id="dunder",
    ),
    pytest.param(
        "Invoice",
        "{{ document.number.__len__() }}",
        "body",
        "Line 1: Not allowed: “__len__” is not available in templates.",
        id="sandbox",
    ),
    pytest.param("Invoice", "", "body", "Enter the text of the email.", id="empty body"),
    pytest.param(
        "Invoice",
        "x" * 10_001,
        "body",
        "Keep the text to 10000 characters or fewer.",
        id="long body",
    ),
]


@pytest.mark.parametrize(("subject", "body", "field", "message"), INVALID)
def test_invalid_input_is_refused_beside_the_field_and_nothing_is_stored(
    login, subject, body, field, message
):
    client = login(Role.ADMIN)
    assert _save(client, "invoice", "Kept {{ document.number }}", "Kept text.").status_code == 303
    events = count(AuditEvent)

    response = _save(client, "invoice", subject, body)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    [shown] = errors_beside(page, field)
    assert shown.startswith(message), shown
    assert 'aria-invalid="true"' in page
    [row] = _rows()
    assert row.body == "Kept {{ document.number }}\nKept text."
    assert count(AuditEvent) == events
    # The live preview says the same, naming the field.
    fragment = unescape(_preview(client, "invoice", subject, body))
    label = "Subject" if field == "subject" else "Text"
    assert f'role="alert" data-field="{field}">{label}: {message}' in fragment


def test_the_service_refuses_the_same_way_and_checks_role_and_kind(team, app):
    with app.test_request_context():
        admin = team.actor(Role.ADMIN)
        with pytest.raises(InvalidInput) as refused:
            service.save_template(admin, "quote", "Quote {{ invoce_number }}", "Hi")
        assert set(refused.value.errors) == {"subject"}
        with pytest.raises(NotFound, match=re.escape("There is no such kind of email.")):
            service.save_template(admin, "receipt_x", "S", "B")
        with pytest.raises(Forbidden, match=re.escape("This needs the admin role or higher.")):
            service.save_template(team.actor(Role.ACCOUNTANT), "invoice", "S", "B")
        with pytest.raises(Forbidden):
            service.reset_template(team.actor(Role.STAFF), "invoice")
        assert _rows() == []


def test_saving_twice_keeps_one_row_and_audits_the_change(team, app):
    with app.test_request_context():
        owner = team.actor(Role.OWNER)
        service.save_template(owner, "reminder_due", "Due {{ document.number }}", "One\r\nTwo")
        saved = service.save_template(owner, "reminder_due", "Due today", "  Three  ")
        assert (saved.subject, saved.body, saved.customised) == ("Due today", "Three", True)
        [row] = _rows()
        assert row.kind == "email_reminder_due"
        events = list(
            _db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "email_template.saved")
                .order_by(AuditEvent.id)
            )
        )
        assert [e.entity_id for e in events] == ["reminder_due"] * 2
        assert {e.business_id for e in events} == {team.business.id}
        assert events[1].before == {"subject": "Due {{ document.number }}", "body": "One\nTwo"}


def test_an_unknown_kind_is_not_found(login):
    client = login(Role.ADMIN)
    assert client.get(f"{URL}/receipt_x").status_code == 404
    assert client.post(f"{URL}/receipt_x/preview", data={}).status_code == 404


def test_another_business_keeps_its_own_wording(login, team: Team, app):
    from tests.conftest import make_team

    other = make_team("Other Co")
    with app.test_request_context():
        service.save_template(other.actor(), "invoice", "Theirs", "Their text.")
    page = unescape(login(Role.ADMIN).get(f"{URL}/invoice").get_data(as_text=True))
    assert "Theirs" not in page and DEFAULTS["invoice"][0] in page


@pytest.mark.parametrize("kind", list(DEFAULTS))
def test_every_kind_can_be_saved_and_read_back(team, app, kind):
    with app.test_request_context():
        admin = team.actor(Role.ADMIN)
        service.save_template(admin, kind, "Own {{ document.number }}", "Own text.")
        _db.session.expire_all()
        shown = service.template_of(admin, kind)
        assert (shown.subject, shown.body, shown.customised) == (
            "Own {{ document.number }}",
            "Own text.",
            True,
        )
