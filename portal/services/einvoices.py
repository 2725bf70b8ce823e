"""E-invoices: write our issued documents as UBL, XRechnung and CII; import e-invoices.

An import is one of two things: a supplier's invoice addressed to us (kept as a
``ReceivedDocument`` with its check report), or an e-invoice we exported ourselves (drafted again
for the matching client). Anything else, and anything with a blocking problem, writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from portal.billing.money import Money, exponent
from portal.billing.terms import PaymentTerms, TermsKind
from portal.einvoice.check import CheckReport
from portal.einvoice.export import EInvoiceExportError, Header, LineText, einvoice_data
from portal.einvoice.intake import Inspection, inspect_einvoice
from portal.einvoice.model import Address, EInvoiceData, Party
from portal.einvoice.source import EInvoiceReadError, ParsedInvoice
from portal.einvoice.units import unit_code, unit_label
from portal.einvoice.validate import Problem
from portal.einvoice.write_cii import cii_xml
from portal.einvoice.write_ubl import ubl_xml, xrechnung_xml
from portal.extensions import db
from portal.models import (
    Business,
    Client,
    Document,
    DocumentKind,
    Membership,
    Product,
    ReceivedDocument,
    Role,
    TaxRate,
)
from portal.services import audit, documents, pricing
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound, ServiceError

__all__ = [
    "Export",
    "ImportResult",
    "NotExportable",
    "data_for",
    "export_document",
    "get_received",
    "import_einvoice",
    "list_received",
]

FORMATS = {
    "ubl": ("UBL 2.1", ubl_xml),
    "xrechnung": ("XRechnung", xrechnung_xml),
    "cii": ("CII (Factur-X)", cii_xml),
}

IMPORTED = "imported"
REFUSED = "refused"
UNREADABLE = "unreadable"


class NotExportable(ServiceError):
    """This document cannot be written as an e-invoice (a draft, a quote, two taxes on a line)."""


@dataclass(frozen=True, slots=True)
class Export:
    filename: str
    data: bytes
    media_type: str = "application/xml"


# ---------------------------------------------------------------------------------- export


def _owner(business: Business) -> Any:
    membership = db.session.scalar(
        select(Membership)
        .where(Membership.business_id == business.id, Membership.role == Role.OWNER)
        .order_by(Membership.id)
        .limit(1)
    )
    return None if membership is None else membership.user


def _seller(business: Business) -> Party:
    owner = _owner(business)
    return Party(
        name=business.legal_name,
        address=Address(
            line1=business.address_line1,
            line2=business.address_line2,
            city=business.city,
            postal_code=business.postal_code,
            country=business.country,
        ),
        tax_id=business.tax_id,
        email=owner.email if owner is not None else "",
        contact_name=owner.name if owner is not None else "",
    )


def _buyer(client: Client) -> Party:
    return Party(
        name=client.name,
        address=Address(
            line1=client.billing_line1,
            line2=client.billing_line2,
            city=client.billing_city,
            postal_code=client.billing_postal_code,
            country=client.billing_country,
        ),
        tax_id=client.tax_id,
        email=client.email or "",
        phone=client.phone,
    )


def _terms(code: str) -> str:
    """BT-20 in words: "Net 30 days", "End of month plus 10 days", "Due on receipt"."""
    try:
        terms = PaymentTerms.parse(code)
    except ValueError:
        return code
    if terms.kind is TermsKind.ON_RECEIPT:
        return "Due on receipt"
    if terms.kind is TermsKind.END_OF_MONTH:
        return f"End of month plus {terms.days} days" if terms.days else "End of month"
    return f"Net {terms.days} days"


def data_for(document: Document) -> EInvoiceData:
    """The neutral e-invoice for an issued invoice or credit note.

    Raises ``NotExportable`` for a draft, a quote, or a document EN 16931 cannot express.
    """
    if document.kind not in (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE):
        raise NotExportable("Only invoices and credit notes can be sent as e-invoices.")
    if document.status == documents.DRAFT or document.number is None or not document.issue_date:
        raise NotExportable(
            f"This {document.kind.value.replace('_', ' ')} is still a draft: issue it first, "
            "so it has a number and a date an e-invoice needs."
        )
    business = db.session.get_one(Business, document.business_id)
    if not business.country:
        raise NotExportable(
            "An e-invoice needs the seller's country (BR-09): add it in the business settings."
        )
    if not document.client.billing_country:
        raise NotExportable(
            f"An e-invoice needs the buyer's country (BR-11): add a billing country to "
            f"{document.client.name}."
        )
    product_names = {
        product.id: product.name
        for product in db.session.scalars(
            select(Product).where(
                Product.id.in_([line.product_id for line in document.lines if line.product_id])
            )
        )
    }
    texts = []
    for line in document.lines:
        first, _, rest = line.description.strip().partition("\n")
        name = first.strip() or product_names.get(line.product_id or 0, "") or "Item"
        texts.append(LineText(name=name, description=rest.strip(), unit_code=unit_code(line.unit)))
    preceding = None
    if document.credited_invoice_id is not None:
        preceding = db.session.get(Document, document.credited_invoice_id)
    header = Header(
        is_credit_note=document.kind is DocumentKind.CREDIT_NOTE,
        number=document.number,
        issue_date=document.issue_date,
        seller=_seller(business),
        buyer=_buyer(document.client),
        due_date=document.due_date,
        po_number=document.po_number,
        note=document.notes.strip(),
        payment_terms=_terms(document.terms_code) if document.kind is DocumentKind.INVOICE else "",
        payment_instructions=business.payment_instructions.strip(),
        preceding_invoice=preceding.number or "" if preceding is not None else "",
        preceding_invoice_date=preceding.issue_date if preceding is not None else None,
    )
    try:
        data = einvoice_data(header, pricing.document_input(document), texts)
    except EInvoiceExportError as exc:
        raise NotExportable(str(exc)) from exc
    stated = Money(document.amount_due_minor, document.currency).to_decimal()
    if data.totals.amount_due != stated:
        raise NotExportable(
            f"The e-invoice would come to {data.totals.amount_due} but the document says "
            f"{stated}; it cannot be exported."
        )
    return data


def export_document(actor: Actor, public_id: str, fmt: str) -> Export:
    """``fmt`` is ``ubl``, ``xrechnung`` or ``cii``; raises ``NotExportable`` with the reason."""
    actor.require(Role.VIEWER)
    if fmt not in FORMATS:
        raise NotFound("No such e-invoice format.")
    document = documents.get_document(actor, public_id)
    data = data_for(document)
    try:
        xml = FORMATS[fmt][1](data)
    except ValueError as exc:
        raise NotExportable(str(exc)) from exc
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in data.number)
    return Export(filename=f"{safe}-{fmt}.xml", data=xml)


# ---------------------------------------------------------------------------------- import


@dataclass(frozen=True, slots=True)
class ImportResult:
    status: str  # imported, refused, unreadable
    message: str
    problems: tuple[Problem, ...] = ()
    inspection: Inspection | None = None
    received: ReceivedDocument | None = None
    document: Document | None = None

    @property
    def imported(self) -> bool:
        return self.status == IMPORTED

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "status": self.status,
            "message": self.message,
            "problems": [problem.as_json() for problem in self.problems],
        }
        if self.inspection is not None:
            result["invoice"] = self.inspection.as_json()
        if self.received is not None:
            result["received"] = self.received.public_id
        if self.document is not None:
            result["draft"] = self.document.public_id
            result["kind"] = self.document.kind.value
        return result


def _compact(tax_id: str) -> str:
    return "".join(c for c in tax_id.upper() if c.isalnum())


def _is_us(business: Business, party: Party) -> bool:
    ours = _compact(business.tax_id)
    if ours and _compact(party.tax_id) == ours:
        return True
    return bool(party.name.strip()) and party.name.strip().casefold() == (
        business.legal_name.strip().casefold()
    )


def _minor(value: str, currency: str) -> int:
    return int(Decimal(value).scaleb(exponent(currency)))


def _refused(message: str, problems: list[Problem], inspection: Inspection) -> ImportResult:
    db.session.rollback()
    return ImportResult(REFUSED, message, tuple(problems), inspection)


def _receive(
    actor: Actor, filename: str, data: bytes, inspection: Inspection, report: CheckReport
) -> ImportResult:
    details = inspection.details
    supplier_tax = _compact(details.seller.tax_id)
    duplicate = db.session.scalar(
        select(ReceivedDocument).where(
            ReceivedDocument.business_id == actor.business.id,
            ReceivedDocument.number == details.number,
            func.lower(ReceivedDocument.supplier_name) == details.seller.name.lower(),
        )
    )
    if duplicate is not None:
        problem = Problem(
            "BT-1",
            "number",
            f"Invoice {details.number} from {details.seller.name} was already imported.",
        )
        return _refused("Already imported.", [problem], inspection)
    computed = report.computed
    currency = details.currency
    received = ReceivedDocument(
        business_id=actor.business.id,
        source_format=inspection.source_format,
        supplier_name=details.seller.name[:200],
        supplier_tax_id=(supplier_tax or details.seller.tax_id)[:50],
        number=details.number[:60],
        issue_date=details.issue_date,
        currency=currency,
        tax_minor=_minor(computed["tax_total"], currency),
        total_minor=_minor(computed["tax_inclusive"], currency),
        amount_due_minor=_minor(computed["amount_due"], currency),
        report={"filename": filename, **inspection.as_json()},
        source=data,
    )
    db.session.add(received)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="einvoice.received",
        entity_type="received_document",
        entity_id=received.public_id,
        after={
            "supplier": received.supplier_name,
            "number": received.number,
            "total_minor": received.total_minor,
            "currency": currency,
        },
    )
    db.session.commit()
    message = f"Supplier invoice {details.number} from {details.seller.name} received."
    return ImportResult(IMPORTED, message, inspection.problems, inspection, received=received)


def _client_for(actor: Actor, party: Party, currency: str) -> Client:
    """The client the buyer names: same tax id, else email, else name; otherwise a new one."""
    business_id = actor.business.id
    candidates = []
    if _compact(party.tax_id):
        candidates = [
            c
            for c in db.session.scalars(
                select(Client).where(Client.business_id == business_id, Client.tax_id != "")
            )
            if _compact(c.tax_id) == _compact(party.tax_id)
        ]
    if not candidates and party.email:
        candidates = list(
            db.session.scalars(
                select(Client).where(
                    Client.business_id == business_id, Client.email == party.email.lower()
                )
            )
        )
    if not candidates:
        candidates = list(
            db.session.scalars(
                select(Client).where(
                    Client.business_id == business_id,
                    Client.sort_name == party.name.strip().lower(),
                )
            )
        )
    if candidates:
        return candidates[0]
    client = Client(
        business_id=business_id,
        name=party.name.strip()[:200],
        sort_name=party.name.strip().lower()[:200],
        email=party.email.strip().lower() or None,
        phone=party.phone[:40],
        tax_id=party.tax_id[:50],
        currency=currency,
        billing_line1=party.address.line1[:200],
        billing_line2=party.address.line2[:200],
        billing_city=party.address.city[:100],
        billing_postal_code=party.address.postal_code[:20],
        billing_country=party.address.country[:2],
    )
    db.session.add(client)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="client.created",
        entity_type="client",
        entity_id=client.public_id,
        after={"name": client.name, "source": "e-invoice import"},
    )
    return client


def _rate_ids(
    actor: Actor, category: str, percent: Decimal, cache: dict[Any, Any]
) -> tuple[str, ...]:
    """Our tax rate for a VAT category and percentage; one is created when none matches."""
    key = (category, percent)
    if key in cache:
        return tuple(cache[key])
    rates = db.session.scalars(
        select(TaxRate)
        .where(
            TaxRate.business_id == actor.business.id,
            TaxRate.category == category,
            TaxRate.compound.is_(False),
            TaxRate.archived_at.is_(None),
        )
        .order_by(TaxRate.id)
    )
    found = next((r for r in rates if Decimal(r.rate) == percent), None)
    if found is None and category == "O" and percent == 0:
        cache[key] = ()  # how we export a line without tax
        return ()
    if found is None:
        label = format(percent.normalize(), "f")
        name = f"VAT {label}%" if category == "S" else f"VAT {label}% ({category})"
        taken = db.session.scalar(
            select(TaxRate.id).where(TaxRate.business_id == actor.business.id, TaxRate.name == name)
        )
        found = TaxRate(
            business_id=actor.business.id,
            name=f"{name} imported" if taken else name,
            rate=percent,
            category=category,
            compound=False,
        )
        db.session.add(found)
        db.session.flush()
        audit.record(
            business=actor.business,
            actor=actor.user,
            action="tax_rate.created",
            entity_type="tax_rate",
            entity_id=found.public_id,
            after={"name": found.name, "rate": label, "category": category},
        )
    cache[key] = (found.public_id,)
    return tuple(cache[key])


def _redraft(
    actor: Actor, inspection: Inspection, parsed: ParsedInvoice, report: CheckReport
) -> ImportResult:
    """Our own e-invoice back as a draft for the client it names."""
    details = inspection.details
    document_input = parsed.document
    kind = DocumentKind.CREDIT_NOTE if details.is_credit_note else DocumentKind.INVOICE
    credited: Document | None = None
    if kind is DocumentKind.CREDIT_NOTE:
        credited = db.session.scalar(
            select(Document).where(
                Document.business_id == actor.business.id,
                Document.kind == DocumentKind.INVOICE,
                Document.number == details.preceding_invoice,
            )
        )
        if credited is None:
            problem = Problem(
                "BT-25",
                "preceding invoice",
                f"The credit note refers to invoice {details.preceding_invoice or '(none)'}, "
                "which this business does not have.",
            )
            return _refused("Refused: the credited invoice is unknown.", [problem], inspection)
    client = _client_for(actor, details.buyer, details.currency)
    cache: dict[Any, Any] = {}

    def ids(taxes: tuple[Any, ...]) -> tuple[str, ...]:
        return tuple(
            i for t in taxes for i in _rate_ids(actor, t.category, Decimal(t.percent), cache)
        )

    lines = []
    for line, text in zip(document_input.lines, details.lines, strict=True):
        description = text.name if not text.description else f"{text.name}\n{text.description}"
        lines.append(
            documents.LineData(
                description=description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                unit=unit_label(text.unit_code),
                base_quantity=line.base_quantity,
                discount_amount=line.discount_amount or None,
                charge_amount=line.charge_amount,
                tax_rate_ids=ids(line.taxes),
            )
        )
    adjustments = [
        documents.AdjustmentData("allowance", a.amount, a.reason, ids(a.taxes))
        for a in document_input.allowances
    ] + [
        documents.AdjustmentData("charge", c.amount, c.reason, ids(c.taxes))
        for c in document_input.charges
    ]
    data = documents.DraftData(
        client_id=client.public_id,
        lines=tuple(lines),
        currency=details.currency,
        notes=details.note,
        po_number=(details.buyer_reference or details.order_reference)[:60],
        prepaid=document_input.prepaid,
        adjustments=tuple(adjustments),
    )
    doc = Document(
        business_id=actor.business.id,
        kind=kind,
        status=documents.DRAFT,
        rounding_mode=actor.business.rounding_mode,
        credited_invoice_id=credited.id if credited is not None else None,
        rounding_minor=_minor(str(document_input.rounding_adjustment or 0), details.currency),
    )
    if credited is not None:
        doc.title = f"Credit note for invoice {credited.number}"
    db.session.add(doc)
    try:
        documents.fill_draft(actor, doc, data)
        db.session.flush()
    except InvalidInput as exc:
        problems = [Problem("draft", name, message) for name, message in exc.errors.items()]
        return _refused("Refused: the draft could not be created.", problems, inspection)
    expected = _minor(report.computed["amount_due"], details.currency)
    if doc.amount_due_minor != expected:
        problem = Problem(
            "BR-CO-16",
            "amount_due",
            f"The draft comes to {Money(doc.amount_due_minor, doc.currency)} but the e-invoice "
            f"to {Money(expected, details.currency)}.",
        )
        return _refused("Refused: the totals would change.", [problem], inspection)
    audit.record(
        business=actor.business,
        actor=actor.user,
        action=f"{kind.value}.created",
        entity_type=kind.value,
        entity_id=doc.public_id,
        after={**documents.snapshot(doc), "source": f"e-invoice {details.number}"},
    )
    db.session.commit()
    label = "credit note" if kind is DocumentKind.CREDIT_NOTE else "invoice"
    message = f"Our own {label} {details.number} was drafted again for {client.name}."
    return ImportResult(IMPORTED, message, inspection.problems, inspection, document=doc)


MAX_NAME = 255


def bare_name(filename: str) -> str:
    """The file's own name as it is kept: no folders (a browser may send them, a caller may
    mean harm), no control characters, no leading dots, at most ``MAX_NAME`` characters with
    the extension kept."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip().lstrip(".")
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        extension = f".{extension[:16]}" if dot and stem else ""
        name = name[: MAX_NAME - len(extension)] if not extension else stem
        name = name[: MAX_NAME - len(extension)] + extension
    return name or "upload"


def import_einvoice(actor: Actor, filename: str, data: bytes) -> ImportResult:
    """Import a UBL or CII XML file or a Factur-X PDF; see the module docstring.

    ``status`` is ``unreadable`` (not an e-invoice at all), ``refused`` (problems, or not ours
    to import) or ``imported``; ``problems`` lists every problem found, warnings included.
    """
    actor.require(Role.ACCOUNTANT)
    filename = bare_name(filename)
    try:
        inspection = inspect_einvoice(filename, data)
    except EInvoiceReadError as exc:
        problem = Problem("file", filename, str(exc).rstrip(".") + ".")
        return ImportResult(UNREADABLE, "The file is not a readable e-invoice.", (problem,))
    if errors := inspection.errors:
        count = len(errors)
        noun = "problem" if count == 1 else "problems"
        message = f"Refused: {count} {noun} must be fixed by the sender."
        return ImportResult(REFUSED, message, inspection.problems, inspection)
    details = inspection.details
    business = actor.business
    parsed, report = inspection.parsed, inspection.check
    if parsed is None or report is None:  # unreachable: reading failures are errors above
        return ImportResult(UNREADABLE, "The file is not a readable e-invoice.")
    if _is_us(business, details.seller):
        return _redraft(actor, inspection, parsed, report)
    if _is_us(business, details.buyer):
        return _receive(actor, filename, data, inspection, report)
    buyer = details.buyer.name or "(no name)"
    tax = f" ({details.buyer.tax_id})" if details.buyer.tax_id else ""
    problem = Problem(
        "BT-44",
        "buyer",
        f"This invoice is from {details.seller.name or '(no name)'} to {buyer}{tax}; neither is "
        f"{business.legal_name}{f' ({business.tax_id})' if business.tax_id else ''}.",
    )
    return ImportResult(
        REFUSED, "Refused: the invoice is not addressed to this business.", (problem,), inspection
    )


# ---------------------------------------------------------------------------------- received


def list_received(actor: Actor, limit: int = 100) -> list[ReceivedDocument]:
    actor.require(Role.VIEWER)
    return list(
        db.session.scalars(
            select(ReceivedDocument)
            .where(ReceivedDocument.business_id == actor.business.id)
            .order_by(ReceivedDocument.created_at.desc(), ReceivedDocument.id.desc())
            .limit(limit)
        )
    )


def get_received(actor: Actor, public_id: str) -> ReceivedDocument:
    actor.require(Role.VIEWER)
    received = db.session.scalar(
        select(ReceivedDocument).where(
            ReceivedDocument.business_id == actor.business.id,
            ReceivedDocument.public_id == public_id,
        )
    )
    if received is None:
        raise NotFound("No such received document.")
    return received
