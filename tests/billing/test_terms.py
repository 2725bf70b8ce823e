import re
from datetime import date

import pytest

from portal.billing.errors import BillingError
from portal.billing.terms import PaymentTerms, TermsKind, due_date


@pytest.mark.parametrize(
    ("issued", "terms", "due"),
    [
        (date(2026, 3, 1), PaymentTerms.on_receipt(), date(2026, 3, 1)),
        (date(2026, 3, 1), PaymentTerms.net(14), date(2026, 3, 15)),
        (date(2026, 1, 31), PaymentTerms.net(30), date(2026, 3, 2)),
        (date(2026, 12, 15), PaymentTerms.net(30), date(2027, 1, 14)),
        (date(2026, 2, 10), PaymentTerms.end_of_month(), date(2026, 2, 28)),
        (date(2028, 2, 10), PaymentTerms.end_of_month(), date(2028, 2, 29)),
        (date(2026, 2, 10), PaymentTerms.end_of_month(10), date(2026, 3, 10)),
        (date(2026, 12, 31), PaymentTerms.end_of_month(15), date(2027, 1, 15)),
        (date(2026, 4, 30), PaymentTerms.end_of_month(30), date(2026, 5, 30)),
    ],
)
def test_due_date(issued: date, terms: PaymentTerms, due: date) -> None:
    assert due_date(issued, terms) == due


@pytest.mark.parametrize(
    ("code", "terms"),
    [
        ("NET30", PaymentTerms(TermsKind.NET, 30)),
        ("net0", PaymentTerms(TermsKind.NET, 0)),
        ("EOM", PaymentTerms(TermsKind.END_OF_MONTH, 0)),
        ("EOM10", PaymentTerms(TermsKind.END_OF_MONTH, 10)),
        ("RECEIPT", PaymentTerms(TermsKind.ON_RECEIPT)),
    ],
)
def test_codes_round_trip(code: str, terms: PaymentTerms) -> None:
    assert PaymentTerms.parse(code) == terms
    assert PaymentTerms.parse(terms.code) == terms


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("NET", "payment terms 'NET' need a number of days"),
        ("2/10 net 30", "unknown payment terms '2/10 net 30'"),
        ("RECEIPT5", "days must be 0 for terms due on receipt"),
        ("NET9999", "days must be between 0 and 3650"),
    ],
)
def test_bad_codes_are_refused(code: str, message: str) -> None:
    with pytest.raises(BillingError, match=re.escape(message)):
        PaymentTerms.parse(code)


def test_days_must_be_an_int() -> None:
    with pytest.raises(TypeError, match=re.escape("days must be an int, not float")):
        PaymentTerms.net(30.0)  # type: ignore[arg-type]
    with pytest.raises(BillingError, match=re.escape("days must be between 0 and 3650")):
        PaymentTerms.net(-1)
