"""The CSV and the Excel file hold the report's figures: typed, formatted, guarded."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook

from portal.billing.money import Money
from portal.services import reports, spreadsheets
from portal.services.reports.tables import Column, Report, Sheet
from tests.reports.conftest import JANUARY, Books


def _register(books: Books) -> Report:
    return reports.build_report(books.actor, "invoice-register", JANUARY)


def test_currency_formats_follow_the_currency_decimals() -> None:
    assert spreadsheets.currency_format("EUR") == '#,##0.00 "EUR"'
    assert spreadsheets.currency_format("JPY") == '#,##0 "JPY"'
    assert spreadsheets.currency_format("KWD") == '#,##0.000 "KWD"'


def test_the_csv_parses_back_to_the_figures(books: Books) -> None:
    text = spreadsheets.write_csv(_register(books))
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [line["Number"] for line in lines] == [
        books.inv1.number,
        books.inv3.number,
        books.inv2.number,
        "Total EUR",
        "Total USD",
    ]
    first = lines[0]
    assert first["Issue date"] == "2026-01-05"
    assert first["Status"] == "partially paid"
    assert [Decimal(first[k]) for k in ("Net", "Tax", "Total", "Paid", "Credited", "Balance")] == [
        Decimal("350.00"),
        Decimal("55.00"),
        Decimal("405.00"),
        Decimal("200.00"),
        Decimal("55.00"),
        Decimal("150.00"),
    ]
    assert first["Currency"] == "EUR"
    assert first["Net"] == "350.00"  # a plain decimal: no grouping, no symbol
    assert Decimal(lines[3]["Total"]) == Decimal("525.00")
    assert Decimal(lines[4]["Total"]) == Decimal("1200.00")
    assert text.endswith("\r\n")


def test_the_statement_csv_has_its_opening_and_closing_balance(books: Books) -> None:
    report = reports.build_report(books.actor, "client-statement", JANUARY, books.blue.public_id)
    lines = list(csv.reader(io.StringIO(spreadsheets.write_csv(report))))
    assert lines[1] == ["Opening balance", "", "", "", "", "0.00", "EUR"]
    assert lines[-1] == ["Closing balance", "", "", "555.00", "405.00", "150.00", "EUR"]
    assert lines[-2] == ["2026-01-30", "refund", "RF-1", "30.00", "", "150.00", "EUR"]


def test_the_tax_csv_writes_months_and_rates(books: Books) -> None:
    report = reports.build_report(books.actor, "tax-collected", JANUARY)
    lines = list(csv.reader(io.StringIO(spreadsheets.write_csv(report))))
    assert lines[1][:4] == ["2026-01", "VAT 10%", "S", "10"]


def _book(report: Report) -> Any:
    return load_workbook(io.BytesIO(spreadsheets.xlsx_bytes(report)))


def test_the_excel_file_holds_numbers_dates_formats_and_totals(books: Books) -> None:
    wb = _book(_register(books))
    assert wb.sheetnames == ["Invoice register", "Data", "Notes"]
    ws = wb["Invoice register"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:L4"  # the header and three invoices; totals stay outside
    assert [c.value for c in ws[1]] == [
        "Number", "Client", "Issue date", "Due date", "Status", "Net", "Tax", "Total", "Paid",
        "Credited", "Balance", "Currency",
    ]  # fmt: skip
    assert all(c.font.bold for c in ws[1])
    row = ws[2]
    assert row[0].value == books.inv1.number
    assert row[2].value == datetime(2026, 1, 5)  # a date cell, read back as a datetime
    assert row[2].is_date and row[2].number_format == "yyyy-mm-dd"
    amounts = [c.value for c in row[5:11]]
    assert amounts == [350, 55, 405, 200, 55, 150]
    assert all(c.data_type == "n" for c in row[5:11])
    assert {c.number_format for c in row[5:11]} == {'#,##0.00 "EUR"'}
    usd = ws[3]
    assert usd[7].value == 1200 and usd[7].number_format == '#,##0.00 "USD"'
    # A blank row, then one totals row per currency, computed (no formulas to recalculate).
    assert all(c.value is None for c in ws[5])
    totals = {ws.cell(r, 1).value: [ws.cell(r, c).value for c in range(6, 12)] for r in (6, 7)}
    assert totals == {
        "Total EUR": [450, 75, 525, 320, 55, 150],
        "Total USD": [1000, 200, 1200, 1200, 0, 0],
    }
    assert ws.cell(7, 8).number_format == '#,##0.00 "USD"'
    assert ws.max_row == 7


def test_the_excel_data_sheet_is_flat_for_a_pivot_table(books: Books) -> None:
    report = reports.build_report(books.actor, "revenue-by-client", JANUARY)
    wb = _book(report)
    data = wb["Data"]
    assert data.freeze_panes == "A2"
    header = [c.value for c in data[1]]
    assert header == [
        "Issue date", "Document", "Kind", "Client", "Currency", "Net", "Rate to EUR",
        "Rate source", "Net in EUR",
    ]  # fmt: skip
    records = [[c.value for c in r] for r in data.iter_rows(min_row=2)]
    assert len(records) == 4  # three invoices and a credit note; no totals
    acme = next(r for r in records if r[3] == "Acme Inc")
    assert acme[4:] == ["USD", 1000, 0.8, "fixed at issue", 800]
    assert data.auto_filter.ref == "A1:I5"
    credit = next(r for r in data.iter_rows(min_row=2) if r[2].value == "credit note")
    assert credit[5].value == -50 and credit[5].number_format == '#,##0.00 "EUR"'
    # The main sheet: two rows, totals per currency and one in the base currency.
    main = wb["Revenue by client"]
    assert [main.cell(r, 1).value for r in range(1, main.max_row + 1)] == [
        "Client", "Acme Inc", "Blue Harbor GmbH", None, "Total EUR", "Total USD", "Total in EUR",
    ]  # fmt: skip
    assert main.cell(7, 4).value == 1200 and main.cell(7, 4).number_format == '#,##0.00 "EUR"'


def test_the_tax_workbook_writes_months_and_percentages_as_numbers(books: Books) -> None:
    wb = _book(reports.build_report(books.actor, "tax-collected", JANUARY))
    ws = wb["Tax collected"]
    assert ws["A2"].value == datetime(2026, 1, 1) and ws["A2"].number_format == "yyyy-mm"
    assert ws["D2"].value == 10 and ws["D2"].data_type == "n"
    assert ws["J2"].value == 10  # 15 invoiced less 5 credited


def test_cents_survive_the_round_trip_exactly(books: Books) -> None:
    wb = _book(reports.build_report(books.actor, "gross-fees-net", JANUARY))
    ws = wb["Gross, fees and net"]
    fee, net = ws["E3"].value, ws["G3"].value
    assert Decimal(str(fee)) == Decimal("35.1")
    assert Decimal(str(net)) == Decimal("1164.9")


def _one_cell_report(text: str) -> Report:
    columns = (Column("name", "Name"), Column("amount", "Amount", "money"))
    sheet = Sheet(columns, ((text, Money(-1234, "EUR")),))
    return Report("test", "Test", JANUARY, sheet)


def test_no_text_cell_starts_a_formula() -> None:
    for text in ('=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"):
        report = _one_cell_report(text)
        line = list(csv.reader(io.StringIO(spreadsheets.write_csv(report))))[1]
        assert line == ["'" + text, "-12.34"]  # a negative amount stays a number
        ws = _book(report)["Test"]
        assert ws["A2"].data_type == "s" and ws["A2"].value == "'" + text
        assert ws["B2"].value == -12.34 and ws["B2"].data_type == "n"


def test_a_big_sheet_reports_its_progress() -> None:
    columns = (Column("name", "Name"), Column("amount", "Amount", "money"))
    rows = tuple((f"row {i}", Money(i, "JPY")) for i in range(2500))
    report = Report("big", "Big", JANUARY, Sheet(columns, rows))
    seen: list[int] = []
    out = io.BytesIO()
    spreadsheets.write_xlsx(report, out, seen.append)
    # Each sheet streams the rows: the report's and the Data sheet's.
    assert seen == [1000, 2000, 3000, 4000, 5000, 5000]
    ws = load_workbook(out)["Big"]
    assert ws.max_row == 2501 and ws["B2501"].value == 2499
    assert ws["B2"].number_format == '#,##0 "JPY"'
    assert ws["A2"].value == "row 0" and isinstance(ws["B3"].value, int)
