"""Check an e-invoice's structure before trusting its figures, and list every problem at once.

Each problem names the EN 16931 business rule it breaks (``BR-06``), or the code list or schema
rule, and the element by XPath, so the sender knows exactly what to fix. The reader in
``ubl.py``/``cii.py`` stops at the first unreadable element; this walks the whole tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from xml.etree.ElementTree import Element

from portal.billing.money import is_known_currency
from portal.einvoice.check import CheckReport
from portal.einvoice.details import CII_NS, UBL_NS, parse_date

__all__ = ["ERROR", "WARNING", "Problem", "structure_problems", "totals_problems"]

ERROR = "error"
WARNING = "warning"

_UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
_UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
_UBL_EXTENSIONS = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
_ROOTS = {
    "Invoice": _UBL_INVOICE,
    "CreditNote": _UBL_CREDIT_NOTE,
    "CrossIndustryInvoice": CII_NS["rsm"],
}
_PREFIXES = {uri: prefix for prefix, uri in {**UBL_NS, **CII_NS}.items()}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_NUMERIC_SUFFIXES = ("Amount", "Quantity", "Percent", "MultiplierFactorNumeric")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an e-invoice: the rule, where, and what."""

    rule: str
    field: str
    message: str
    severity: str = ERROR

    def as_json(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
        }


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _step(tag: str, root_namespace: str) -> str:
    namespace, local = _split(tag)
    if namespace == root_namespace:
        return local
    prefix = _PREFIXES.get(namespace)
    return f"{prefix}:{local}" if prefix else tag


def _walk(element: Element, path: str, root_namespace: str) -> Iterator[tuple[str, Element]]:
    yield path, element
    counts: dict[str, int] = {}
    for child in element:
        counts[child.tag] = counts.get(child.tag, 0) + 1
    seen: dict[str, int] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions
        seen[child.tag] = seen.get(child.tag, 0) + 1
        step = _step(child.tag, root_namespace)
        if counts[child.tag] > 1:
            step += f"[{seen[child.tag]}]"
        yield from _walk(child, f"{path}/{step}", root_namespace)


# (path below the root or the line, rule, what it is)
_UBL_HEADER = (
    ("cbc:ID", "BR-02", "Invoice number (BT-1)"),
    ("cbc:IssueDate", "BR-03", "Issue date (BT-2)"),
    ("{type}", "BR-04", "Invoice type code (BT-3)"),
    ("cbc:DocumentCurrencyCode", "BR-05", "Invoice currency code (BT-5)"),
    (
        "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
        "BR-06",
        "Seller name (BT-27)",
    ),
    (
        "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
        "BR-07",
        "Buyer name (BT-44)",
    ),
    ("cac:AccountingSupplierParty/cac:Party/cac:PostalAddress", "BR-08", "Seller address (BG-5)"),
    (
        "cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
        "BR-09",
        "Seller country code (BT-40)",
    ),
    ("cac:AccountingCustomerParty/cac:Party/cac:PostalAddress", "BR-10", "Buyer address (BG-8)"),
    (
        "cac:AccountingCustomerParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
        "BR-11",
        "Buyer country code (BT-55)",
    ),
    ("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "BR-12", "Sum of line nets (BT-106)"),
    ("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", "BR-13", "Total without VAT (BT-109)"),
    ("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "BR-14", "Total with VAT (BT-112)"),
    ("cac:LegalMonetaryTotal/cbc:PayableAmount", "BR-15", "Amount due (BT-115)"),
    ("cac:TaxTotal/cac:TaxSubtotal", "BR-CO-18", "VAT breakdown (BG-23)"),
)
_UBL_LINE = (
    ("cbc:ID", "BR-21", "Line identifier (BT-126)"),
    ("{quantity}", "BR-22", "Invoiced quantity (BT-129)"),
    ("cbc:LineExtensionAmount", "BR-24", "Line net amount (BT-131)"),
    ("cac:Item/cbc:Name", "BR-25", "Item name (BT-153)"),
    ("cac:Price/cbc:PriceAmount", "BR-26", "Item net price (BT-146)"),
    ("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "BR-CO-04", "Line VAT category (BT-151)"),
)
_CII_AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
_CII_SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
_CII_SUMMATION = f"{_CII_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
_CII_HEADER = (
    ("rsm:ExchangedDocument/ram:ID", "BR-02", "Invoice number (BT-1)"),
    ("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", "BR-03", "Issue date (BT-2)"),
    ("rsm:ExchangedDocument/ram:TypeCode", "BR-04", "Invoice type code (BT-3)"),
    (f"{_CII_SETTLEMENT}/ram:InvoiceCurrencyCode", "BR-05", "Invoice currency code (BT-5)"),
    (f"{_CII_AGREEMENT}/ram:SellerTradeParty/ram:Name", "BR-06", "Seller name (BT-27)"),
    (f"{_CII_AGREEMENT}/ram:BuyerTradeParty/ram:Name", "BR-07", "Buyer name (BT-44)"),
    (
        f"{_CII_AGREEMENT}/ram:SellerTradeParty/ram:PostalTradeAddress",
        "BR-08",
        "Seller address (BG-5)",
    ),
    (
        f"{_CII_AGREEMENT}/ram:SellerTradeParty/ram:PostalTradeAddress/ram:CountryID",
        "BR-09",
        "Seller country code (BT-40)",
    ),
    (
        f"{_CII_AGREEMENT}/ram:BuyerTradeParty/ram:PostalTradeAddress",
        "BR-10",
        "Buyer address (BG-8)",
    ),
    (
        f"{_CII_AGREEMENT}/ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID",
        "BR-11",
        "Buyer country code (BT-55)",
    ),
    (f"{_CII_SUMMATION}/ram:LineTotalAmount", "BR-12", "Sum of line nets (BT-106)"),
    (f"{_CII_SUMMATION}/ram:TaxBasisTotalAmount", "BR-13", "Total without VAT (BT-109)"),
    (f"{_CII_SUMMATION}/ram:GrandTotalAmount", "BR-14", "Total with VAT (BT-112)"),
    (f"{_CII_SUMMATION}/ram:DuePayableAmount", "BR-15", "Amount due (BT-115)"),
    (f"{_CII_SETTLEMENT}/ram:ApplicableTradeTax", "BR-CO-18", "VAT breakdown (BG-23)"),
)
_CII_LINE = (
    ("ram:AssociatedDocumentLineDocument/ram:LineID", "BR-21", "Line identifier (BT-126)"),
    ("ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", "BR-22", "Invoiced quantity (BT-129)"),
    (
        "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
        "/ram:LineTotalAmount",
        "BR-24",
        "Line net amount (BT-131)",
    ),
    ("ram:SpecifiedTradeProduct/ram:Name", "BR-25", "Item name (BT-153)"),
    (
        "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
        "BR-26",
        "Item net price (BT-146)",
    ),
    (
        "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode",
        "BR-CO-04",
        "Line VAT category (BT-151)",
    ),
)


def _missing(parent: Element, path: str, namespaces: dict[str, str]) -> bool:
    found = parent.find(path, namespaces)
    if found is None:
        return True
    return len(found) == 0 and not (found.text or "").strip()


def _namespace_problems(root: Element, root_name: str) -> list[Problem]:
    namespace, local = _split(root.tag)
    expected = _ROOTS[local]
    if namespace != expected:
        return [
            Problem(
                "namespace",
                f"/{local}",
                f"The root element {local} is in namespace {namespace or '(none)'!r}; "
                f"expected {expected!r}.",
            )
        ]
    allowed = {expected, *(UBL_NS if local != "CrossIndustryInvoice" else CII_NS).values()}
    problems: list[Problem] = []
    reported: set[str] = set()
    for path, element in _walk(root, f"/{root_name}", expected):
        element_namespace, element_local = _split(element.tag)
        if element_namespace == _UBL_EXTENSIONS:
            continue
        if element_namespace not in allowed and element_namespace not in reported:
            reported.add(element_namespace)
            problems.append(
                Problem(
                    "namespace",
                    path,
                    f"{element_local} is in namespace {element_namespace or '(none)'!r}, "
                    "which this syntax does not use: check the xmlns declarations.",
                )
            )
    return problems


def _required(
    root: Element,
    root_name: str,
    header: tuple[tuple[str, str, str], ...],
    line_path: str,
    line_rules: tuple[tuple[str, str, str], ...],
    namespaces: dict[str, str],
    replacements: dict[str, str],
) -> list[Problem]:
    problems: list[Problem] = []
    for path, rule, label in header:
        path = replacements.get(path, path)
        if _missing(root, path, namespaces):
            problems.append(Problem(rule, f"/{root_name}/{path}", f"{label} is missing."))
    lines = root.findall(line_path, namespaces)
    if not lines:
        problems.append(
            Problem("BR-16", f"/{root_name}/{line_path}", "An invoice needs at least one line.")
        )
    for number, line in enumerate(lines, start=1):
        for path, rule, label in line_rules:
            path = replacements.get(path, path)
            if _missing(line, path, namespaces):
                problems.append(
                    Problem(
                        rule,
                        f"/{root_name}/{line_path}[{number}]/{path}",
                        f"Line {number}: {label} is missing.",
                    )
                )
        quantity = line.find(replacements.get("{quantity}", "{quantity}"), namespaces)
        if quantity is not None and not quantity.get("unitCode"):
            problems.append(
                Problem(
                    "BR-23",
                    f"/{root_name}/{line_path}[{number}]/{_step(quantity.tag, '')}/@unitCode",
                    f"Line {number}: the unit of measure (BT-130) is missing.",
                )
            )
    return problems


def _value_problems(root: Element, root_name: str, currency: str, credit: bool) -> list[Problem]:
    """Numbers that are not numbers, amounts in another currency, negative credited quantities."""
    problems: list[Problem] = []
    namespace = _split(root.tag)[0]
    tax_currency = (
        root.findtext("cbc:TaxCurrencyCode", "", UBL_NS)
        or root.findtext(f"{_CII_SETTLEMENT}/ram:TaxCurrencyCode", "", CII_NS)
    ).strip()
    for path, element in _walk(root, f"/{root_name}", namespace):
        if len(element):
            continue
        local = _split(element.tag)[1]
        text = (element.text or "").strip()
        if local.endswith(_NUMERIC_SUFFIXES) and text and not _NUMBER.fullmatch(text):
            problems.append(Problem("schema", path, f"{text!r} is not a number."))
            continue
        code = element.get("currencyID")
        if code is not None and currency:
            if not is_known_currency(code):
                problems.append(
                    Problem("BR-CL-03", f"{path}/@currencyID", f"{code!r} is not an ISO 4217 code.")
                )
            elif code != currency and not (
                code == tax_currency and local in ("TaxAmount", "TaxTotalAmount")
            ):
                problems.append(
                    Problem(
                        "PEPPOL-EN16931-R051",
                        f"{path}/@currencyID",
                        f"This amount is in {code} but the invoice currency (BT-5) is {currency}.",
                    )
                )
        if not text or not _NUMBER.fullmatch(text):
            continue
        value = Decimal(text)
        if credit and local in ("CreditedQuantity", "BilledQuantity") and value < 0:
            problems.append(
                Problem(
                    "quantity",
                    path,
                    f"A credit note credits positive quantities; {text} would charge the buyer "
                    "instead. Send an invoice for what is charged.",
                )
            )
        if local in ("PriceAmount", "ChargeAmount") and "Price" in path and value < 0:
            problems.append(
                Problem("BR-27", path, f"The item net price (BT-146) must not be negative: {text}.")
            )
        if local in ("BaseQuantity", "BasisQuantity") and value <= 0:
            problems.append(
                Problem(
                    "PEPPOL-EN16931-R121",
                    path,
                    f"The base quantity (BT-149) must be greater than zero: {text}.",
                )
            )
    return problems


def structure_problems(root: Element) -> list[Problem]:
    """Every structural problem of a UBL Invoice/CreditNote or CII root (known local name)."""
    local = _split(root.tag)[1]
    if problems := _namespace_problems(root, local):
        return problems
    if local == "CrossIndustryInvoice":
        problems = _required(
            root,
            local,
            _CII_HEADER,
            "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem",
            _CII_LINE,
            CII_NS,
            {"{quantity}": "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"},
        )
        currency = root.findtext(f"{_CII_SETTLEMENT}/ram:InvoiceCurrencyCode", "", CII_NS)
        currency_path = f"/{local}/{_CII_SETTLEMENT}/ram:InvoiceCurrencyCode"
        issue = root.findtext(
            "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", "", CII_NS
        )
        issue_path = f"/{local}/rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"
        issue_date = parse_date(issue.strip(), compact=True)
        credit = root.findtext("rsm:ExchangedDocument/ram:TypeCode", "", CII_NS).strip() == "381"
    else:
        credit = local == "CreditNote"
        problems = _required(
            root,
            local,
            _UBL_HEADER,
            "cac:CreditNoteLine" if credit else "cac:InvoiceLine",
            _UBL_LINE,
            UBL_NS,
            {
                "{type}": "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode",
                "{quantity}": "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity",
            },
        )
        currency = root.findtext("cbc:DocumentCurrencyCode", "", UBL_NS)
        currency_path = f"/{local}/cbc:DocumentCurrencyCode"
        issue = root.findtext("cbc:IssueDate", "", UBL_NS)
        issue_path = f"/{local}/cbc:IssueDate"
        issue_date = parse_date(issue.strip())
        credit = credit or root.findtext("cbc:InvoiceTypeCode", "", UBL_NS).strip() == "381"
    currency = currency.strip()
    if issue.strip() and issue_date is None:
        problems.append(Problem("BR-03", issue_path, f"{issue.strip()!r} is not a valid date."))
    if currency and not is_known_currency(currency):
        problems.append(
            Problem("BR-CL-04", currency_path, f"{currency!r} is not an ISO 4217 currency code.")
        )
        currency = ""
    problems.extend(_value_problems(root, local, currency, credit))
    return problems


def totals_problems(report: CheckReport) -> list[Problem]:
    """The totals check's disagreements, one problem each."""
    return [
        Problem(
            violation.rule,
            violation.field,
            f"The invoice states {violation.stated or 'nothing'} "
            f"but its lines come to {violation.computed or 'nothing'}.",
        )
        for violation in report.violations
    ]
