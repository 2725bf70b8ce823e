import re
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.billing.errors import BillingError, CurrencyMismatch
from portal.billing.money import Money, Rounding
from portal.billing.quotes import QuoteStatus, can_transition, deposit_split, is_expired

Q = QuoteStatus
PROPERTY = settings(max_examples=150, deadline=None, database=None)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Q.DRAFT, Q.SENT),
        (Q.SENT, Q.ACCEPTED),
        (Q.SENT, Q.DECLINED),
        (Q.SENT, Q.EXPIRED),
        ("sent", "accepted"),
    ],
)
def test_allowed_moves(current: QuoteStatus, target: QuoteStatus) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Q.DRAFT, Q.ACCEPTED),  # the client answers a quote they were sent
        (Q.DRAFT, Q.EXPIRED),  # a draft's date can still change
        (Q.SENT, Q.SENT),
        (Q.ACCEPTED, Q.DECLINED),
        (Q.DECLINED, Q.ACCEPTED),
        (Q.EXPIRED, Q.ACCEPTED),  # a new quote is sent instead
        (Q.EXPIRED, Q.SENT),
        (Q.ACCEPTED, Q.SENT),
    ],
)
def test_refused_moves(current: QuoteStatus, target: QuoteStatus) -> None:
    assert not can_transition(current, target)


def test_an_unknown_status_is_an_error() -> None:
    with pytest.raises(ValueError, match=re.escape("'converted' is not a valid QuoteStatus")):
        can_transition("converted", Q.SENT)


VALID_UNTIL = date(2026, 3, 31)


@pytest.mark.parametrize(
    ("valid_until", "today", "status", "expected"),
    [
        (VALID_UNTIL, date(2026, 3, 31), Q.SENT, False),  # valid through its last day
        (VALID_UNTIL, date(2026, 4, 1), Q.SENT, True),
        (None, date(2099, 1, 1), Q.SENT, False),  # no date: it never runs out
        (VALID_UNTIL, date(2026, 4, 1), Q.DRAFT, False),
        (VALID_UNTIL, date(2026, 4, 1), Q.ACCEPTED, False),
        (VALID_UNTIL, date(2026, 4, 1), Q.DECLINED, False),
        (VALID_UNTIL, date(2026, 3, 1), Q.EXPIRED, True),
        (VALID_UNTIL, date(2026, 4, 1), "sent", True),
    ],
)
def test_is_expired(
    valid_until: date | None, today: date, status: QuoteStatus, expected: bool
) -> None:
    assert is_expired(valid_until, today, status) is expected


def eur(*minors: int) -> list[Money]:
    return [Money(m, "EUR") for m in minors]


def test_a_deposit_is_split_by_tax_group_and_sums_to_the_rounded_whole() -> None:
    # 30 % of 743.70 = 223.11; the exact shares 200.655 and 22.455 both round down to
    # 200.65 + 22.45 = 223.10, so the spare cent goes to the first (equal remainders).
    assert deposit_split(eur(66885, 7485), Decimal(30)) == eur(20066, 2245)


def test_the_whole_deposit_is_rounded_once_with_the_documents_mode() -> None:
    # 35 % of 1,024.70 = 358.645: half up gives 358.65, half even 358.64.
    assert deposit_split(eur(95000, 7470), Decimal(35)) == eur(33250, 2615)
    # Shares of 358.64: 332.4954 and 26.1446; the spare cent goes to the larger remainder.
    even = deposit_split(eur(95000, 7470), Decimal(35), Rounding.HALF_EVEN)
    assert even == eur(33250, 2614)


def test_zero_decimal_currencies_split_in_whole_units() -> None:
    parts = deposit_split([Money(99999, "JPY"), Money(5555, "JPY")], Decimal(30))
    # 30 % of 105,554 = 31,666.2 -> 31,666 yen; shares 29,999.51 and 1,666.49, so the spare
    # yen goes to the first.
    assert parts == [Money(30000, "JPY"), Money(1666, "JPY")]


@pytest.mark.parametrize(
    ("nets", "percent", "message"),
    [
        ([], Decimal(30), "nets must not be empty"),
        (eur(100), Decimal(0), "percent must be greater than 0"),
        (eur(100), Decimal(101), "percent must be between 0 and 100"),
        (eur(100, -1), Decimal(30), "nets must not be negative"),
        (eur(0, 0), Decimal(30), "nets must not all be zero"),
    ],
)
def test_refused_deposits(nets: list[Money], percent: Decimal, message: str) -> None:
    with pytest.raises(BillingError, match=re.escape(message)):
        deposit_split(nets, percent)


def test_groups_in_different_currencies_are_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        deposit_split([Money(100, "EUR"), Money(100, "USD")], Decimal(30))


def test_a_float_percent_is_refused() -> None:
    with pytest.raises(TypeError):
        deposit_split(eur(100), 30.0)  # type: ignore[arg-type]


@PROPERTY
@given(
    nets=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=6).filter(any),
    percent=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2),
)
def test_parts_add_up_and_stay_within_a_unit_of_their_share(
    nets: list[int], percent: Decimal
) -> None:
    parts = deposit_split(eur(*nets), percent)
    whole = sum(nets)
    total = int((Decimal(whole) * percent / 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    assert sum(p.minor for p in parts) == total
    for net, part in zip(nets, parts, strict=True):
        assert abs(Decimal(part.minor) - Decimal(total) * net / whole) < 1
