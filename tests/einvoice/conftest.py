"""A seller business with an address and VAT id, a client, rates: enough for a real e-invoice."""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import weasyprint

from portal.extensions import db as _db
from portal.models import Client, Document, TaxRate
from portal.services import documents
from tests.conftest import Team, make_team
from tests.services import factories as f


@dataclass
class Shop:
    team: Team
    client: Client
    vat20: TaxRate
    vat10: TaxRate
    zero: TaxRate

    @property
    def owner(self) -> Any:
        return self.team.actor()

    def issued(self, *lines: documents.LineData, **overrides: Any) -> Document:
        return f.issued_invoice(
            self.owner, overrides.pop("client", self.client), *lines, **overrides
        )


def make_shop(name: str = "Harbor Design SARL", **business: Any) -> Shop:
    team = make_team(name)
    fields = {
        "address_line1": "12 rue de la Paix",
        "city": "Paris",
        "postal_code": "75002",
        "country": "FR",
        "tax_id": "FR40303265045",
        **business,
    }
    for key, value in fields.items():
        setattr(team.business, key, value)
    _db.session.commit()
    owner = team.actor()
    client = f.client(
        owner,
        name="Blue Harbor GmbH",
        email="billing@blueharbor.example",
        tax_id="DE811569869",
        billing_line1="Hafenstraße 1",
        billing_city="Hamburg",
        billing_postal_code="20457",
        billing_country="DE",
    )
    return Shop(
        team,
        client,
        f.tax_rate(owner, "VAT 20%", "20"),
        f.tax_rate(owner, "VAT 10%", "10"),
        f.tax_rate(owner, "Zero rated", "0", category="Z"),
    )


@pytest.fixture
def shop(db: Any) -> Shop:
    return make_shop()


def vat(*rates: TaxRate) -> tuple[str, ...]:
    return tuple(rate.public_id for rate in rates)


def D(text: str) -> Decimal:
    return Decimal(text)


def pdf_a3(text: str = "Invoice") -> bytes:
    """A small PDF/A-3b such as the PDF renderer makes.

    WeasyPrint leaves its sRGB ICC profile file open; its ResourceWarning is its own, not ours.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        pdf = weasyprint.HTML(string=f"<h1>{text}</h1><p>See the attached XML.</p>").write_pdf(
            pdf_variant="pdf/a-3b"
        )
        gc.collect()
    return bytes(pdf)
