"""Compare what an e-invoice states with what the billing engine computes from its lines.

Each disagreement is reported under the EN 16931 rule it breaks (BR-CO-10 .. BR-CO-17, the
per-category base rules such as BR-S-08, and the line net rule PEPPOL-EN16931-R120), with both
figures as decimal strings so the sender can see which number to fix.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from portal.billing.money import Money, Rounding
from portal.billing.tax import CATEGORIES
from portal.billing.totals import DocumentTotals, compute_totals
from portal.einvoice.source import ParsedInvoice, StatedTotals

__all__ = ["CheckReport", "Violation", "check_invoice"]


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    field: str
    stated: str | None
    computed: str | None


@dataclass(frozen=True, slots=True)
class CheckReport:
    syntax: str
    stated: dict[str, Any]
    computed: dict[str, Any]
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_json(self) -> dict[str, Any]:
        return {
            "syntax": self.syntax,
            "stated": self.stated,
            "computed": self.computed,
            "violations": [dataclasses.asdict(violation) for violation in self.violations],
        }


def _text(value: Decimal | Money | None) -> str | None:
    if value is None:
        return None
    return str(value.to_decimal() if isinstance(value, Money) else value)


_TOTALS = (
    # (field, rule, absent means zero)
    ("sum_of_line_nets", "BR-CO-10", False),
    ("allowance_total", "BR-CO-11", True),
    ("charge_total", "BR-CO-12", True),
    ("tax_exclusive", "BR-CO-13", False),
    ("tax_total", "BR-CO-14", True),
    ("tax_inclusive", "BR-CO-15", False),
    ("amount_due", "BR-CO-16", False),
)
_INPUTS = ("prepaid", "rounding")


def _stated_json(stated: StatedTotals, currency: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "currency": currency,
        "lines": [{"net": _text(net)} for net in stated.line_nets],
    }
    for name in (*(field for field, _, _ in _TOTALS), *_INPUTS):
        result[name] = _text(getattr(stated, name))
    result["breakdown"] = [
        {
            "category": row.category,
            "percent": str(row.percent),
            "base": str(row.base),
            "tax": str(row.tax),
        }
        for row in stated.breakdown
    ]
    return result


def _computed_json(totals: DocumentTotals) -> dict[str, Any]:
    result: dict[str, Any] = {
        "currency": totals.currency,
        "lines": [{"net": _text(line.net)} for line in totals.lines],
    }
    for name in (*(field for field, _, _ in _TOTALS), *_INPUTS):
        result[name] = _text(getattr(totals, name))
    result["breakdown"] = [
        {
            "category": row.category,
            "percent": str(row.percent),
            "base": _text(row.base),
            "tax": _text(row.tax),
        }
        for row in totals.breakdown
    ]
    return result


def _breakdown_violations(stated: StatedTotals, totals: DocumentTotals) -> list[Violation]:
    """Match rows on (category, rate); a row on one side only is compared against nothing."""
    stated_rows: dict[tuple[str, Decimal], tuple[Decimal, Decimal]] = {}
    for row in stated.breakdown:
        base, tax = stated_rows.get((row.category, row.percent), (Decimal(0), Decimal(0)))
        stated_rows[(row.category, row.percent)] = (base + row.base, tax + row.tax)
    computed_rows = {
        (row.category, row.percent): (row.base.to_decimal(), row.tax.to_decimal())
        for row in totals.breakdown
    }
    violations = []
    for key in [*computed_rows, *(key for key in stated_rows if key not in computed_rows)]:
        category, percent = key
        label = f"breakdown[{category} {percent}%]"
        stated_row = stated_rows.get(key)
        computed_row = computed_rows.get(key)
        if stated_row is None or computed_row is None:
            violations.append(
                Violation(
                    rule=f"BR-{CATEGORIES[category]}-08",
                    field=f"{label}.base",
                    stated=_text(stated_row[0] if stated_row else None),
                    computed=_text(computed_row[0] if computed_row else None),
                )
            )
            continue
        if stated_row[0] != computed_row[0]:
            violations.append(
                Violation(
                    f"BR-{CATEGORIES[category]}-08",
                    f"{label}.base",
                    _text(stated_row[0]),
                    _text(computed_row[0]),
                )
            )
        if stated_row[1] != computed_row[1]:
            violations.append(
                Violation("BR-CO-17", f"{label}.tax", _text(stated_row[1]), _text(computed_row[1]))
            )
    return violations


def check_invoice(parsed: ParsedInvoice, rounding: Rounding = Rounding.HALF_UP) -> CheckReport:
    """Recompute ``parsed`` with the engine and list every stated figure that disagrees.

    Raises ``BillingError`` when the engine refuses the document's data (a line allowance
    larger than the line, say).
    """
    document = dataclasses.replace(parsed.document, rounding_mode=rounding)
    totals = compute_totals(document)
    stated = parsed.stated
    violations: list[Violation] = []

    for number, (stated_net, line) in enumerate(
        zip(stated.line_nets, totals.lines, strict=True), start=1
    ):
        if stated_net != line.net.to_decimal():
            violations.append(
                Violation(
                    "PEPPOL-EN16931-R120",
                    f"lines[{number}].net",
                    _text(stated_net),
                    _text(line.net),
                )
            )
    for name, rule, absent_means_zero in _TOTALS:
        stated_value: Decimal | None = getattr(stated, name)
        computed_value: Money = getattr(totals, name)
        compared = Decimal(0) if stated_value is None and absent_means_zero else stated_value
        if compared != computed_value.to_decimal():
            violations.append(Violation(rule, name, _text(stated_value), _text(computed_value)))
    violations.extend(_breakdown_violations(stated, totals))

    return CheckReport(
        syntax=parsed.syntax,
        stated=_stated_json(stated, document.currency),
        computed=_computed_json(totals),
        violations=tuple(violations),
    )
