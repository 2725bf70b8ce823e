"""Products, tax rates, payments, refunds, recurring schedules, credit notes and reports."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from portal.api.schemas.common import (
    Count,
    Day,
    DecimalString,
    ListQuery,
    Money,
    PublicId,
    Text,
    money,
)
from portal.api.schemas.documents import MAX_LINES, MAX_PRICE, LineInSchema
from portal.billing.money import Money as MoneyValue
from portal.models import Business, Payment, Product, RecurringSchedule, Refund, TaxRate
from portal.services.payments import METHODS

CURRENCY = [validate.Regexp(r"^[A-Za-z]{3}$", error="An ISO 4217 code, e.g. EUR.")]
MAX_MINOR = 10**15


def _sorts(*names: str) -> list[str]:
    return [p + n for n in names for p in ("", "-")]


# ------------------------------------------------------------------------- catalogue


class TaxRateSchema(ma.Schema):
    id = fields.String(dump_only=True)
    name = Text(required=True, max_length=80, validate=[validate.Length(min=1)])
    rate = DecimalString(
        required=True,
        validate=[validate.Range(min=Decimal(0), max=Decimal(100), error="0 to 100.")],
        metadata={"description": 'Percent, e.g. "20" or "7.75".'},
    )
    inclusive = fields.Boolean(load_default=False)
    compound = fields.Boolean(load_default=False)
    category = Text(max_length=4, load_default="S")
    archived = fields.Boolean(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class TaxRateUpdateSchema(TaxRateSchema):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, **kwargs)


class ProductSchema(ma.Schema):
    id = fields.String(dump_only=True)
    name = Text(required=True, max_length=200, validate=[validate.Length(min=1)])
    description = Text(max_length=5000, load_default="")
    unit = Text(max_length=20, load_default="unit")
    unit_price_minor = Count(0, MAX_MINOR, required=True, load_only=True)
    currency = Text(required=True, max_length=3, validate=CURRENCY)
    unit_price = Money(dump_only=True)
    tax_rate_ids = fields.List(PublicId(), load_default=list, validate=validate.Length(max=5))
    archived = fields.Boolean(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class ProductUpdateSchema(ProductSchema):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, **kwargs)


class CatalogueQuery(ListQuery):
    archived = fields.Boolean(load_default=False)
    sort = fields.String(
        load_default="name", validate=validate.OneOf(_sorts("name", "created_at", "updated_at"))
    )


def dump_tax_rate(rate: TaxRate) -> dict[str, Any]:
    return {
        "id": rate.public_id,
        "name": rate.name,
        "rate": rate.rate,
        "inclusive": rate.inclusive,
        "compound": rate.compound,
        "category": rate.category,
        "archived": rate.archived_at is not None,
        "created_at": rate.created_at,
        "updated_at": rate.updated_at,
    }


def dump_product(product: Product, business: Business) -> dict[str, Any]:
    return {
        "id": product.public_id,
        "name": product.name,
        "description": product.description,
        "unit": product.unit,
        "currency": product.currency,
        "unit_price": money(product.unit_price_minor, product.currency, business),
        "tax_rate_ids": [r.public_id for r in product.tax_rates],
        "archived": product.archived_at is not None,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


def major(minor: int, currency: str) -> Decimal:
    return MoneyValue(minor, currency.upper()).to_decimal()


# -------------------------------------------------------------------------- payments


class AllocationInSchema(ma.Schema):
    invoice_id = PublicId(required=True)
    amount_minor = Count(1, MAX_MINOR, required=True)


class AllocationSchema(ma.Schema):
    invoice_id = fields.String(required=True)
    amount = Money()


class PaymentInSchema(ma.Schema):
    client_id = PublicId(required=True)
    amount_minor = Count(1, MAX_MINOR, required=True, metadata={"description": "Minor units."})
    currency = Text(required=True, max_length=3, validate=CURRENCY)
    received_on = Day(required=True)
    method = fields.String(load_default="bank_transfer", validate=validate.OneOf(list(METHODS)))
    reference = Text(max_length=120, load_default="")
    notes = Text(max_length=5000, load_default="")
    allocations = fields.List(
        fields.Nested(AllocationInSchema), load_default=list, validate=validate.Length(max=100)
    )


class PaymentSchema(ma.Schema):
    id = fields.String(required=True)
    client_id = fields.String(required=True)
    received_on = fields.Date(required=True)
    amount = Money()
    fee = Money()
    method = fields.String(required=True)
    reference = fields.String(required=True)
    notes = fields.String(required=True)
    provider = fields.String(required=True, allow_none=True)
    allocations = fields.List(fields.Nested(AllocationSchema), required=True)
    refund_ids = fields.List(fields.String(), required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class RefundInSchema(ma.Schema):
    amount_minor = Count(1, MAX_MINOR, required=True)
    refunded_on = Day(required=True)
    reference = Text(max_length=120, load_default="")


class RefundSchema(ma.Schema):
    id = fields.String(required=True)
    payment_id = fields.String(required=True, allow_none=True)
    credit_note_id = fields.String(required=True, allow_none=True)
    refunded_on = fields.Date(required=True)
    amount = Money()
    reference = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class PaymentQuery(ListQuery):
    client_id = PublicId(load_default=None)
    received_from = Day(load_default=None)
    received_to = Day(load_default=None)
    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(_sorts("created_at", "updated_at", "received_on", "amount")),
    )


class RefundQuery(ListQuery):
    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(_sorts("created_at", "updated_at", "refunded_on")),
    )


def dump_payment(payment: Payment, business: Business) -> dict[str, Any]:
    c = payment.currency
    return {
        "id": payment.public_id,
        "client_id": payment.client.public_id,
        "received_on": payment.received_on,
        "amount": money(payment.amount_minor, c, business),
        "fee": money(payment.fee_minor, c, business),
        "method": payment.method,
        "reference": payment.reference,
        "notes": payment.notes,
        "provider": payment.provider,
        "allocations": [
            {"invoice_id": a.document.public_id, "amount": money(a.amount_minor, c, business)}
            for a in payment.allocations
        ],
        "refund_ids": [r.public_id for r in payment.refunds],
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
    }


def dump_refund(refund: Refund, business: Business, credit_note_id: str | None) -> dict[str, Any]:
    return {
        "id": refund.public_id,
        "payment_id": refund.payment.public_id if refund.payment else None,
        "credit_note_id": credit_note_id,
        "refunded_on": refund.refunded_on,
        "amount": money(refund.amount_minor, refund.currency, business),
        "reference": refund.reference,
        "created_at": refund.created_at,
        "updated_at": refund.updated_at,
    }


# ---------------------------------------------------------------------- credit notes


class CreditLineSchema(ma.Schema):
    position = Count(0, MAX_LINES, required=True, metadata={"description": "Invoice line."})
    quantity = DecimalString(
        required=True, validate=[validate.Range(min=Decimal("0.0001"), max=Decimal(1_000_000))]
    )


class CreditNoteInSchema(ma.Schema):
    invoice_id = PublicId(required=True)
    lines = fields.List(
        fields.Nested(CreditLineSchema),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=MAX_LINES),
        metadata={"description": "Omit to credit the whole invoice."},
    )
    reason = Text(max_length=500, load_default="")


class CreditIssueSchema(ma.Schema):
    apply_to_invoice = fields.Boolean(load_default=True)
    issue_date = Day(load_default=None, allow_none=True)


# ------------------------------------------------------------------------- recurring


class ScheduleInSchema(ma.Schema):
    client_id = PublicId(required=True)
    lines = fields.List(
        fields.Nested(LineInSchema), required=True, validate=validate.Length(min=1, max=MAX_LINES)
    )
    currency = Text(max_length=3, load_default=None, allow_none=True, validate=CURRENCY)
    terms_code = Text(max_length=16, load_default=None, allow_none=True)
    frequency = fields.String(
        required=True, validate=validate.OneOf(["weekly", "monthly", "quarterly", "yearly"])
    )
    interval_count = Count(1, 24, load_default=1)
    day_of_month = Count(1, 31, load_default=None, allow_none=True)
    start_date = Day(required=True)
    end_after_count = Count(1, 1000, load_default=None, allow_none=True)
    end_date = Day(load_default=None, allow_none=True)
    auto_send = fields.Boolean(load_default=False)


class ScheduleSchema(ma.Schema):
    id = fields.String(required=True)
    client_id = fields.String(required=True)
    frequency = fields.String(required=True)
    interval_count = fields.Integer(required=True)
    day_of_month = fields.Integer(required=True, allow_none=True)
    start_date = fields.Date(required=True)
    end_after_count = fields.Integer(required=True, allow_none=True)
    end_date = fields.Date(required=True, allow_none=True)
    auto_send = fields.Boolean(required=True)
    active = fields.Boolean(required=True)
    generated_count = fields.Integer(required=True)
    next_run_on = fields.Date(required=True, allow_none=True)
    currency = fields.String(required=True)
    total = Money()
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class ScheduleQuery(ListQuery):
    active = fields.Boolean(load_default=None, allow_none=True)
    client_id = PublicId(load_default=None)
    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(_sorts("created_at", "updated_at", "next_run_on")),
    )


def dump_schedule(schedule: RecurringSchedule, business: Business) -> dict[str, Any]:
    template = schedule.template
    return {
        "id": schedule.public_id,
        "client_id": schedule.client.public_id,
        "frequency": schedule.frequency,
        "interval_count": schedule.interval_count,
        "day_of_month": schedule.day_of_month,
        "start_date": schedule.start_date,
        "end_after_count": schedule.end_after_count,
        "end_date": schedule.end_date,
        "auto_send": schedule.auto_send,
        "active": schedule.active,
        "generated_count": schedule.generated_count,
        "next_run_on": schedule.next_run_on,
        "currency": template.currency,
        "total": money(template.total_minor, template.currency, business),
        "created_at": schedule.created_at,
        "updated_at": schedule.updated_at,
    }


# --------------------------------------------------------------------------- reports


class PeriodQuery(ma.Schema):
    start = Day(required=True)
    end = Day(required=True)

    @ma.validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data["start"] > data["end"]:
            raise ma.ValidationError("The start comes after the end.", "start")
        if (data["end"] - data["start"]).days > 3700:
            raise ma.ValidationError("Ten years at most.", "end")


class RevenueQuery(PeriodQuery):
    by = fields.String(load_default="client", validate=validate.OneOf(["client", "product"]))


class AgeingQuery(ma.Schema):
    as_of = Day(load_default=None, metadata={"description": "Today where the business is."})


class ReportColumnSchema(ma.Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    kind = fields.String(required=True)


class ReportSchema(ma.Schema):
    title = fields.String(required=True)
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    base_currency = fields.String(required=True)
    columns = fields.List(fields.Nested(ReportColumnSchema), required=True)
    rows = fields.List(
        fields.Dict(keys=fields.String()),
        required=True,
        metadata={"description": "One object per row, keyed by column; amounts as money."},
    )
    totals = fields.List(fields.Dict(keys=fields.String()), required=True)


class AgeingBucketSchema(ma.Schema):
    label = fields.String(required=True)
    count = fields.Integer(required=True)
    balance = Money()


class AgeingSchema(ma.Schema):
    as_of = fields.Date(required=True)
    buckets = fields.List(fields.Nested(AgeingBucketSchema), required=True)
    total = Money()


def cell(value: Any, business: Business) -> Any:
    if isinstance(value, MoneyValue):
        return money(value.minor, value.currency, business)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


MAX_PRICE_MINOR = int(MAX_PRICE) * 1000
