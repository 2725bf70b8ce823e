"""Quotes: send one, record the client's answer, let it expire, and turn it into invoices.

An accepted quote becomes either one invoice (``convert_quote``) or a deposit invoice and later a
final invoice (``convert_quote_with_deposit`` then ``create_final_invoice``). The final invoice
shows the whole supply and deducts the deposit net with its own tax rates, the way EU VAT rules
want advance payments invoiced: the tax on the deposit is declared once, on the deposit invoice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from portal.billing.errors import BillingError
from portal.billing.money import Money, require_minor
from portal.billing.quotes import QuoteStatus, can_transition, deposit_split, is_expired
from portal.billing.status import InvoiceStatus
from portal.extensions import db
from portal.models import Business, Document, DocumentAdjustment, DocumentKind, DocumentLine, Role
from portal.models.base import utcnow
from portal.services import audit, documents, notifications, pricing
from portal.services.actors import Actor
from portal.services.errors import InvalidInput

MAX_NAME = 120


def _quote(actor: Actor, public_id: str) -> Document:
    """The quote, locked until the transaction ends so two clicks cannot both act on it."""
    quote = documents.get_document(actor, public_id, DocumentKind.QUOTE)
    db.session.refresh(quote, with_for_update=True)
    return quote


def _refuse_move(quote: Document, target: QuoteStatus) -> None:
    if can_transition(quote.status, target):
        return
    status = QuoteStatus(quote.status)
    if status is QuoteStatus.DRAFT:
        message = "Send the quote before recording the client's answer."
    elif target is QuoteStatus.SENT:
        message = "This quote was already sent."
    elif status is QuoteStatus.EXPIRED:
        message = _expired_message(quote)
    else:
        message = f"The client already {status.value} this quote."
    raise InvalidInput({"document": message})


def _expired_message(quote: Document) -> str:
    when = f" on {quote.valid_until.isoformat()}" if quote.valid_until else ""
    return f"This quote expired{when}; send a new one."


def send_quote(
    actor: Actor, public_id: str, on: date | None = None, exchange_rate: Decimal | None = None
) -> Document:
    """Number the quote, date it and mark it sent; its amounts are frozen from now on."""
    actor.require(Role.STAFF)
    quote = _quote(actor, public_id)
    _refuse_move(quote, QuoteStatus.SENT)
    sent_on = on or quote.issue_date or pricing.business_today(actor.business)
    if quote.valid_until is not None and quote.valid_until < sent_on:
        raise InvalidInput(
            {
                "valid_until": (
                    f"The quote would arrive expired: it is valid until "
                    f"{quote.valid_until.isoformat()}."
                )
            }
        )
    if exchange_rate is not None:
        if exchange_rate <= 0:
            raise InvalidInput({"exchange_rate": "An exchange rate must be greater than 0."})
        quote.exchange_rate = exchange_rate
    try:
        documents.assign_number(actor, quote, sent_on)
    except InvalidInput:
        db.session.rollback()
        raise
    quote.status = QuoteStatus.SENT
    quote.sent_at = utcnow()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="quote.sent",
        entity_type="quote",
        entity_id=quote.public_id,
        after={
            "number": quote.number,
            "total_minor": quote.total_minor,
            "valid_until": quote.valid_until,
        },
    )
    db.session.commit()
    return quote


def _decide(actor: Actor, public_id: str, target: QuoteStatus) -> Document:
    actor.require(Role.STAFF)
    quote = _quote(actor, public_id)
    _refuse_move(quote, target)
    today = pricing.business_today(actor.business)
    if is_expired(quote.valid_until, today, quote.status):
        raise InvalidInput({"document": _expired_message(quote)})
    return quote


def accept_quote(actor: Actor, public_id: str, accepted_by_name: str) -> Document:
    """Record that the client accepted, and who said so, while the quote is still valid."""
    quote = _decide(actor, public_id, QuoteStatus.ACCEPTED)
    name = accepted_by_name.strip()
    if not name:
        raise InvalidInput({"accepted_by_name": "Enter the name of the person who accepted."})
    if len(name) > MAX_NAME:
        raise InvalidInput({"accepted_by_name": f"Keep the name to {MAX_NAME} characters."})
    quote.status = QuoteStatus.ACCEPTED
    quote.decided_at = utcnow()
    # The audit log is where the acceptance is kept as evidence; the document has no column for it.
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="quote.accepted",
        entity_type="quote",
        entity_id=quote.public_id,
        after={"status": quote.status, "accepted_by": name},
    )
    total = str(Money(quote.total_minor, quote.currency))
    told = notifications.notify(
        actor.business,
        "quote.accepted",
        {
            "id": quote.public_id,
            "title": f"Quote {quote.number} accepted",
            "text": f"{quote.client.name} ({name}) accepted {total}.",
            "url": f"/app/quotes/{quote.public_id}",
        },
    )
    db.session.commit()
    notifications.dispatch(told)
    return quote


def decline_quote(actor: Actor, public_id: str, reason: str = "") -> Document:
    """Record that the client declined; a reason is kept when the client gave one."""
    quote = _decide(actor, public_id, QuoteStatus.DECLINED)
    quote.status = QuoteStatus.DECLINED
    quote.decided_at = utcnow()
    quote.close_reason = reason.strip()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="quote.declined",
        entity_type="quote",
        entity_id=quote.public_id,
        after={"status": quote.status, "reason": quote.close_reason},
    )
    db.session.commit()
    return quote


def expire_quotes(actor_or_business: Actor | Business, today: date) -> list[Document]:
    """Mark sent quotes whose validity ended before ``today`` as expired; a second run finds none.

    A job passes the business (the change is then recorded with no person); a person passes
    themselves. ``today`` is the date in the business's time zone.
    """
    if isinstance(actor_or_business, Actor):
        actor_or_business.require(Role.STAFF)
        business, user = actor_or_business.business, actor_or_business.user
    else:
        business, user = actor_or_business, None
    candidates = db.session.scalars(
        select(Document)
        .where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.QUOTE,
            Document.status == QuoteStatus.SENT,
            Document.valid_until < today,
        )
        .order_by(Document.id)
        .with_for_update()
    ).all()
    expired = [q for q in candidates if is_expired(q.valid_until, today, q.status)]
    for quote in expired:
        quote.status = QuoteStatus.EXPIRED
        quote.decided_at = utcnow()
        audit.record(
            business=business,
            actor=user,
            action="quote.expired",
            entity_type="quote",
            entity_id=quote.public_id,
            after={"status": quote.status, "valid_until": quote.valid_until},
        )
    db.session.commit()
    return expired


# Turning a quote into invoices


def invoices_from(quote: Document) -> list[Document]:
    """The invoices made from this quote that still count (a voided one can be made again)."""
    return list(
        db.session.scalars(
            select(Document)
            .where(
                Document.source_quote_id == quote.id,
                Document.kind == DocumentKind.INVOICE,
                Document.status != InvoiceStatus.VOID,
            )
            .order_by(Document.id)
        )
    )


def _invoice_name(invoice: Document) -> str:
    return invoice.number or "a draft invoice"


def _refuse_conversion(quote: Document) -> None:
    if quote.status != QuoteStatus.ACCEPTED:
        raise InvalidInput({"document": "Only an accepted quote can become an invoice."})
    made = invoices_from(quote)
    if made:
        raise InvalidInput(
            {"document": f"This quote was already converted to {_invoice_name(made[0])}."}
        )


def _invoice_from(quote: Document) -> Document:
    """A draft invoice for the quote's client, in its currency, terms and rounding."""
    return Document(
        business_id=quote.business_id,
        kind=DocumentKind.INVOICE,
        status=documents.DRAFT,
        client_id=quote.client_id,
        client=quote.client,
        currency=quote.currency,
        terms_code=quote.terms_code,
        rounding_mode=quote.rounding_mode,
        title=quote.title,
        notes=quote.notes,
        footer=quote.footer,
        po_number=quote.po_number,
        prepaid=Decimal(0),
        custom_fields=dict(quote.custom_fields),
        source_quote_id=quote.id,
    )


def _copy_lines(quote: Document, invoice: Document) -> None:
    """The quote's lines and adjustments with the tax rates as they were when quoted."""
    for line in quote.lines:
        invoice.lines.append(pricing.copy_line(line, len(invoice.lines)))
    for adj in quote.adjustments:
        invoice.adjustments.append(
            DocumentAdjustment(
                position=adj.position,
                kind=adj.kind,
                reason=adj.reason,
                amount=adj.amount,
                taxes=[dict(t) for t in adj.taxes],
            )
        )


def _store(actor: Actor, quote: Document, invoice: Document, how: str) -> Document:
    pricing.price(invoice)
    db.session.add(invoice)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="invoice.created",
        entity_type="invoice",
        entity_id=invoice.public_id,
        after={**documents.snapshot(invoice), "source_quote": quote.number},
    )
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="quote.converted",
        entity_type="quote",
        entity_id=quote.public_id,
        after={"invoice": invoice.public_id, "as": how},
    )
    db.session.commit()
    return invoice


def convert_quote(actor: Actor, public_id: str) -> Document:
    """A draft invoice with everything the accepted quote holds; a quote converts once."""
    actor.require(Role.STAFF)
    quote = _quote(actor, public_id)
    _refuse_conversion(quote)
    invoice = _invoice_from(quote)
    _copy_lines(quote, invoice)
    return _store(actor, quote, invoice, "invoice")


def _tax_label(taxes: list[dict[str, Any]]) -> str:
    names = [str(t.get("name") or f"{t['category']} {t['percent']}%") for t in taxes]
    return f" ({', '.join(names)})" if names else ""


def _tax_groups(quote: Document) -> list[tuple[list[dict[str, Any]], int]]:
    """The quote's net per combination of tax rates, in order of first appearance.

    With one rate per line these are exactly the rows of the tax breakdown; grouping by the
    whole combination also keeps untaxed lines and stacked (compound) rates exact.
    """
    groups: dict[pricing.TaxKey, tuple[list[dict[str, Any]], int]] = {}

    def add(taxes: list[dict[str, Any]], minor: int) -> None:
        key = pricing.tax_key(taxes)
        known, net = groups.get(key, (taxes, 0))
        groups[key] = (known, net + minor)

    for line in quote.lines:
        add(line.taxes, line.net_minor)
    for adj in quote.adjustments:
        minor = require_minor(Decimal(adj.amount), "amount", quote.currency)
        add(adj.taxes, -minor if adj.kind == "allowance" else minor)
    return list(groups.values())


def _percent_label(percent: Decimal) -> str:
    return format(percent.normalize(), "f")


def convert_quote_with_deposit(actor: Actor, public_id: str, percent: Decimal) -> Document:
    """A draft deposit invoice for ``percent`` of the accepted quote's net, one line per tax rate.

    The deposit is ``percent`` of the quote's net rounded once, spread over the tax rates in
    proportion to their share, so the lines add up to it exactly; each line keeps its rate.
    """
    actor.require(Role.STAFF)
    quote = _quote(actor, public_id)
    if not Decimal(0) < percent <= Decimal(100):
        raise InvalidInput({"percent": "Enter a percentage above 0 and up to 100."})
    if percent != percent.quantize(Decimal("0.01")):
        raise InvalidInput({"percent": "Enter a percentage with at most two decimals."})
    _refuse_conversion(quote)
    groups = [(taxes, net) for taxes, net in _tax_groups(quote) if net]
    if not groups:
        raise InvalidInput({"document": "This quote comes to nothing, so there is no deposit."})
    try:
        parts = deposit_split(
            [Money(net, quote.currency) for _, net in groups],
            percent,
            pricing.ROUNDING[quote.rounding_mode],
        )
    except BillingError as exc:
        raise InvalidInput(
            {"document": "A discount here is larger than the lines it applies to; no deposit."}
        ) from exc
    invoice = _invoice_from(quote)
    invoice.is_deposit = True
    for (taxes, _), part in zip(groups, parts, strict=True):
        if not part:
            continue
        invoice.lines.append(
            DocumentLine(
                position=len(invoice.lines),
                description=(
                    f"Deposit {_percent_label(percent)} % of quote {quote.number}"
                    f"{_tax_label(taxes)}"
                ),
                quantity=Decimal(1),
                unit_price=part.to_decimal(),
                base_quantity=Decimal(1),
                charge_amount=Decimal(0),
                price_includes_tax=False,
                taxes=[dict(t) for t in taxes],
            )
        )
    return _store(actor, quote, invoice, f"deposit {_percent_label(percent)} %")


def create_final_invoice(actor: Actor, quote_id: str) -> Document:
    """The draft invoice for the whole quote less its issued deposit invoice.

    Every quote line is repeated, then each deposit line is deducted (quantity -1, same net,
    same tax rates), so the tax breakdown shows what is still taxable and the deposit's tax is
    not charged twice.
    """
    actor.require(Role.STAFF)
    quote = _quote(actor, quote_id)
    if quote.status != QuoteStatus.ACCEPTED:
        raise InvalidInput({"document": "Only an accepted quote can become an invoice."})
    made = invoices_from(quote)
    deposit = next((d for d in made if d.is_deposit), None)
    if deposit is None:
        raise InvalidInput(
            {"document": "This quote has no deposit invoice; convert it with a deposit first."}
        )
    final = next((d for d in made if not d.is_deposit), None)
    if final is not None:
        raise InvalidInput(
            {"document": f"This quote was already converted to {_invoice_name(final)}."}
        )
    if deposit.status == documents.DRAFT:
        raise InvalidInput({"document": "Issue the deposit invoice first."})
    invoice = _invoice_from(quote)
    invoice.deposit_invoice_id = deposit.id
    _copy_lines(quote, invoice)
    for line in deposit.lines:
        invoice.lines.append(
            DocumentLine(
                position=len(invoice.lines),
                description=f"Less deposit invoice {deposit.number}{_tax_label(line.taxes)}",
                quantity=Decimal(-1),
                unit_price=Money(line.net_minor, deposit.currency).to_decimal(),
                base_quantity=Decimal(1),
                charge_amount=Decimal(0),
                price_includes_tax=False,
                taxes=[dict(t) for t in line.taxes],
            )
        )
    # Each invoice rounds its own tax per rate, so the two can differ from the quote by a cent
    # per rate; a rounding amount (BT-114) makes the final invoice settle the quote exactly.
    pricing.price(invoice)
    gap = quote.amount_due_minor - deposit.total_minor - invoice.amount_due_minor
    if 0 < abs(gap) <= max(len(invoice.breakdown), 1):
        invoice.rounding_minor = gap
    return _store(actor, quote, invoice, f"final after {deposit.number}")
