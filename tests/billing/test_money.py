import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.billing.errors import BillingError, CurrencyMismatch
from portal.billing.money import (
    Money,
    Rounding,
    allocate,
    exponent,
    is_known_currency,
    split_evenly,
)

PROPERTY = settings(max_examples=150, deadline=None, database=None)


@pytest.mark.parametrize(("code", "places"), [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3)])
def test_exponent_comes_from_the_currency_table(code: str, places: int) -> None:
    assert exponent(code) == places
    assert is_known_currency(code)


@pytest.mark.parametrize("code", ["ZZZ", "eur", "", "EURO"])
def test_unknown_currency_is_refused(code: str) -> None:
    assert not is_known_currency(code)
    with pytest.raises(BillingError, match=re.escape(f"unknown currency code: {code!r}")):
        exponent(code)
    with pytest.raises(ValueError, match=re.escape("unknown currency code")):
        Money(100, code)


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "text"),
    [
        (Decimal("12.34"), "EUR", 1234, "12.34 EUR"),
        (Decimal("1234"), "JPY", 1234, "1234 JPY"),
        (Decimal("1.2345"), "KWD", 1235, "1.235 KWD"),
        (Decimal("-0.005"), "EUR", -1, "-0.01 EUR"),
        (7, "EUR", 700, "7.00 EUR"),
    ],
)
def test_from_decimal_rounds_to_the_currency(
    amount: Decimal, currency: str, minor: int, text: str
) -> None:
    money = Money.from_decimal(amount, currency)
    assert money == Money(minor, currency)
    assert str(money) == text
    assert money.to_decimal() == Decimal(text.split()[0])


def test_half_up_and_half_even_differ_on_ties() -> None:
    assert Money.from_decimal(Decimal("0.125"), "EUR").minor == 13
    assert Money.from_decimal(Decimal("0.125"), "EUR", Rounding.HALF_EVEN).minor == 12
    assert Money.from_decimal(Decimal("0.135"), "EUR", Rounding.HALF_EVEN).minor == 14
    assert Money.from_decimal(Decimal("2.5"), "JPY", Rounding.HALF_EVEN).minor == 2
    assert Money.from_decimal(Decimal("2.5"), "JPY").minor == 3


def test_arithmetic_keeps_the_currency() -> None:
    a, b = Money(1000, "EUR"), Money(250, "EUR")
    assert a + b == Money(1250, "EUR")
    assert a - b == Money(750, "EUR")
    assert -a == Money(-1000, "EUR")
    assert not Money.zero("EUR")


def test_mixing_currencies_names_both() -> None:
    with pytest.raises(CurrencyMismatch, match=re.escape("currency mismatch: EUR and USD")):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyMismatch, match=re.escape("currency mismatch: JPY and EUR")):
        Money(1, "JPY") - Money(1, "EUR")


def test_floats_are_refused_everywhere() -> None:
    with pytest.raises(TypeError, match=re.escape("Money.minor must be an int, not float")):
        Money(12.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("amount must be a Decimal or int, not float")):
        Money.from_decimal(0.1, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("ratios[1] must be a Decimal or int, not float")):
        allocate(Money(100, "EUR"), [1, 0.5])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        Money(True, "EUR")


def test_allocate_worked_examples() -> None:
    assert [m.minor for m in allocate(Money(100, "EUR"), [1, 1, 1])] == [34, 33, 33]
    assert [m.minor for m in allocate(Money(1000, "JPY"), [3, 7])] == [300, 700]
    # Exact shares 333.33.. each: the first part takes the spare unit, sign kept.
    assert [m.minor for m in allocate(Money(-1000, "KWD"), [1, 1, 1])] == [-334, -333, -333]
    # Shares 1.4, 2.1, 3.5: floors 1, 2, 3 and the spare unit goes to the largest remainder.
    assert [m.minor for m in allocate(Money(7, "EUR"), [2, 3, 5])] == [1, 2, 4]
    # Shares 1.5, 4.5, 4: equal remainders, so the earlier part gets the spare unit.
    ratios: list[int | Decimal] = [Decimal("1.5"), Decimal("4.5"), 4]
    assert [m.minor for m in allocate(Money(10, "EUR"), ratios)] == [2, 4, 4]
    assert [m.minor for m in split_evenly(Money(1001, "EUR"), 4)] == [251, 250, 250, 250]


def test_allocate_refuses_bad_ratios() -> None:
    with pytest.raises(BillingError, match=re.escape("ratios must not be empty")):
        allocate(Money(100, "EUR"), [])
    with pytest.raises(BillingError, match=re.escape("ratios must not all be zero")):
        allocate(Money(100, "EUR"), [0, 0])
    with pytest.raises(BillingError, match=re.escape("ratios must not be negative")):
        allocate(Money(100, "EUR"), [1, -1])
    with pytest.raises(BillingError, match=re.escape("n must be at least 1")):
        split_evenly(Money(100, "EUR"), 0)


@PROPERTY
@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    ratios=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(any),
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_allocate_never_loses_a_unit(total: int, ratios: list[int], currency: str) -> None:
    parts = allocate(Money(total, currency), ratios)
    assert sum(part.minor for part in parts) == total
    weight = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        assert isinstance(part.minor, int)
        assert part.currency == currency
        assert abs(Decimal(part.minor) - Decimal(total) * ratio / weight) < 1


@PROPERTY
@given(
    total=st.integers(min_value=-(10**9), max_value=10**9), n=st.integers(min_value=1, max_value=50)
)
def test_split_evenly_parts_differ_by_at_most_one(total: int, n: int) -> None:
    parts = [part.minor for part in split_evenly(Money(total, "EUR"), n)]
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1


@PROPERTY
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_is_a_type_error(value: float) -> None:
    with pytest.raises(TypeError):
        Money.from_decimal(value, "EUR")  # type: ignore[arg-type]
