"""ShareEnvelopes in and out: invoices, clients and payments as envelopes, and envelopes
imported through the existing services.

An import reads in three steps and writes in one transaction: the envelope is checked (schema,
money, attachments, signature); then everything it refers to is looked up (tax rates, invoice
numbers, clients); only then are the services called, inside one outer database transaction
whose savepoints the services' own commits release. Any refusal leaves nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn, cast

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from integrations import envelope as env
from integrations.envelope import Envelope, Problem, VerifyKey
from integrations.envelope.core import currency_exponent, payloads
from portal.extensions import db
from portal.models import (
    Client,
    Document,
    DocumentKind,
    Payment,
    PaymentAllocation,
    Role,
    TaxRate,
)
from portal.services import clients, documents, payments
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, ServiceError

SYSTEM = "invoice-lite"
PdfFor = Callable[[Document], bytes | None]


def no_pdf(document: Document) -> bytes | None:
    """Until the PDF renderer is wired in, exported invoices carry no PDF."""
    return None


class EnvelopeRefused(ServiceError):
    """The envelope was not imported; ``problems`` say where and why, nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.pointer or '/'}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Imported:
    kind: str  # "client", "invoice" or "payment"
    public_id: str
    label: str
    created: bool = True  # False: an existing client was found by email


@dataclass(frozen=True, slots=True)
class ImportResult:
    envelope_id: str
    type: str
    items: tuple[Imported, ...]


def configured_keys() -> dict[str, VerifyKey]:
    """Verification keys from ``ENVELOPE_KEYS``: ``{key_id: "hmac:<b64>" | "ed25519:<b64>"}``."""
    if not has_app_context():
        return {}
    raw = current_app.config.get("ENVELOPE_KEYS", {}) or {}
    if isinstance(raw, str):
        raw = json.loads(raw)
    return env.parse_keys(raw)


# --- export ----------------------------------------------------------------------------


def _decimal(value: Decimal | int | None) -> str | None:
    if value is None:
        return None
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def _address(client: Client, prefix: str) -> dict[str, str]:
    return {
        "line1": getattr(client, f"{prefix}_line1"),
        "line2": getattr(client, f"{prefix}_line2"),
        "city": getattr(client, f"{prefix}_city"),
        "postal_code": getattr(client, f"{prefix}_postal_code"),
        "country": getattr(client, f"{prefix}_country"),
    }


def client_payload(client: Client, *, full: bool = True) -> dict[str, Any]:
    """The client as a payload; ``full=False`` is the summary an invoice or payment carries."""
    data: dict[str, Any] = {
        "id": client.public_id,
        "name": client.name,
        "email": client.email or "",
        "tax_id": client.tax_id,
        "currency": client.currency,
        "payment_terms_days": client.payment_terms_days,
        "language": client.language,
        "billing_address": _address(client, "billing"),
    }
    if full:
        data |= {
            "phone": client.phone,
            "notes": client.notes,
            "shipping_address": _address(client, "shipping"),
            "tags": [t.name for t in client.tags],
            "contacts": [
                {"name": c.name, "email": c.email, "phone": c.phone, "primary": c.is_primary}
                for c in client.contacts
            ],
        }
    return data


def _taxes(taxes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": str(t.get("name", "")),
            "category": str(t["category"]),
            "percent": _decimal(Decimal(str(t["percent"]))),
            "compound": bool(t.get("compound", False)),
        }
        for t in taxes
    ]


def invoice_payload(doc: Document) -> dict[str, Any]:
    cur = doc.currency

    def m(minor: int) -> dict[str, Any]:
        return env.money(minor, cur)

    return {
        "id": doc.public_id,
        "number": doc.number,
        "status": doc.status,
        "currency": cur,
        "issue_date": doc.issue_date.isoformat() if doc.issue_date else None,
        "due_date": doc.due_date.isoformat() if doc.due_date else None,
        "title": doc.title,
        "notes": doc.notes,
        "footer": doc.footer,
        "po_number": doc.po_number,
        "terms_code": doc.terms_code,
        "prepaid": _decimal(doc.prepaid),
        "client": client_payload(doc.client, full=False),
        "lines": [
            {
                "description": line.description,
                "unit": line.unit,
                "quantity": _decimal(line.quantity),
                "unit_price": _decimal(line.unit_price),
                "base_quantity": _decimal(line.base_quantity),
                "discount_percent": _decimal(line.discount_percent),
                "discount_amount": _decimal(line.discount_amount),
                "charge_amount": _decimal(line.charge_amount),
                "price_includes_tax": line.price_includes_tax,
                "taxes": _taxes(line.taxes),
                "net": m(line.net_minor),
                "total": m(line.total_minor),
            }
            for line in doc.lines
        ],
        "adjustments": [
            {
                "kind": a.kind,
                "reason": a.reason,
                "amount": _decimal(a.amount),
                "taxes": _taxes(a.taxes),
            }
            for a in doc.adjustments
        ],
        "taxes": [
            {
                "category": row["category"],
                "percent": _decimal(Decimal(str(row["percent"]))),
                "name": row.get("name", ""),
                "compound": bool(row.get("compound", False)),
                "base": m(int(row["base_minor"])),
                "tax": m(int(row["tax_minor"])),
            }
            for row in doc.breakdown
        ],
        "totals": {
            "net": m(doc.net_minor),
            "tax": m(doc.tax_minor),
            "total": m(doc.total_minor),
            "amount_due": m(doc.amount_due_minor),
            "rounding": m(doc.rounding_minor),
            "balance": m(doc.balance_minor),
        },
    }


def payment_payload(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.public_id,
        "received_on": payment.received_on.isoformat(),
        "amount": env.money(payment.amount_minor, payment.currency),
        "method": payment.method,
        "reference": payment.reference,
        "notes": payment.notes,
        "client": client_payload(payment.client, full=False),
        "allocations": [
            {
                "invoice_id": a.document.public_id,
                "invoice_number": a.document.number or "",
                "amount": env.money(a.amount_minor, payment.currency),
            }
            for a in payment.allocations
        ],
    }


def _build(actor: Actor, kind: env.EnvelopeType, payload: dict[str, Any], **kw: Any) -> Envelope:
    return env.build_envelope(
        kind,
        payload,
        system=SYSTEM,
        business_id=actor.business.public_id,
        source_extra={"business_name": actor.business.legal_name},
        **kw,
    )


def export_client(actor: Actor, public_id: str) -> Envelope:
    return _build(actor, "client", client_payload(clients.get_client(actor, public_id)))


def export_invoice(actor: Actor, public_id: str, pdf_for: PdfFor = no_pdf) -> Envelope:
    doc = documents.get_document(actor, public_id, DocumentKind.INVOICE)
    attachments = []
    pdf = pdf_for(doc)
    if pdf is not None:
        name = f"{doc.number or 'draft-' + doc.public_id}.pdf"
        attachments.append(env.encode_attachment(name, "application/pdf", pdf))
    return _build(actor, "invoice", invoice_payload(doc), attachments=attachments)


def export_payments(actor: Actor, start: date, end: date) -> Envelope:
    """Payments received from ``start`` to ``end``, both included, with their allocations."""
    if end < start:
        raise InvalidInput({"to": "The end of the period is before its start."})
    found = db.session.scalars(
        select(Payment)
        .where(
            Payment.business_id == actor.business.id,
            Payment.received_on >= start,
            Payment.received_on <= end,
        )
        .options(
            selectinload(Payment.client),
            selectinload(Payment.allocations).selectinload(PaymentAllocation.document),
        )
        .order_by(Payment.received_on, Payment.id)
    )
    payload = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "payments": [payment_payload(p) for p in found],
    }
    return _build(actor, "payments", payload)


# --- import ----------------------------------------------------------------------------

Step = Callable[[], list[Imported]]


def import_envelope(
    actor: Actor,
    raw: bytes | str,
    *,
    allow_unsigned: bool = False,
    keys: Mapping[str, VerifyKey] | None = None,
) -> ImportResult:
    """Create what the envelope holds, or raise ``EnvelopeRefused`` having written nothing."""
    actor.require(Role.STAFF)
    keys = configured_keys() if keys is None else keys
    problems = env.check(raw, keys, require_signature=not allow_unsigned)
    if problems:
        raise EnvelopeRefused(problems)
    doc, _ = env.parse(raw)
    parts = payloads(doc)
    if any(kind == "payments" for kind, _, _ in parts):
        actor.require(Role.ACCOUNTANT)
    steps: list[Step] = []
    for kind, path, payload in parts:
        base = env.pointer(*path)
        if kind == "client":
            steps.append(_client_step(actor, base, payload))
        elif kind == "invoice":
            steps.append(_invoice_step(actor, base, payload, problems))
        elif kind == "payments":
            steps.append(_payments_step(actor, base, payload, problems))
    if problems:
        raise EnvelopeRefused(problems)
    items: list[Imported] = []
    with _one_transaction():
        for step in steps:
            items += step()
    return ImportResult(str(doc["id"]), str(doc["type"]), tuple(items))


@contextmanager
def _one_transaction() -> Iterator[None]:
    """Run service calls in one transaction: their commits release savepoints of it.

    A session joins an outer transaction on its own connection ("create_savepoint"), and is
    made the current ``db.session`` meanwhile, so the services run unchanged.
    """
    db.session.commit()  # end the caller's read transaction; nothing of ours is pending
    outer_session = db.session()
    connection = db.engine.connect()
    outer = connection.begin()
    # A plain Session: Flask-SQLAlchemy's picks the engine, not the connection it is given.
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    db.session.registry.set(cast(Any, session))
    try:
        yield
        session.flush()
        outer.commit()
    except BaseException:
        outer.rollback()
        raise
    finally:
        session.close()
        connection.close()
        db.session.registry.set(outer_session)
        # Reading the actor's rows meanwhile opened a transaction whose snapshot predates ours.
        outer_session.commit()


def _refuse(base: str, error: InvalidInput, rename: Mapping[str, str] | None = None) -> NoReturn:
    problems = []
    for field, message in error.errors.items():
        parts: list[str | int] = []
        for piece in field.split("-"):
            piece = (rename or {}).get(piece, piece)
            parts.append(int(piece) if piece.isdigit() else piece)
        problems.append(Problem(base + env.pointer(*parts), "import.refused", message))
    raise EnvelopeRefused(problems)


def _client_data(data: Mapping[str, Any]) -> clients.ClientData:
    billing = data.get("billing_address") or {}
    shipping = data.get("shipping_address") or {}
    return clients.ClientData(
        name=data["name"],
        currency=data["currency"],
        email=data.get("email", ""),
        phone=data.get("phone", ""),
        tax_id=data.get("tax_id", ""),
        payment_terms_days=data.get("payment_terms_days", 30),
        language=data.get("language", "en") or "en",
        notes=data.get("notes", ""),
        billing_line1=billing.get("line1", ""),
        billing_line2=billing.get("line2", ""),
        billing_city=billing.get("city", ""),
        billing_postal_code=billing.get("postal_code", ""),
        billing_country=billing.get("country", ""),
        shipping_line1=shipping.get("line1", ""),
        shipping_line2=shipping.get("line2", ""),
        shipping_city=shipping.get("city", ""),
        shipping_postal_code=shipping.get("postal_code", ""),
        shipping_country=shipping.get("country", ""),
        tags=tuple(data.get("tags", ())),
        contacts=tuple(
            clients.ContactData(
                name=c["name"],
                email=c.get("email", ""),
                phone=c.get("phone", ""),
                is_primary=bool(c.get("primary", False)),
            )
            for c in data.get("contacts", ())
        ),
    )


def _client_by_email(actor: Actor, email: str) -> Client | None:
    email = email.strip().lower()
    if not email:
        return None
    return db.session.scalar(
        select(Client).where(Client.business_id == actor.business.id, Client.email == email)
    )


def _find_or_create_client(actor: Actor, base: str, data: Mapping[str, Any]) -> Imported:
    found = _client_by_email(actor, data.get("email", ""))
    if found is not None:
        return Imported("client", found.public_id, found.name, created=False)
    try:
        client = clients.create_client(actor, _client_data(data))
    except InvalidInput as error:
        _refuse(base, error)
    return Imported("client", client.public_id, client.name)


def _client_step(actor: Actor, base: str, payload: Mapping[str, Any]) -> Step:
    return lambda: [_find_or_create_client(actor, base, payload)]


def _match_rates(
    actor: Actor, taxes: list[dict[str, Any]], where: str, problems: list[Problem]
) -> tuple[str, ...]:
    ids = []
    for tax in taxes:
        percent = Decimal(tax["percent"])
        candidates = list(
            db.session.scalars(
                select(TaxRate)
                .where(
                    TaxRate.business_id == actor.business.id,
                    TaxRate.category == tax["category"],
                    TaxRate.rate == percent,
                    TaxRate.archived_at.is_(None),
                )
                .order_by(TaxRate.id)
            )
        )
        # Same category and percent decide; the name and compounding only break ties.
        candidates.sort(
            key=lambda r: (
                r.compound != bool(tax.get("compound", False)),
                r.name != tax.get("name", ""),
            )
        )
        if not candidates:
            problems.append(
                Problem(
                    where,
                    "tax.unmatched",
                    f"no tax rate of category {tax['category']} at {tax['percent']} % in this "
                    "business; add one under Tax rates",
                )
            )
            continue
        ids.append(candidates[0].public_id)
    return tuple(ids)


def _optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _invoice_step(
    actor: Actor, base: str, payload: Mapping[str, Any], problems: list[Problem]
) -> Step:
    lines = [
        documents.LineData(
            description=line["description"],
            quantity=Decimal(line["quantity"]),
            unit_price=Decimal(line["unit_price"]),
            unit=line.get("unit", ""),
            base_quantity=Decimal(line.get("base_quantity", "1")),
            discount_percent=_optional_decimal(line.get("discount_percent")),
            discount_amount=_optional_decimal(line.get("discount_amount")),
            charge_amount=Decimal(line.get("charge_amount", "0")),
            price_includes_tax=bool(line.get("price_includes_tax", False)),
            tax_rate_ids=_match_rates(
                actor, line.get("taxes", []), f"{base}/lines/{index}", problems
            ),
        )
        for index, line in enumerate(payload["lines"])
    ]
    adjustments = [
        documents.AdjustmentData(
            kind=adj["kind"],
            amount=Decimal(adj["amount"]),
            reason=adj.get("reason", ""),
            tax_rate_ids=_match_rates(
                actor, adj.get("taxes", []), f"{base}/adjustments/{index}", problems
            ),
        )
        for index, adj in enumerate(payload.get("adjustments", []))
    ]

    def write() -> list[Imported]:
        client = _find_or_create_client(actor, f"{base}/client", payload["client"])
        data = documents.DraftData(
            client_id=client.public_id,
            lines=tuple(lines),
            adjustments=tuple(adjustments),
            currency=payload["currency"],
            title=payload.get("title", ""),
            notes=payload.get("notes", ""),
            footer=payload.get("footer", ""),
            po_number=payload.get("po_number", ""),
            terms_code=payload.get("terms_code") or None,
            prepaid=Decimal(payload.get("prepaid", "0")),
        )
        try:
            doc = documents.create_draft(actor, DocumentKind.INVOICE, data)
        except InvalidInput as error:
            _refuse(base, error, {"client_id": "client"})
        _compare_totals(base, doc, payload.get("totals"))
        label = doc.title or f"Draft invoice for {client.label}"
        return [client, Imported("invoice", doc.public_id, label)]

    return write


def _compare_totals(base: str, doc: Document, totals: Mapping[str, Any] | None) -> None:
    """A draft whose totals differ from the sender's would be a silent change: refuse it."""
    if not totals:
        return
    ours = {
        "net": doc.net_minor,
        "tax": doc.tax_minor,
        "total": doc.total_minor,
        "amount_due": doc.amount_due_minor,
    }
    problems = []
    for name, minor in ours.items():
        stated = totals.get(name)
        if stated is not None and stated["minor"] != minor:
            problems.append(
                Problem(
                    f"{base}/totals/{name}",
                    "totals.mismatch",
                    f"{name} says {stated['minor']} minor units but the lines come to {minor}",
                )
            )
    if problems:
        raise EnvelopeRefused(problems)


def _invoice_by_number(actor: Actor, number: str) -> Document | None:
    return db.session.scalar(
        select(Document).where(
            Document.business_id == actor.business.id,
            Document.kind == DocumentKind.INVOICE,
            func.lower(Document.number) == number.strip().lower(),
        )
    )


def _major(amount: Mapping[str, Any]) -> Decimal:
    return Decimal(amount["minor"]).scaleb(-currency_exponent(amount["currency"]))


def _payments_step(
    actor: Actor, base: str, payload: Mapping[str, Any], problems: list[Problem]
) -> Step:
    planned: list[tuple[str, payments.PaymentData]] = []
    for i, item in enumerate(payload["payments"]):
        here = f"{base}/payments/{i}"
        currency = item["amount"]["currency"]
        allocations = []
        owners: set[int] = set()
        client: Client | None = None
        for j, allocation in enumerate(item.get("allocations", [])):
            number = allocation["invoice_number"]
            doc = _invoice_by_number(actor, number)
            if doc is None:
                problems.append(
                    Problem(
                        f"{here}/allocations/{j}/invoice_number",
                        "invoice.unknown",
                        f"no invoice numbered {number!r} in this business",
                    )
                )
                continue
            owners.add(doc.client_id)
            client = doc.client
            amount = allocation["amount"]
            allocations.append((doc.public_id, _major(amount)))
        if len(owners) > 1:
            problems.append(
                Problem(
                    f"{here}/allocations",
                    "invoice.clients",
                    "the invoices belong to different clients; one payment comes from one client",
                )
            )
        if client is None:
            client = _client_by_email(actor, item["client"].get("email", ""))
        if client is None:
            problems.append(
                Problem(
                    f"{here}/client",
                    "client.unknown",
                    "no client of this business has this email; import the client first",
                )
            )
            continue
        amount = _major(item["amount"])
        planned.append(
            (
                here,
                payments.PaymentData(
                    client_id=client.public_id,
                    amount=amount,
                    currency=currency,
                    received_on=date.fromisoformat(item["received_on"]),
                    method=item.get("method", "bank_transfer"),
                    reference=item.get("reference", ""),
                    notes=item.get("notes", ""),
                    allocations=tuple(allocations),
                ),
            )
        )

    def write() -> list[Imported]:
        done = []
        for here, data in planned:
            try:
                payment = payments.record_payment(actor, data)
            except InvalidInput as error:
                _refuse(here, error, {"client_id": "client"})
            label = f"{data.amount} {data.currency} on {data.received_on.isoformat()}"
            done.append(Imported("payment", payment.public_id, label))
        return done

    return write
