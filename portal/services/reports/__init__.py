"""Money reports for a period: one module per report, one entry point here.

Reading money reports needs the accountant role or higher, as the other pages about money do
(experiments' results, tax rates' editing); viewers and staff see invoices one by one only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from portal.extensions import db
from portal.models import Business, Client, Role
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound
from portal.services.reports import fees, payments, register, revenue, statement, tax
from portal.services.reports.tables import Period, Report

__all__ = ["REPORTS", "ReportKind", "build_report", "clients_for", "count_rows", "kind_of"]

READ_ROLE = Role.ACCOUNTANT


@dataclass(frozen=True, slots=True)
class ReportKind:
    slug: str
    title: str
    summary: str
    build: Callable[[Business, Period], Report] | None = None
    count: Callable[[Business, Period], int] | None = None
    needs_client: bool = False


REPORTS: dict[str, ReportKind] = {
    kind.slug: kind
    for kind in (
        ReportKind(
            register.SLUG,
            register.TITLE,
            "Every invoice issued: net, tax, total, paid, credited and balance.",
            register.build,
            register.count,
        ),
        ReportKind(
            payments.SLUG,
            payments.TITLE,
            "Payments received: method, provider, invoices paid, fee and net.",
            payments.build,
            payments.count,
        ),
        ReportKind(
            tax.SLUG,
            tax.TITLE,
            "Tax on invoices less credit notes, per month and tax rate.",
            tax.build,
            tax.count,
        ),
        ReportKind(
            statement.SLUG,
            statement.TITLE,
            "One client's opening balance, documents, payments, refunds and closing balance.",
            needs_client=True,
        ),
        ReportKind(
            revenue.CLIENT_SLUG,
            "Revenue by client",
            "Net revenue per client, converted to the base currency.",
            revenue.by_client,
            revenue.count_by_client,
        ),
        ReportKind(
            revenue.PRODUCT_SLUG,
            "Revenue by product",
            "Net revenue per product, converted to the base currency.",
            revenue.by_product,
            revenue.count_by_product,
        ),
        ReportKind(
            fees.SLUG,
            fees.TITLE,
            "Payments received, less provider fees, less refunds, per month and provider.",
            fees.build,
            fees.count,
        ),
    )
}


def kind_of(slug: str) -> ReportKind:
    kind = REPORTS.get(slug)
    if kind is None:
        raise NotFound("No such report.")
    return kind


def clients_for(actor: Actor) -> list[Client]:
    return list(
        db.session.scalars(
            select(Client)
            .where(Client.business_id == actor.business.id)
            .order_by(Client.sort_name, Client.id)
        )
    )


def _client(actor: Actor, public_id: str | None) -> Client:
    if not public_id:
        raise InvalidInput({"client": "Choose a client."})
    found = db.session.scalar(
        select(Client).where(Client.public_id == public_id, Client.business_id == actor.business.id)
    )
    if found is None:
        raise InvalidInput({"client": "Choose one of your clients."})
    return found


def build_report(actor: Actor, slug: str, period: Period, client_id: str | None = None) -> Report:
    """The report as the page, the CSV and the Excel file show it."""
    actor.require(READ_ROLE)
    kind = kind_of(slug)
    if kind.build is None:
        return statement.build(actor.business, _client(actor, client_id), period)
    return kind.build(actor.business, period)


def count_rows(actor: Actor, slug: str, period: Period, client_id: str | None = None) -> int:
    """About how many records the report reads: big ones are exported by a job."""
    actor.require(READ_ROLE)
    kind = kind_of(slug)
    if kind.count is None:
        return statement.count(_client(actor, client_id))
    return kind.count(actor.business, period)
