"""Helpers for the PDF tests: documents with known totals, and reading a PDF as a person would."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pypdf
import pytest

from portal.models import Client, Document, DocumentKind, Role
from portal.services import payments
from portal.services.payments import PaymentData
from tests.conftest import Team
from tests.services import factories


def pdf_text(data: bytes) -> str:
    """The text as a reader sees it; Babel's no-break spaces read as spaces."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")


def reader(data: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(data))


@pytest.fixture
def owner(team: Team) -> Any:
    return team.actor(Role.OWNER)


@pytest.fixture
def customer(owner: Any) -> Client:
    return factories.client(owner, name="Blue Harbor Ltd", email="ap@blueharbor.example")


def invoice_with_tax(owner: Any, client: Client, **overrides: Any) -> Document:
    """1 x 1,028.80 + 20 % VAT = 1,234.56."""
    rate = factories.tax_rate(owner, name="VAT 20%", rate="20")
    line = factories.line("Website redesign", "1", "1028.80", tax_rate_ids=(rate.public_id,))
    return factories.issued_invoice(owner, client, line, **overrides)


def draft_invoice(owner: Any, client: Client) -> Document:
    return factories.draft(owner, client, factories.line("Consulting", "2", "50"))


def pay_in_full(owner: Any, invoice: Document, on: date | None = None) -> None:
    amount = Decimal(invoice.amount_due_minor).scaleb(-2)
    payments.record_payment(
        owner,
        PaymentData(
            client_id=invoice.client.public_id,
            amount=amount,
            currency=invoice.currency,
            received_on=on or invoice.issue_date or date.today(),
            allocations=((invoice.public_id, amount),),
        ),
    )


KINDS = DocumentKind
