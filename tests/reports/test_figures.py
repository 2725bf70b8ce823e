"""Every figure of every report, against the January books worked out by hand in conftest."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from portal.models import Role
from portal.services import reports
from portal.services.errors import Forbidden, InvalidInput, NotFound
from portal.services.reports.tables import Cell, Period, Report, parse_period
from tests.reports.conftest import FEBRUARY, JANUARY, Books

JAN = date(2026, 1, 1)


def plain(value: Cell) -> Any:
    """Money as '350.00 EUR': the exact decimal and its currency, easy to read and compare."""
    from portal.billing.money import Money

    return f"{value.to_decimal()} {value.currency}" if isinstance(value, Money) else value


def rows(report: Report, part: str = "rows") -> list[tuple[Any, ...]]:
    source = {
        "rows": report.sheet.rows,
        "totals": report.totals,
        "lead": report.lead,
        "data": report.data_sheet.rows,
    }[part]
    return [tuple(plain(v) for v in row) for row in source]


def build(books: Books, slug: str, period: Period = JANUARY, client: str | None = None) -> Report:
    return reports.build_report(books.actor, slug, period, client)


def test_invoice_register(books: Books) -> None:
    report = build(books, "invoice-register")
    n1, n2, n3 = books.inv1.number, books.inv3.number, books.inv2.number
    assert rows(report) == [
        (n1, "Blue Harbor GmbH", date(2026, 1, 5), date(2026, 2, 4), "partially paid",
         "350.00 EUR", "55.00 EUR", "405.00 EUR", "200.00 EUR", "55.00 EUR", "150.00 EUR", "EUR"),
        (n2, "Acme Inc", date(2026, 1, 10), date(2026, 2, 9), "paid",
         "1000.00 USD", "200.00 USD", "1200.00 USD", "1200.00 USD", "0.00 USD", "0.00 USD", "USD"),
        (n3, "Blue Harbor GmbH", date(2026, 1, 20), date(2026, 2, 19), "paid",
         "100.00 EUR", "20.00 EUR", "120.00 EUR", "120.00 EUR", "0.00 EUR", "0.00 EUR", "EUR"),
    ]  # fmt: skip
    assert rows(report, "totals") == [
        ("Total EUR", None, None, None, None,
         "450.00 EUR", "75.00 EUR", "525.00 EUR", "320.00 EUR", "55.00 EUR", "150.00 EUR", "EUR"),
        ("Total USD", None, None, None, None,
         "1000.00 USD", "200.00 USD", "1200.00 USD", "1200.00 USD", "0.00 USD", "0.00 USD", "USD"),
    ]  # fmt: skip
    assert [r[0] for r in rows(build(books, "invoice-register", FEBRUARY))] == [books.inv4.number]


def test_a_void_invoice_is_listed_but_not_totalled(books: Books) -> None:
    from portal.services import documents

    documents.void_invoice(books.actor, books.inv4.public_id, "Sent twice")
    report = build(books, "invoice-register", FEBRUARY)
    assert rows(report)[0][4] == "void"
    assert rows(report, "totals") == []


def test_payments_received(books: Books) -> None:
    report = build(books, "payments-received")
    assert rows(report) == [
        (date(2026, 1, 15), "Blue Harbor GmbH", "bank transfer", "manual", "TR-1",
         books.inv1.number, "200.00 EUR", "0.00 EUR", "200.00 EUR", "EUR"),
        (date(2026, 1, 22), "Blue Harbor GmbH", "bank transfer", "manual", "TR-2",
         books.inv2.number, "150.00 EUR", "0.00 EUR", "150.00 EUR", "EUR"),
        (date(2026, 1, 28), "Acme Inc", "card", "stripe", "ch_1",
         books.inv3.number, "1200.00 USD", "35.10 USD", "1164.90 USD", "USD"),
    ]  # fmt: skip
    assert rows(report, "totals") == [
        ("Total EUR", *[None] * 5, "350.00 EUR", "0.00 EUR", "350.00 EUR", "EUR"),
        ("Total USD", *[None] * 5, "1200.00 USD", "35.10 USD", "1164.90 USD", "USD"),
    ]


def test_tax_collected_per_month_and_rate(books: Books) -> None:
    report = build(books, "tax-collected")
    d10, d20 = Decimal(10), Decimal(20)
    # 20 %: 200 + 100 EUR base (INV-1, INV-2), nothing credited; 10 %: 150 base, 50 credited.
    assert rows(report) == [
        (JAN, "VAT 10%", "S", d10, "150.00 EUR", "15.00 EUR", "50.00 EUR", "5.00 EUR",
         "100.00 EUR", "10.00 EUR", "EUR"),
        (JAN, "VAT 20%", "S", d20, "300.00 EUR", "60.00 EUR", "0.00 EUR", "0.00 EUR",
         "300.00 EUR", "60.00 EUR", "EUR"),
        (JAN, "VAT 20%", "S", d20, "1000.00 USD", "200.00 USD", "0.00 USD", "0.00 USD",
         "1000.00 USD", "200.00 USD", "USD"),
    ]  # fmt: skip
    assert rows(report, "totals") == [
        ("Total EUR", None, None, None, "450.00 EUR", "75.00 EUR", "50.00 EUR", "5.00 EUR",
         "400.00 EUR", "70.00 EUR", "EUR"),
        ("Total USD", None, None, None, "1000.00 USD", "200.00 USD", "0.00 USD", "0.00 USD",
         "1000.00 USD", "200.00 USD", "USD"),
    ]  # fmt: skip
    # The data sheet: one row per document and rate, credit notes negative.
    assert [(r[2], r[5], r[8], r[9]) for r in rows(report, "data")] == [
        (books.inv1.number, "VAT 20%", "200.00 EUR", "40.00 EUR"),
        (books.inv1.number, "VAT 10%", "150.00 EUR", "15.00 EUR"),
        (books.inv3.number, "VAT 20%", "1000.00 USD", "200.00 USD"),
        (books.inv2.number, "VAT 20%", "100.00 EUR", "20.00 EUR"),
        (books.cn1.number, "VAT 10%", "-50.00 EUR", "-5.00 EUR"),
    ]


def test_tax_is_grouped_by_month(books: Books) -> None:
    report = build(books, "tax-collected", Period(JANUARY.start, FEBRUARY.end))
    months = [(r[0], r[1], r[9], r[10]) for r in rows(report)]
    assert (date(2026, 2, 1), "VAT 10%", "5.00 EUR", "EUR") in months
    assert rows(report, "totals")[0][-3:] == ("450.00 EUR", "75.00 EUR", "EUR")


def test_client_statement(books: Books) -> None:
    report = build(books, "client-statement", client=books.blue.public_id)
    assert report.subject == "Blue Harbor GmbH"
    assert rows(report, "lead") == [("Opening balance", None, None, None, None, "0.00 EUR", "EUR")]
    assert rows(report) == [
        (date(2026, 1, 5), "invoice", books.inv1.number, "405.00 EUR", None, "405.00 EUR", "EUR"),
        (date(2026, 1, 15), "payment", "TR-1", None, "200.00 EUR", "205.00 EUR", "EUR"),
        (date(2026, 1, 20), "invoice", books.inv2.number, "120.00 EUR", None, "325.00 EUR", "EUR"),
        (date(2026, 1, 22), "payment", "TR-2", None, "150.00 EUR", "175.00 EUR", "EUR"),
        (date(2026, 1, 25), "credit note", books.cn1.number, None, "55.00 EUR", "120.00 EUR",
         "EUR"),
        (date(2026, 1, 30), "refund", "RF-1", "30.00 EUR", None, "150.00 EUR", "EUR"),
    ]  # fmt: skip
    assert rows(report, "totals") == [
        ("Closing balance", None, None, "555.00 EUR", "405.00 EUR", "150.00 EUR", "EUR")
    ]
    # February opens where January closed.
    february = build(books, "client-statement", FEBRUARY, books.blue.public_id)
    assert rows(february, "lead")[0][5] == "150.00 EUR"
    assert rows(february, "totals")[0][3:6] == ("55.00 EUR", "0.00 EUR", "205.00 EUR")


def test_the_statement_closes_where_the_statement_pdf_does(books: Books) -> None:
    from babel.numbers import format_currency

    from portal.documents.views import statement_page

    page = statement_page(books.blue, books.actor.business, JANUARY.start, JANUARY.end)
    assert page.closing == format_currency(Decimal("150.00"), "EUR", locale="en")


def test_a_statement_in_another_currency_keeps_its_own_balance(books: Books) -> None:
    report = build(books, "client-statement", client=books.acme.public_id)
    assert rows(report, "totals") == [
        ("Closing balance", None, None, "1200.00 USD", "1200.00 USD", "0.00 USD", "USD")
    ]


def test_revenue_by_client_in_the_base_currency(books: Books) -> None:
    report = build(books, "revenue-by-client")
    assert rows(report) == [
        ("Acme Inc", "USD", "1000.00 USD", "800.00 EUR"),
        ("Blue Harbor GmbH", "EUR", "400.00 EUR", "400.00 EUR"),  # 350 + 100 - 50 credited
    ]
    assert rows(report, "totals") == [
        ("Total EUR", "EUR", "400.00 EUR", "400.00 EUR"),
        ("Total USD", "USD", "1000.00 USD", "800.00 EUR"),
        ("Total in EUR", "EUR", None, "1200.00 EUR"),
    ]
    acme = [r for r in rows(report, "data") if r[3] == "Acme Inc"]
    assert acme == [
        (date(2026, 1, 10), books.inv3.number, "invoice", "Acme Inc", "USD", "1000.00 USD",
         Decimal("0.8"), "fixed at issue", "800.00 EUR"),
    ]  # fmt: skip
    assert f"USD → EUR at 0.8 (fixed at issue): {books.inv3.number}." in report.notes


def test_revenue_by_product(books: Books) -> None:
    report = build(books, "revenue-by-product")
    assert rows(report) == [
        ("Books", "EUR", "100.00 EUR", "100.00 EUR"),  # 150 - 50 credited
        ("Design", "EUR", "300.00 EUR", "300.00 EUR"),
        ("Design", "USD", "1000.00 USD", "800.00 EUR"),
    ]
    assert rows(report, "totals")[-1] == ("Total in EUR", "EUR", None, "1200.00 EUR")


def test_revenue_falls_back_to_the_stored_ecb_rate_and_says_so(books: Books) -> None:
    from portal.extensions import db

    books.inv3.exchange_rate = None
    db.session.commit()
    report = build(books, "revenue-by-client")
    assert rows(report)[0] == ("Acme Inc", "USD", "1000.00 USD", "800.00 EUR")
    assert f"USD → EUR at 0.8 (ECB on or before 2026-01-10): {books.inv3.number}." in (report.notes)


def test_gross_fees_net(books: Books) -> None:
    report = build(books, "gross-fees-net")
    assert rows(report) == [
        (JAN, "manual", 2, "350.00 EUR", "0.00 EUR", "30.00 EUR", "320.00 EUR", "EUR"),
        (JAN, "stripe", 1, "1200.00 USD", "35.10 USD", "0.00 USD", "1164.90 USD", "USD"),
    ]
    assert rows(report, "totals") == [
        ("Total EUR", None, None, "350.00 EUR", "0.00 EUR", "30.00 EUR", "320.00 EUR", "EUR"),
        ("Total USD", None, None, "1200.00 USD", "35.10 USD", "0.00 USD", "1164.90 USD", "USD"),
    ]
    assert [(r[3], r[5], r[9]) for r in rows(report, "data")] == [
        ("payment", "TR-1", "200.00 EUR"),
        ("payment", "TR-2", "150.00 EUR"),
        ("payment", "ch_1", "1164.90 USD"),
        ("refund", "RF-1", "-30.00 EUR"),
    ]


def test_nothing_in_the_period_is_an_empty_report(books: Books) -> None:
    empty = Period(date(2025, 1, 1), date(2025, 1, 31))
    for slug in reports.REPORTS:
        report = build(books, slug, empty, books.blue.public_id)
        assert report.sheet.rows == ()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.STAFF])
def test_reading_reports_needs_the_accountant_role(books: Books, team: Any, role: Role) -> None:
    with pytest.raises(Forbidden, match=re.escape("This needs the accountant role or higher.")):
        reports.build_report(team.actor(role), "invoice-register", JANUARY)
    assert build(books, "invoice-register").sheet.rows  # the owner may
    reports.build_report(team.actor(Role.ACCOUNTANT), "invoice-register", JANUARY)


def test_a_statement_needs_one_of_the_business_clients(books: Books) -> None:
    with pytest.raises(InvalidInput, match=re.escape("client: Choose a client.")):
        build(books, "client-statement")
    with pytest.raises(InvalidInput, match=re.escape("client: Choose one of your clients.")):
        build(books, "client-statement", client="01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(NotFound, match=re.escape("No such report.")):
        build(books, "profit-and-loss")


def test_the_period_defaults_to_this_month_and_refuses_bad_dates() -> None:
    today = date(2026, 2, 14)
    assert parse_period({}, today) == FEBRUARY
    assert parse_period({"from": "2026-01-03", "to": ""}, today) == Period(
        date(2026, 1, 3), date(2026, 2, 28)
    )
    with pytest.raises(InvalidInput) as bad:
        parse_period({"from": "2026-13-01", "to": "soon"}, today)
    assert bad.value.errors == {
        "from": "'2026-13-01' is not a date; enter one like 2026-02-01.",
        "to": "'soon' is not a date; enter one like 2026-02-28.",
    }
    with pytest.raises(InvalidInput, match=re.escape("to: The end of the period comes before")):
        parse_period({"from": "2026-02-02", "to": "2026-02-01"}, today)
