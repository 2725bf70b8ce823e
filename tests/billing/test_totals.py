import dataclasses
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.billing.errors import BillingError
from portal.billing.lines import LineInput
from portal.billing.money import Money, Rounding
from portal.billing.tax import TaxRate
from portal.billing.totals import (
    DocumentAllowance,
    DocumentCharge,
    DocumentInput,
    DocumentTotals,
    compute_totals,
)

PROPERTY = settings(max_examples=60, deadline=None, database=None)

VAT20 = TaxRate("S", Decimal(20), "VAT")
ZERO = TaxRate("Z", Decimal(0))


def line(quantity: str, price: str, *taxes: TaxRate, **overrides: Any) -> LineInput:
    return LineInput(
        quantity=Decimal(quantity), unit_price=Decimal(price), taxes=taxes, **overrides
    )


def totals(currency: str, *lines: LineInput, **overrides: Any) -> DocumentTotals:
    return compute_totals(DocumentInput(currency=currency, lines=lines, **overrides))


def minors(result: DocumentTotals) -> dict[str, int]:
    names = [
        "sum_of_line_nets",
        "allowance_total",
        "charge_total",
        "tax_exclusive",
        "tax_total",
        "tax_inclusive",
        "prepaid",
        "rounding",
        "amount_due",
    ]
    return {name: getattr(result, name).minor for name in names}


def rows(result: DocumentTotals) -> list[tuple[str, Decimal, int, int]]:
    return [(r.category, r.percent, r.base.minor, r.tax.minor) for r in result.breakdown]


# Worked examples, figures checked by hand.


def test_eur_invoice_with_allowance_shipping_prepaid() -> None:
    # 10 x 12.50 = 125.00 less 5.00 = 120.00; 250 x 45.00 per 100 = 112.50; book 30.00 at Z.
    # Allowance 10.00 at 20 %, shipping 8.00 at its own 10 % rate.
    # 20 %: base 222.50, tax 44.50; Z: base 30.00; 10 %: base 8.00, tax 0.80.
    shipping_rate = TaxRate("S", Decimal(10), "VAT")
    result = totals(
        "EUR",
        line("10", "12.50", VAT20, discount_amount=Decimal("5.00")),
        line("250", "45.00", VAT20, base_quantity=Decimal(100)),
        line("1", "30.00", ZERO),
        allowances=(DocumentAllowance(amount=Decimal(10), taxes=(VAT20,), reason="Loyalty"),),
        charges=(DocumentCharge(amount=Decimal(8), taxes=(shipping_rate,), reason="Shipping"),),
        prepaid=Decimal(50),
    )
    assert [(ln.amount.minor, ln.allowance.minor, ln.net.minor) for ln in result.lines] == [
        (12500, 500, 12000),
        (11250, 0, 11250),
        (3000, 0, 3000),
    ]
    assert rows(result) == [
        ("S", Decimal(20), 22250, 4450),
        ("Z", Decimal(0), 3000, 0),
        ("S", Decimal(10), 800, 80),
    ]
    assert minors(result) == {
        "sum_of_line_nets": 26250,
        "allowance_total": 1000,
        "charge_total": 800,
        "tax_exclusive": 26050,
        "tax_total": 4530,
        "tax_inclusive": 30580,
        "prepaid": 5000,
        "rounding": 0,
        "amount_due": 25580,
    }


def test_tax_is_rounded_per_rate_not_per_line() -> None:
    # Three lines of 0.10 at 25 %: per line 0.025 → 0.03 each (0.09); per rate 0.30 → 0.075 → 0.08.
    rate = TaxRate("S", Decimal(25))
    result = totals("EUR", *(line("1", "0.10", rate) for _ in range(3)))
    assert result.tax_total == Money(8, "EUR")


def test_jpy_has_no_minor_units() -> None:
    # 3 x 1234 = 3702 at 10 % → 370.2 → 370; 980 at reduced 8 % → 78.4 → 78.
    standard, reduced = TaxRate("S", Decimal(10)), TaxRate("S", Decimal(8))
    result = totals("JPY", line("3", "1234", standard), line("1", "980", reduced))
    assert rows(result) == [("S", Decimal(10), 3702, 370), ("S", Decimal(8), 980, 78)]
    assert result.tax_inclusive == Money(5130, "JPY")
    assert str(result.tax_inclusive) == "5130 JPY"


def test_kwd_has_three_places_and_the_rounding_mode_matters() -> None:
    # 2 x 12.345 = 24.690 at 5 % → 1.2345: half-up 1.235, half-even 1.234.
    rate = TaxRate("S", Decimal(5))
    half_up = totals("KWD", line("2", "12.345", rate))
    half_even = totals("KWD", line("2", "12.345", rate), rounding_mode=Rounding.HALF_EVEN)
    assert half_up.sum_of_line_nets == Money(24690, "KWD")
    assert str(half_up.tax_total) == "1.235 KWD"
    assert str(half_even.tax_total) == "1.234 KWD"
    assert str(half_up.amount_due) == "25.925 KWD"


def test_half_even_applies_to_line_amounts_too() -> None:
    # 1 x 0.125 → 0.13 half-up, 0.12 half-even; the zero rate keeps tax out of it.
    assert totals("EUR", line("1", "0.125", ZERO)).tax_exclusive.minor == 13
    half_even = totals("EUR", line("1", "0.125", ZERO), rounding_mode=Rounding.HALF_EVEN)
    assert half_even.tax_exclusive.minor == 12


def test_percent_discount_and_line_charge() -> None:
    # 4 x 25.00 = 100.00, 12.5 % off = 12.50, plus 2.03 packaging → 89.53.
    result = totals(
        "EUR",
        line("4", "25.00", VAT20, discount_percent=Decimal("12.5"), charge_amount=Decimal("2.03")),
    )
    (only,) = result.lines
    assert (only.amount.minor, only.allowance.minor, only.charge.minor) == (10000, 1250, 203)
    assert only.net == Money(8953, "EUR")
    assert result.tax_total == Money(1791, "EUR")  # 17.906 → 17.91


def test_negative_quantity_credits_a_line() -> None:
    # 2 x 50.00 less 1 returned: 50.00 net; a 10 % discount on the credit line shrinks it too.
    result = totals(
        "EUR",
        line("2", "50.00", VAT20),
        line("-1", "50.00", VAT20, discount_percent=Decimal(10)),
    )
    assert [ln.net.minor for ln in result.lines] == [10000, -4500]
    assert result.tax_total == Money(1100, "EUR")


def test_price_including_tax_keeps_the_gross_the_user_sees() -> None:
    # 11.99 including 20 %: tax 11.99 - 11.99 / 1.2 = 1.998 → 2.00, net 9.99; 9.99 x 20 % → 2.00.
    result = totals("EUR", line("1", "11.99", VAT20, price_includes_tax=True))
    (only,) = result.lines
    assert (only.total.minor, only.net.minor, only.includes_tax) == (1199, 999, True)
    assert result.tax_inclusive == Money(1199, "EUR")


def test_price_including_tax_can_drift_by_one_unit() -> None:
    # 10.05 including 20 %: 10.05 / 1.2 = 8.375, tax 1.675 → 1.68, net 8.37.
    # The document taxes the net: 8.37 x 20 % = 1.674 → 1.67, so 10.04 is due, not 10.05.
    result = totals("EUR", line("1", "10.05", VAT20, price_includes_tax=True))
    assert result.lines[0].net == Money(837, "EUR")
    assert result.tax_inclusive == Money(1004, "EUR")


def test_compound_tax_is_charged_on_net_plus_the_tax_before_it() -> None:
    # GST 5 % on 100.00 = 5.00; the compound 9.975 % on 105.00 = 10.47375 → 10.47.
    gst = TaxRate("S", Decimal(5), "GST")
    qst = TaxRate("S", Decimal("9.975"), "QST", compound=True)
    result = totals("CAD", line("1", "100.00", gst, qst))
    assert [(r.name, r.compound, r.base.minor, r.tax.minor) for r in result.breakdown] == [
        ("GST", False, 10000, 500),
        ("QST", True, 10500, 1047),
    ]
    assert result.tax_inclusive == Money(11547, "CAD")


def test_compound_tax_with_an_inclusive_price() -> None:
    # 115.47 / (1 + 0.05 + 0.09975 x 1.05) = 99.9968 → net 100.00, and the taxes give 115.47 back.
    gst = TaxRate("S", Decimal(5), "GST")
    qst = TaxRate("S", Decimal("9.975"), "QST", compound=True)
    result = totals("CAD", line("1", "115.47", gst, qst, price_includes_tax=True))
    assert result.lines[0].net == Money(10000, "CAD")
    assert result.tax_inclusive == Money(11547, "CAD")


def test_cash_rounding_to_five_centimes() -> None:
    # 2 x 49.90 = 99.80 at 8.1 %, allowance 5.00 at 8.1 %, shipping 7.50 at 2.6 %.
    # 8.1 %: base 94.80, tax 7.6788 → 7.68; 2.6 %: base 7.50, tax 0.195 → 0.20.
    # Inclusive 102.30 + 7.88 = 110.18; less 20.00 prepaid = 90.18 → 90.20 in cash, +0.02.
    standard, reduced = TaxRate("S", Decimal("8.1")), TaxRate("S", Decimal("2.6"))
    result = totals(
        "CHF",
        line("2", "49.90", standard),
        allowances=(DocumentAllowance(amount=Decimal(5), taxes=(standard,)),),
        charges=(DocumentCharge(amount=Decimal("7.50"), taxes=(reduced,)),),
        prepaid=Decimal(20),
        cash_rounding_step=Decimal("0.05"),
    )
    assert rows(result) == [("S", Decimal("8.1"), 9480, 768), ("S", Decimal("2.6"), 750, 20)]
    assert minors(result) == {
        "sum_of_line_nets": 9980,
        "allowance_total": 500,
        "charge_total": 750,
        "tax_exclusive": 10230,
        "tax_total": 788,
        "tax_inclusive": 11018,
        "prepaid": 2000,
        "rounding": 2,
        "amount_due": 9020,
    }


def test_explicit_rounding_adjustment() -> None:
    result = totals("EUR", line("1", "9.99", ZERO), rounding_adjustment=Decimal("0.01"))
    assert (result.rounding.minor, result.amount_due.minor) == (1, 1000)


def test_a_line_without_tax_counts_in_totals_but_in_no_row() -> None:
    result = totals("USD", line("3", "7.00"))
    assert result.breakdown == ()
    assert (result.tax_exclusive.minor, result.tax_total.minor) == (2100, 0)


# Bad input: every message names the field.


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"quantity": Decimal("1.00001")}, "line 2: quantity has more than 4 decimal places"),
        ({"base_quantity": Decimal(0)}, "line 2: base_quantity must be greater than 0"),
        ({"discount_percent": Decimal(101)}, "line 2: discount_percent must be between 0 and 100"),
        ({"discount_percent": Decimal(-1)}, "line 2: discount_percent must be between 0 and 100"),
        ({"discount_amount": Decimal("10.01")}, "line 2: discount exceeds the line amount"),
        (
            {"discount_amount": Decimal(-1)},
            "line 2: discount_amount must have the same sign as the line",
        ),
        (
            {"discount_amount": Decimal(1), "discount_percent": Decimal(1)},
            "line 2: give discount_percent or discount_amount, not both",
        ),
        (
            {"discount_amount": Decimal("0.001")},
            "line 2: discount_amount has more than 2 decimal places for EUR",
        ),
        (
            {"charge_amount": Decimal("0.001")},
            "line 2: charge_amount has more than 2 decimal places for EUR",
        ),
        ({"unit_price": Decimal("NaN")}, "line 2: unit_price must be a finite number"),
        ({"taxes": (VAT20, VAT20)}, "line 2: tax S 20% is listed twice"),
    ],
)
def test_bad_line_input_is_refused(overrides: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"quantity": Decimal(1), "unit_price": Decimal(10), **overrides}
    with pytest.raises(BillingError, match=re.escape(message)):
        totals("EUR", line("1", "1"), LineInput(**fields))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"allowances": (DocumentAllowance(amount=Decimal(-1)),)},
            "allowance 1: amount must not be negative",
        ),
        (
            {"charges": (DocumentCharge(amount=Decimal("0.5")),)},
            "charge 1: amount has more than 0 decimal places for JPY",
        ),
        ({"prepaid": Decimal("0.5")}, "prepaid has more than 0 decimal places for JPY"),
        (
            {"rounding_adjustment": Decimal(1), "cash_rounding_step": Decimal(5)},
            "give rounding_adjustment or cash_rounding_step, not both",
        ),
        ({"cash_rounding_step": Decimal(0)}, "cash_rounding_step must be greater than 0"),
    ],
)
def test_bad_document_input_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(BillingError, match=re.escape(message)):
        totals("JPY", line("1", "100"), **overrides)


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (lambda: TaxRate("S", Decimal(101)), "tax S percent must be between 0 and 100"),
        (lambda: TaxRate("Z", Decimal(5)), "tax Z percent must be 0 for this category"),
        (lambda: TaxRate("X", Decimal(5)), "tax category 'X' is not one of the EN 16931 codes"),
    ],
)
def test_bad_tax_rate_is_refused(rate: Any, message: str) -> None:
    with pytest.raises(BillingError, match=re.escape(message)):
        rate()


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(BillingError, match=re.escape("unknown currency code: 'ABC'")):
        DocumentInput(currency="ABC", lines=())


def test_floats_are_a_type_error() -> None:
    with pytest.raises(TypeError, match=re.escape("quantity must be a Decimal or int, not float")):
        LineInput(quantity=1.5, unit_price=Decimal(1))  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=re.escape("unit_price must be a Decimal or int, not float")
    ):
        LineInput(quantity=Decimal(1), unit_price=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("tax S percent must be a Decimal or int")):
        TaxRate("S", 20.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("prepaid must be a Decimal or int, not float")):
        DocumentInput(currency="EUR", lines=(), prepaid=1.0)  # type: ignore[arg-type]


# Properties.

RATES = [Decimal(p) for p in ("0", "5", "7", "10", "19", "20", "21", "25")]
CURRENCIES = ["EUR", "JPY", "KWD"]


def _rate(percent: Decimal) -> TaxRate:
    return TaxRate("S" if percent else "Z", percent)


quantities = st.decimals(min_value=-50, max_value=500, places=4)
prices = st.decimals(min_value=0, max_value=10_000, places=4)
rates = st.sampled_from(RATES).map(_rate)


@st.composite
def documents(draw: st.DrawFn, inclusive: bool = False) -> DocumentInput:
    currency = draw(st.sampled_from(CURRENCIES))
    places = {"EUR": 2, "JPY": 0, "KWD": 3}[currency]
    amounts = st.decimals(min_value=0, max_value=500, places=places)
    lines = draw(
        st.lists(
            st.builds(
                LineInput,
                quantity=quantities,
                unit_price=prices,
                taxes=st.tuples(rates),
                discount_percent=st.one_of(
                    st.none(), st.decimals(min_value=0, max_value=100, places=2)
                ),
                price_includes_tax=st.just(inclusive) if inclusive else st.booleans(),
            ),
            min_size=1,
            max_size=8,
        )
    )
    allowances = draw(
        st.lists(st.builds(DocumentAllowance, amount=amounts, taxes=st.tuples(rates)), max_size=2)
    )
    charges = draw(
        st.lists(st.builds(DocumentCharge, amount=amounts, taxes=st.tuples(rates)), max_size=2)
    )
    return DocumentInput(
        currency=currency,
        lines=tuple(lines),
        allowances=tuple(allowances),
        charges=tuple(charges),
        prepaid=draw(amounts),
        rounding_mode=draw(st.sampled_from(Rounding)),
    )


@PROPERTY
@given(documents())
def test_breakdown_adds_up_to_the_totals(document: DocumentInput) -> None:
    result = compute_totals(document)
    assert sum(row.tax.minor for row in result.breakdown) == result.tax_total.minor
    assert sum(row.base.minor for row in result.breakdown) == result.tax_exclusive.minor
    assert result.sum_of_line_nets.minor == sum(ln.net.minor for ln in result.lines)
    assert result.tax_exclusive == (
        result.sum_of_line_nets - result.allowance_total + result.charge_total
    )
    assert result.tax_inclusive == result.tax_exclusive + result.tax_total
    assert result.amount_due == result.tax_inclusive - result.prepaid + result.rounding
    for row in result.breakdown:
        # BR-CO-17: each row's tax is its base times its rate, rounded once.
        exact_minor = Decimal(row.base.minor) * row.percent / 100
        assert abs(row.tax.minor - exact_minor) <= Decimal("0.5")


@PROPERTY
@given(documents())
def test_every_amount_is_integer_minor_units(document: DocumentInput) -> None:
    result = compute_totals(document)
    amounts: list[Money] = [
        value
        for value in (getattr(result, name) for name in result.__slots__)
        if isinstance(value, Money)
    ]
    amounts += [ln.net for ln in result.lines] + [ln.total for ln in result.lines]
    amounts += [row.base for row in result.breakdown] + [row.tax for row in result.breakdown]
    assert all(type(m.minor) is int and m.currency == document.currency for m in amounts)


@PROPERTY
@given(documents(inclusive=True))
def test_inclusive_lines_come_back_within_one_unit_each(document: DocumentInput) -> None:
    lines_only = dataclasses.replace(document, allowances=(), charges=(), prepaid=Decimal(0))
    result = compute_totals(lines_only)
    shown = sum(ln.total.minor for ln in result.lines)
    assert abs(result.tax_inclusive.minor - shown) <= len(result.lines)


@PROPERTY
@given(
    net=st.integers(min_value=-(10**9), max_value=10**9),
    percent=st.sampled_from(RATES),
    currency=st.sampled_from(CURRENCIES),
    mode=st.sampled_from(Rounding),
)
def test_exclusive_to_inclusive_and_back(
    net: int, percent: Decimal, currency: str, mode: Rounding
) -> None:
    rate = _rate(percent)
    exclusive = Money(net, currency)
    gross = Money.from_decimal(exclusive.to_decimal() * (1 + rate.fraction), currency, mode)
    back = compute_totals(
        DocumentInput(
            currency=currency,
            lines=(
                LineInput(
                    quantity=Decimal(1),
                    unit_price=gross.to_decimal(),
                    taxes=(rate,),
                    price_includes_tax=True,
                ),
            ),
            rounding_mode=mode,
        )
    )
    assert abs(back.lines[0].net.minor - net) <= 1
    assert abs(back.tax_inclusive.minor - gross.minor) <= 1


@PROPERTY
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_float_quantities_are_refused(value: float) -> None:
    with pytest.raises(TypeError):
        LineInput(quantity=value, unit_price=Decimal(1))  # type: ignore[arg-type]
