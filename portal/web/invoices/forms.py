"""The invoice editor's form, its line rows, and the step from form to service input."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from portal.models import Product, TaxRate
from portal.services.catalogue import from_minor
from portal.services.documents import AdjustmentData, DraftData, LineData
from portal.services.validation import currency_choices

TERMS = {
    "RECEIPT": "Due on receipt",
    "NET7": "Net 7 days",
    "NET14": "Net 14 days",
    "NET30": "Net 30 days",
    "NET60": "Net 60 days",
    "EOM": "End of month",
    "EOM15": "15 days after end of month",
}
MAX_LINES = 200


class LineForm(Form):
    product = SelectField("Product", validate_choice=False, default="")
    description = TextAreaField("Description", validators=[Length(max=2000)])
    quantity = DecimalField(
        "Quantity", places=None, default=Decimal(1), validators=[InputRequired()]
    )
    unit = StringField("Unit", validators=[Length(max=20)])
    unit_price = DecimalField("Unit price", places=None, validators=[InputRequired()])
    discount_percent = DecimalField(
        "Discount %",
        places=None,
        validators=[Optional(), NumberRange(0, 100, "A discount is between 0 and 100 %%.")],
    )
    taxes = SelectMultipleField("Taxes", validate_choice=False)
    price_includes_tax = BooleanField("Price includes tax")


class InvoiceForm(FlaskForm):
    client = SelectField("Client", validators=[InputRequired("Choose a client.")])
    currency = SelectField("Currency")
    title = StringField("Title", validators=[Length(max=200)])
    po_number = StringField("PO number", validators=[Length(max=60)])
    terms = SelectField("Payment terms", choices=TERMS, default="NET30")
    issue_date = DateField("Issue date", validators=[Optional()])
    notes = TextAreaField("Notes for the client", validators=[Length(max=5000)])
    discount_amount = DecimalField(
        "Discount on the whole invoice",
        places=None,
        validators=[Optional(), NumberRange(min=0, message="A discount cannot be negative.")],
    )
    discount_tax = SelectField("Tax of the discount", validate_choice=False, default="")
    shipping_amount = DecimalField(
        "Shipping",
        places=None,
        validators=[Optional(), NumberRange(min=0, message="Shipping cannot be negative.")],
    )
    shipping_tax = SelectField("Tax on shipping", validate_choice=False, default="")
    lines = FieldList(FormField(LineForm), min_entries=1, max_entries=MAX_LINES)

    def prepare(
        self, clients: Sequence[Any], products: list[Product], rates: list[TaxRate]
    ) -> None:
        """Fill the choices that depend on the business."""
        self.client.choices = {"": "Choose a client…"} | {c.public_id: c.name for c in clients}
        self.currency.choices = currency_choices()
        rate_choices = {r.public_id: r.name for r in rates}
        self.discount_tax.choices = {"": "No tax"} | rate_choices
        self.shipping_tax.choices = {"": "No tax"} | rate_choices
        product_choices = {"": "—"} | {p.public_id: p.name for p in products}
        for entry in self.lines.entries:
            entry.form.product.choices = product_choices
            entry.form.taxes.choices = rate_choices

    def to_data(self) -> DraftData:
        adjustments = []
        if self.discount_amount.data:
            adjustments.append(
                AdjustmentData(
                    kind="allowance",
                    amount=self.discount_amount.data,
                    reason="Discount",
                    tax_rate_ids=_one(self.discount_tax.data),
                )
            )
        if self.shipping_amount.data:
            adjustments.append(
                AdjustmentData(
                    kind="charge",
                    amount=self.shipping_amount.data,
                    reason="Shipping",
                    tax_rate_ids=_one(self.shipping_tax.data),
                )
            )
        return DraftData(
            client_id=self.client.data or "",
            currency=self.currency.data or None,
            title=self.title.data or "",
            po_number=self.po_number.data or "",
            terms_code=self.terms.data or None,
            issue_date=self.issue_date.data,
            notes=self.notes.data or "",
            adjustments=tuple(adjustments),
            lines=tuple(_line(entry.form) for entry in self.lines.entries),
        )


def _one(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


def _line(form: LineForm) -> LineData:
    return LineData(
        description=form.description.data or "",
        quantity=form.quantity.data if form.quantity.data is not None else Decimal(0),
        unit_price=form.unit_price.data if form.unit_price.data is not None else Decimal(0),
        unit=form.unit.data or "",
        product_id=form.product.data or None,
        discount_percent=form.discount_percent.data,
        price_includes_tax=bool(form.price_includes_tax.data),
        tax_rate_ids=tuple(form.taxes.data or ()),
    )


def line_values(form: InvoiceForm) -> list[dict[str, Any]]:
    """The posted lines as plain data, to rebuild the form after adding, moving or removing."""
    return [dict(entry.form.data) for entry in form.lines.entries]


def product_line(product: Product) -> dict[str, Any]:
    return {
        "product": product.public_id,
        "description": product.name + (f"\n{product.description}" if product.description else ""),
        "quantity": Decimal(1),
        "unit": product.unit,
        "unit_price": from_minor(product.unit_price_minor, product.currency),
        "discount_percent": None,
        "taxes": [r.public_id for r in product.tax_rates],
        "price_includes_tax": any(r.inclusive for r in product.tax_rates),
    }


def document_values(doc: Any) -> dict[str, Any]:
    """A stored draft as the form's data."""
    by_kind = {a.kind: a for a in doc.adjustments}
    discount, shipping = by_kind.get("allowance"), by_kind.get("charge")
    return {
        "client": doc.client.public_id,
        "currency": doc.currency,
        "title": doc.title,
        "po_number": doc.po_number,
        "terms": doc.terms_code,
        "issue_date": doc.issue_date,
        "notes": doc.notes,
        "discount_amount": discount.amount.normalize() if discount else None,
        "discount_tax": _first_id(discount.taxes) if discount else "",
        "shipping_amount": shipping.amount.normalize() if shipping else None,
        "shipping_tax": _first_id(shipping.taxes) if shipping else "",
        "lines": [
            {
                "product": "",
                "description": line.description,
                "quantity": line.quantity.normalize(),
                "unit": line.unit,
                "unit_price": line.unit_price.normalize(),
                "discount_percent": (
                    line.discount_percent.normalize() if line.discount_percent is not None else None
                ),
                "taxes": [t["id"] for t in line.taxes if t.get("id")],
                "price_includes_tax": line.price_includes_tax,
            }
            for line in doc.lines
        ],
    }


def _first_id(taxes: list[dict[str, Any]]) -> str:
    return next((str(t["id"]) for t in taxes if t.get("id")), "")
