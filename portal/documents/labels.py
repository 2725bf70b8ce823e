# ruff: noqa: RUF001  (typographic dashes and quotes are what the reader should see)
"""The words printed on documents, in the languages clients read: a small catalogue.

Dates, numbers and money are formatted by Babel; only the fixed labels live here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from babel import Locale, UnknownLocaleError

DEFAULT: Final = "en"

_EN: dict[str, str] = {
    "invoice": "Invoice",
    "quote": "Quote",
    "credit_note": "Credit note",
    "statement": "Statement",
    "number": "Number",
    "issue_date": "Issue date",
    "due_date": "Due date",
    "valid_until": "Valid until",
    "po_number": "PO number",
    "credits_invoice": "Credits invoice",
    "bill_to": "Bill to",
    "from": "From",
    "tax_id": "Tax id",
    "description": "Description",
    "quantity": "Qty",
    "unit_price": "Unit price",
    "tax": "Tax",
    "amount": "Amount",
    "net_total": "Net total",
    "total": "Total",
    "rounding": "Rounding",
    "amount_due": "Amount due",
    "paid": "Paid",
    "balance": "Balance due",
    "of": "of",
    "notes": "Notes",
    "payment_instructions": "How to pay",
    "page": "Page",
    "page_of": "of",
    "period": "Period",
    "date": "Date",
    "reference": "Reference",
    "charges": "Charges",
    "credits": "Credits",
    "running_balance": "Balance",
    "opening_balance": "Opening balance",
    "closing_balance": "Closing balance",
    "payment": "Payment",
    "refund": "Refund",
    "ageing": "Ageing",
    "current": "Current",
    "days_1_30": "1–30 days",
    "days_31_60": "31–60 days",
    "days_61_90": "61–90 days",
    "days_90_plus": "90+ days",
    "draft": "DRAFT",
    "paid_stamp": "PAID",
    "unpaid_stamp": "UNPAID",
    "overdue_stamp": "OVERDUE",
    "void_stamp": "VOID",
    "intro_invoice": "Thank you for your business, {{ client.name }}. "
    "Please pay **{{ invoice.total }}** by {{ invoice.due_date }}.",
    "intro_quote": "Dear {{ client.name }}, here is our quote {{ quote.number }}.",
    "intro_credit_note": "This credit note {{ credit_note.number }} credits "
    "**{{ credit_note.total }}** to your account.",
    "intro_statement": "Your account with us from {{ statement.from }} to {{ statement.to }}.",
}

_DE: dict[str, str] = {
    "invoice": "Rechnung",
    "quote": "Angebot",
    "credit_note": "Gutschrift",
    "statement": "Kontoauszug",
    "number": "Nummer",
    "issue_date": "Rechnungsdatum",
    "due_date": "Fällig am",
    "valid_until": "Gültig bis",
    "po_number": "Bestellnummer",
    "credits_invoice": "Zu Rechnung",
    "bill_to": "Rechnungsempfänger",
    "from": "Von",
    "tax_id": "USt-IdNr.",
    "description": "Beschreibung",
    "quantity": "Menge",
    "unit_price": "Einzelpreis",
    "tax": "USt.",
    "amount": "Betrag",
    "net_total": "Nettobetrag",
    "total": "Gesamtbetrag",
    "rounding": "Rundung",
    "amount_due": "Zu zahlen",
    "paid": "Bezahlt",
    "balance": "Offener Betrag",
    "of": "von",
    "notes": "Hinweise",
    "payment_instructions": "Zahlungsinformationen",
    "page": "Seite",
    "page_of": "von",
    "period": "Zeitraum",
    "date": "Datum",
    "reference": "Referenz",
    "charges": "Belastungen",
    "credits": "Gutschriften",
    "running_balance": "Saldo",
    "opening_balance": "Anfangssaldo",
    "closing_balance": "Endsaldo",
    "payment": "Zahlung",
    "refund": "Erstattung",
    "ageing": "Fälligkeitsstruktur",
    "current": "Nicht fällig",
    "days_1_30": "1–30 Tage",
    "days_31_60": "31–60 Tage",
    "days_61_90": "61–90 Tage",
    "days_90_plus": "über 90 Tage",
    "draft": "ENTWURF",
    "paid_stamp": "BEZAHLT",
    "unpaid_stamp": "OFFEN",
    "overdue_stamp": "ÜBERFÄLLIG",
    "void_stamp": "STORNIERT",
    "intro_invoice": "Vielen Dank für Ihren Auftrag, {{ client.name }}. "
    "Bitte zahlen Sie **{{ invoice.total }}** bis zum {{ invoice.due_date }}.",
    "intro_quote": "Sehr geehrte Damen und Herren, anbei unser Angebot {{ quote.number }}.",
    "intro_credit_note": "Mit dieser Gutschrift {{ credit_note.number }} schreiben wir Ihnen "
    "**{{ credit_note.total }}** gut.",
    "intro_statement": "Ihr Konto bei uns vom {{ statement.from }} bis {{ statement.to }}.",
}

_FR: dict[str, str] = {
    "invoice": "Facture",
    "quote": "Devis",
    "credit_note": "Avoir",
    "statement": "Relevé de compte",
    "number": "Numéro",
    "issue_date": "Date d’émission",
    "due_date": "Date d’échéance",
    "valid_until": "Valable jusqu’au",
    "po_number": "Bon de commande",
    "credits_invoice": "Facture concernée",
    "bill_to": "Facturé à",
    "from": "De",
    "tax_id": "N° TVA",
    "description": "Désignation",
    "quantity": "Qté",
    "unit_price": "Prix unitaire",
    "tax": "TVA",
    "amount": "Montant",
    "net_total": "Total HT",
    "total": "Total TTC",
    "rounding": "Arrondi",
    "amount_due": "Montant dû",
    "paid": "Payé",
    "balance": "Reste à payer",
    "of": "de",
    "notes": "Remarques",
    "payment_instructions": "Modalités de paiement",
    "page": "Page",
    "page_of": "sur",
    "period": "Période",
    "date": "Date",
    "reference": "Référence",
    "charges": "Débit",
    "credits": "Crédit",
    "running_balance": "Solde",
    "opening_balance": "Solde d’ouverture",
    "closing_balance": "Solde de clôture",
    "payment": "Paiement",
    "refund": "Remboursement",
    "ageing": "Balance âgée",
    "current": "Non échu",
    "days_1_30": "1–30 jours",
    "days_31_60": "31–60 jours",
    "days_61_90": "61–90 jours",
    "days_90_plus": "plus de 90 jours",
    "draft": "BROUILLON",
    "paid_stamp": "PAYÉE",
    "unpaid_stamp": "IMPAYÉE",
    "overdue_stamp": "EN RETARD",
    "void_stamp": "ANNULÉE",
    "intro_invoice": "Merci pour votre confiance, {{ client.name }}. "
    "Merci de régler **{{ invoice.total }}** avant le {{ invoice.due_date }}.",
    "intro_quote": "Bonjour {{ client.name }}, voici notre devis {{ quote.number }}.",
    "intro_credit_note": "Cet avoir {{ credit_note.number }} porte **{{ credit_note.total }}** "
    "au crédit de votre compte.",
    "intro_statement": "Votre compte du {{ statement.from }} au {{ statement.to }}.",
}

_ES: dict[str, str] = {
    "invoice": "Factura",
    "quote": "Presupuesto",
    "credit_note": "Factura rectificativa",
    "statement": "Extracto de cuenta",
    "number": "Número",
    "issue_date": "Fecha de emisión",
    "due_date": "Fecha de vencimiento",
    "valid_until": "Válido hasta",
    "po_number": "Pedido",
    "credits_invoice": "Factura rectificada",
    "bill_to": "Facturar a",
    "from": "De",
    "tax_id": "NIF",
    "description": "Descripción",
    "quantity": "Cant.",
    "unit_price": "Precio unitario",
    "tax": "IVA",
    "amount": "Importe",
    "net_total": "Base imponible",
    "total": "Total",
    "rounding": "Redondeo",
    "amount_due": "Importe a pagar",
    "paid": "Pagado",
    "balance": "Saldo pendiente",
    "of": "de",
    "notes": "Notas",
    "payment_instructions": "Forma de pago",
    "page": "Página",
    "page_of": "de",
    "period": "Periodo",
    "date": "Fecha",
    "reference": "Referencia",
    "charges": "Cargos",
    "credits": "Abonos",
    "running_balance": "Saldo",
    "opening_balance": "Saldo inicial",
    "closing_balance": "Saldo final",
    "payment": "Pago",
    "refund": "Reembolso",
    "ageing": "Antigüedad",
    "current": "No vencido",
    "days_1_30": "1–30 días",
    "days_31_60": "31–60 días",
    "days_61_90": "61–90 días",
    "days_90_plus": "más de 90 días",
    "draft": "BORRADOR",
    "paid_stamp": "PAGADA",
    "unpaid_stamp": "PENDIENTE",
    "overdue_stamp": "VENCIDA",
    "void_stamp": "ANULADA",
    "intro_invoice": "Gracias por su confianza, {{ client.name }}. "
    "Por favor, pague **{{ invoice.total }}** antes del {{ invoice.due_date }}.",
    "intro_quote": "Estimado/a {{ client.name }}, le enviamos nuestro presupuesto "
    "{{ quote.number }}.",
    "intro_credit_note": "Esta factura rectificativa {{ credit_note.number }} abona "
    "**{{ credit_note.total }}** en su cuenta.",
    "intro_statement": "Su cuenta del {{ statement.from }} al {{ statement.to }}.",
}

CATALOGUE: Final = MappingProxyType(
    {
        "en": MappingProxyType(_EN),
        "de": MappingProxyType(_DE),
        "fr": MappingProxyType(_FR),
        "es": MappingProxyType(_ES),
    }
)


def language_of(locale: str) -> str:
    """The catalogue language for a Babel locale (``de_AT`` → ``de``); English otherwise."""
    language = locale.replace("-", "_").split("_", 1)[0].lower()
    return language if language in CATALOGUE else DEFAULT


def labels_for(locale: str) -> MappingProxyType[str, str]:
    return CATALOGUE[language_of(locale)]


def valid_locale(value: str) -> bool:
    try:
        Locale.parse(value.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return False
    return True


def document_locale(client_language: str, business_locale: str) -> str:
    """The client's language when Babel knows it, else the business's, else English."""
    for candidate in (client_language, business_locale):
        if candidate and valid_locale(candidate):
            return candidate.replace("-", "_")
    return DEFAULT
