"""Stored XSS: a script typed into any text field never runs where the text is shown again.

Every free-text field of every record holds the same payload; then every page that can show it
(staff pages, the client portal), the PDF's HTML and the email's HTML are parsed the way a browser
would and searched for a script or an event handler that carries it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal
from typing import Any

import lxml.html
import pytest
from flask import Flask

from integrations.notify.email import OutgoingEmail
from portal.documents.render import document_source, html_for
from portal.extensions import db
from portal.models import ExperimentEvent, NotificationChannel, Role
from portal.models.base import utcnow
from portal.services import (
    branding,
    business,
    catalogue,
    client_portal,
    clients,
    credit_notes,
    custom_fields,
    delivery,
    documents,
    email_templates,
    experiments,
    mail,
    notifications,
    payments,
    quotes,
    webhooks,
)
from portal.services.catalogue import ProductData, TaxRateData
from portal.services.clients import ClientData, ContactData
from portal.services.documents import AdjustmentData, DraftData, LineData
from tests.conftest import Inbox, Team
from tests.web.helpers import text_of
from tests.web.test_roles import ACCESS

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(1)>\"'"
SHORT = "<i onclick=alert(1)>"  # for fields of 20 characters (units)
MARK = "alert(1)"
FILES = (".pdf", ".csv", ".zip", ".xml", ".json", ".ics", ".gif", ".css", "/download")


def assert_inert(html: str, where: str) -> None:
    """No element the payload made: no script carrying it, no event handler, no ``src=x``."""
    assert "<script>alert(1)" not in html, where
    assert "<img src=x" not in html, where
    assert "<i onclick" not in html, where
    tree = lxml.html.document_fromstring(html)
    for script in tree.iter("script"):
        body = script.text or ""
        if script.get("type") == "application/json":
            try:
                json.loads(body)
            except ValueError:
                raise AssertionError(f"{where}: the data closed its script early") from None
        else:
            assert MARK not in body, f"{where}: a script runs {body!r}"
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"{where}: <{element.tag} {name}={value!r}>"
            if name.lower() in {"href", "src", "action", "formaction"}:
                assert not value.strip().lower().startswith("javascript:"), where
        assert not (element.tag == "img" and element.get("src") == "x"), where


def test_the_check_finds_a_script() -> None:
    with pytest.raises(AssertionError):
        assert_inert(f"<html><body><p>{PAYLOAD}</p></body></html>", "raw")
    with pytest.raises(AssertionError):
        assert_inert("<html><body><i onclick=alert(1)>x</i></body></html>", "handler")
    with pytest.raises(AssertionError, match="closed its script early"):
        assert_inert(
            '<html><body><script type="application/json">{"x": "</script>'
            '<i>x</i>"}</script></body></html>',
            "closed early",
        )
    assert_inert("<html><body><p>&lt;script&gt;alert(1)&lt;/script&gt;</p></body></html>", "ok")


@pytest.fixture
def poisoned(
    app: Flask, team: Team, ids: dict[str, str], monkeypatch: pytest.MonkeyPatch, inbox: Inbox
) -> dict[str, Any]:
    """The role matrix's objects with the payload in every text field, plus new documents."""
    sent: list[OutgoingEmail] = []
    monkeypatch.setattr(mail, "send", lambda message: sent.append(message) or "<id@test>")
    owner = team.actor()
    with app.test_request_context():
        profile = business.profile_of(team.business)
        business.update_business(
            owner,
            dataclasses.replace(
                profile,
                legal_name=PAYLOAD,
                address_line1=PAYLOAD,
                address_line2=PAYLOAD,
                city=PAYLOAD,
                postal_code="10115",
            ),
        )
        for user in team.users.values():
            user.name = PAYLOAD
        db.session.commit()
        custom_fields.define_field(owner, custom_fields.FieldData("client", "ref", PAYLOAD, "text"))
        custom_fields.define_field(
            owner, custom_fields.FieldData("invoice", "project", PAYLOAD, "text")
        )
        rate = catalogue.update_tax_rate(
            owner, ids["tax_rate"], TaxRateData(name=PAYLOAD, rate=Decimal(20))
        )
        catalogue.update_product(
            owner,
            ids["product"],
            ProductData(
                name=PAYLOAD,
                unit_price=Decimal(100),
                currency="EUR",
                description=PAYLOAD,
                unit=SHORT,
                tax_rate_ids=(rate.public_id,),
            ),
        )
        clients.update_client(
            owner,
            ids["client"],
            ClientData(
                name=PAYLOAD,
                currency="EUR",
                email="ap@blue.example",
                billing_country="DE",
                notes=PAYLOAD,
                billing_line1=PAYLOAD,
                billing_line2=PAYLOAD,
                billing_city=PAYLOAD,
                shipping_line1=PAYLOAD,
                shipping_line2=PAYLOAD,
                shipping_city=PAYLOAD,
                tags=(SHORT,),
                contacts=(ContactData(PAYLOAD, "anna@blue.example", PAYLOAD[:30]),),
            ),
        )
        custom_fields.set_client_custom_fields(owner, ids["client"], {"ref": PAYLOAD})
        lines = (
            LineData(PAYLOAD, Decimal(2), Decimal(100), unit=SHORT, tax_rate_ids=(rate.public_id,)),
        )
        draft_data = DraftData(
            client_id=ids["client"],
            lines=lines,
            title=PAYLOAD,
            notes=PAYLOAD,
            footer=PAYLOAD,
            po_number=SHORT,
            adjustments=(AdjustmentData("charge", Decimal(5), PAYLOAD),),
            custom_fields={"project": PAYLOAD},
        )
        documents.update_draft(owner, ids["draft"], draft_data)
        invoice = documents.create_draft(owner, documents.DocumentKind.INVOICE, draft_data)
        documents.issue_invoice(owner, invoice.public_id)
        quote = documents.create_draft(owner, documents.DocumentKind.QUOTE, draft_data)
        sent_quote = documents.create_draft(owner, documents.DocumentKind.QUOTE, draft_data)
        quotes.send_quote(owner, sent_quote.public_id)
        credit_note = credit_notes.create_credit_note(owner, invoice.public_id, reason=PAYLOAD)
        payment = payments.pay_invoice(
            owner, invoice.public_id, Decimal("10"), date(2026, 1, 5), reference=PAYLOAD
        )
        _, invoice_link = client_portal.create_link(owner, ids["client"], invoice.public_id)
        _, quote_link = client_portal.create_link(owner, ids["client"], sent_quote.public_id)
        branding.update_branding(
            owner,
            dataclasses.replace(
                branding.branding_of(owner), footer_text=PAYLOAD, payment_instructions=PAYLOAD
            ),
        )
        for kind in ("invoice", "quote", "credit_note", "statement"):
            branding.save_template(owner, kind, f"{PAYLOAD}\n\n{{{{ client.name }}}}")
        email_templates.save_template(
            owner,
            "invoice",
            f"{SHORT} {{{{ client.name }}}}",
            f"{PAYLOAD}\n\n{{{{ client.name }}}} {{{{ business.name }}}}\n\n{{{{ message.text }}}}",
        )
        channel = db.session.scalar(
            db.select(NotificationChannel).filter_by(public_id=ids["channel"])
        )
        assert channel is not None
        notifications.update_channel(
            owner,
            channel.public_id,
            notifications.ChannelData(
                provider=channel.provider, name=PAYLOAD, target="", events=tuple(channel.events)
            ),
        )
        webhooks.update_endpoint(
            owner,
            ids["webhook"],
            webhooks.EndpointData(
                url="http://127.0.0.1:9/in", description=PAYLOAD, events=("invoice.paid",)
            ),
        )
        experiment = experiments.create_experiment(
            owner,
            PAYLOAD,
            [experiments.VariantData(PAYLOAD, 50), experiments.VariantData(SHORT, 50)],
        )
        experiments.change_status(owner, experiment.public_id, "start")
        for variant in experiment.variants:
            db.session.add(
                ExperimentEvent(
                    experiment_id=experiment.id,
                    variant_id=variant.id,
                    subject=f"visitor-{variant.key}",
                    kind="viewed",
                    created_at=utcnow(),
                )
            )
        db.session.commit()
        inbox.deliveries.clear()
        delivery.send_invoice(owner, invoice.public_id, message=PAYLOAD)
    return {
        **ids,
        "invoice": invoice.public_id,
        "portal_invoice": invoice.public_id,
        "invoice_link": invoice_link,
        "quote": quote.public_id,
        "portal_quote": sent_quote.public_id,
        "quote_link": quote_link,
        "credit_note": credit_note.public_id,
        "payment": payment.public_id,
        "experiment": experiment.public_id,
        "emails": [d.message for d in inbox.deliveries],
    }


PAGES = sorted(
    access.url
    for (method, rule), access in ACCESS.items()
    if method == "GET"
    and rule.startswith(("/app/", "/pay/", "/invitations/", "/oauth/authorize"))
    and not rule.endswith(FILES)
)


def test_every_page_shows_the_payload_as_text(poisoned: dict[str, Any], login: Any) -> None:
    client = login(Role.OWNER)
    shown = 0
    for url in PAGES:
        target = url.format(**poisoned)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(target, headers=headers)
            assert response.status_code < 500, target
            if response.mimetype != "text/html":
                continue
            html = text_of(response)
            if not html.strip():
                continue
            assert_inert(html, target)
            shown += "&lt;script&gt;alert(1)" in html
    # The check means something only if the payload is really on the pages.
    assert shown > 40


def test_the_payload_is_really_stored(poisoned: dict[str, Any], login: Any) -> None:
    client = login(Role.OWNER)
    for url in (
        "/app/clients/{client}",
        "/app/invoices/{invoice}",
        "/app/quotes/{quote}",
        "/app/credit-notes/{credit_note}",
        "/app/products",
        "/app/tax-rates",
        "/app/team",
        "/app/settings/notifications",
        "/app/settings/webhooks",
        "/app/experiments/{experiment}",
        "/pay/{portal_token}",
        "/pay/{portal_token}/documents/{portal_invoice}",
    ):
        html = text_of(client.get(url.format(**poisoned)))
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


def test_the_experiment_chart_keeps_its_data_inside(poisoned: dict[str, Any], login: Any) -> None:
    html = text_of(login(Role.OWNER).get(f"/app/experiments/{poisoned['experiment']}"))
    tree = lxml.html.document_fromstring(html)
    (figure,) = tree.xpath('//script[@id="experiment-figure"]')
    data = json.loads(figure.text)
    assert PAYLOAD in data["data"][0]["x"]
    assert_inert(html, "experiment")


def test_the_pdf_html_shows_the_payload_as_text(
    poisoned: dict[str, Any], app: Flask, team: Team
) -> None:
    with app.test_request_context():
        for key in ("invoice", "quote", "credit_note", "draft"):
            doc = documents.get_document(team.actor(), poisoned[key])
            html = html_for(document_source(doc, team.business))
            assert "&lt;script&gt;alert(1)" in html, key
            assert_inert(html, f"{key} PDF")


def test_the_email_shows_the_payload_as_text(poisoned: dict[str, Any]) -> None:
    (message,) = poisoned["emails"]
    part = message.get_body(("html",))
    assert part is not None
    html = part.get_content()
    assert "&lt;script&gt;alert(1)" in html
    assert_inert(html, "email")
