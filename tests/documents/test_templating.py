"""A business's own Markdown: placeholders filled in a sandbox, errors with their line."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.documents.render import render_pdf
from portal.documents.templating import TemplateProblem, View, render_markdown
from portal.models import Client, DocumentTemplate, Role
from portal.services import branding
from portal.services.errors import Forbidden, InvalidInput
from tests.conftest import Team
from tests.documents.conftest import invoice_with_tax, pdf_text

CONTEXT = {
    "invoice": View("invoice", {"number": "INV-7", "total": "€1,234.56", "due_date": "Dec 1"}),
    "client": View("client", {"name": "Blue Harbor"}),
}


def test_placeholders_and_markdown_render_to_clean_html():
    html = render_markdown(
        "# Hello {{ client.name }}\n\nPay **{{ invoice.total }}** by {{ invoice.due_date }}.\n\n"
        "<script>alert(1)</script> [x](javascript:alert(1)) [site](https://acme.example)",
        CONTEXT,
    )
    assert "<h1>Hello Blue Harbor</h1>" in html
    assert "<strong>€1,234.56</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html  # raw HTML is text, not markup
    assert 'href="javascript' not in html
    assert 'href="https://acme.example"' in html


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{{ invoice.__class__ }}", "Not allowed: “__class__” is not available in templates."),
        ("{{ ''.__class__.__mro__ }}", "Not allowed: “__class__” is not available"),
        ("{{ invoice._fields }}", "Not allowed: “_fields”"),
        ("{{ invoice|attr('__dict__') }}", "Not allowed: “__dict__”"),
        ("{{ config }}", "“config” is not a placeholder."),
        ("{{ request }}", "“request” is not a placeholder."),
        ("{{ range(9999999) }}", "“range” is not a placeholder."),
        ("{{ invoice.nope }}", "“invoice.nope” is not a placeholder."),
    ],
)
def test_escapes_from_the_sandbox_are_refused_with_a_message(body: str, message: str):
    with pytest.raises(TemplateProblem, match=re.escape(message)) as caught:
        render_markdown(body, CONTEXT)
    assert caught.value.line == 1


def test_a_syntax_error_names_its_line():
    with pytest.raises(TemplateProblem, match=re.escape("Line 3: Syntax error")) as caught:
        render_markdown("Hello\n\n{% if invoice.number %}\nno end", CONTEXT)
    assert caught.value.line in (3, 4)


def test_an_unknown_placeholder_names_its_line():
    with pytest.raises(TemplateProblem, match=re.escape("Line 4: “client.iban”")):
        render_markdown("a\nb\n\nPay to {{ client.iban }}", CONTEXT)


def test_saving_a_broken_template_is_refused_and_the_saved_one_stays(
    team: Team, customer: Client, owner: Any
):
    admin = team.actor(Role.ADMIN)
    branding.save_template(admin, "invoice", "Thanks, **{{ client.name }}**: {{ invoice.total }}")

    with pytest.raises(InvalidInput) as caught:
        branding.save_template(admin, "invoice", "ok\n{{ invoice.__class__ }}")

    assert caught.value.errors == {
        "body": "Line 2: Not allowed: “__class__” is not available in templates."
    }
    saved = branding.template_for(admin, "invoice")
    assert saved is not None and saved.body.startswith("Thanks")
    text = pdf_text(render_pdf(invoice_with_tax(owner, customer)))
    assert "Thanks, Blue Harbor Ltd: €1,234.56" in text


def test_staff_cannot_change_templates(team: Team):
    with pytest.raises(Forbidden):
        branding.save_template(team.actor(Role.STAFF), "invoice", "hello")


def test_a_template_broken_after_saving_falls_back_to_the_built_in_text(
    owner: Any, customer: Client, team: Team, db: Any
):
    db.session.add(
        DocumentTemplate(business_id=team.business.id, kind="invoice", body="{{ nope }}")
    )
    db.session.commit()
    text = pdf_text(render_pdf(invoice_with_tax(owner, customer)))
    assert "Thank you for your business, Blue Harbor Ltd." in text
