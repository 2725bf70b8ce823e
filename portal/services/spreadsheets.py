"""A report as CSV or as an Excel workbook (openpyxl), cell types kept.

Excel: amounts are numeric cells written from ``Decimal`` with their currency's number format
(``#,##0.00 "EUR"``, ``#,##0 "JPY"``), dates are date cells, the header row is frozen and
filtered, the totals follow the records below a blank row (outside the filter, so sorting never
moves them), and a second sheet "Data" holds one row per record for a pivot table. The sheets are
streamed (write-only mode): memory stays flat however many rows there are.

Text typed by people (a client's name, a reference) goes through ``safe_cell`` in both formats,
so no cell starts a formula; numbers and dates are written as what they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell as XlCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from portal.billing.money import Money, exponent
from portal.services.client_portal import safe_cell
from portal.services.reports.tables import Cell, Column, Report, Sheet

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "yyyy-mm-dd"
MONTH_FORMAT = "yyyy-mm"
RATE_FORMAT = "0.0000######"
PERCENT_FORMAT = "0.####"
PROGRESS_EVERY = 1000
MAX_TITLE = 31  # Excel's limit for a sheet name
WIDTHS = {"date": 12, "month": 10, "money": 16, "rate": 14, "percent": 8, "count": 10}

Progress = Callable[[int], None]


def currency_format(currency: str) -> str:
    """A number format that shows the currency's own number of decimals and its code."""
    places = exponent(currency)
    digits = "#,##0" + ("." + "0" * places if places else "")
    return f'{digits} "{currency}"'


# --- CSV --------------------------------------------------------------------------------


def csv_value(value: Cell, column: Column) -> str:
    if value is None:
        return ""
    if isinstance(value, Money):
        return str(value.to_decimal())
    if isinstance(value, date):
        return value.strftime("%Y-%m") if column.kind == "month" else value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, int):
        return str(value)
    return safe_cell(value)


def write_csv(report: Report) -> str:
    """The report as on screen: header, opening rows, records, totals; amounts as plain
    decimals (a dot, no grouping) beside a currency column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = report.sheet.columns
    writer.writerow([c.label for c in columns])
    for row in (*report.lead, *report.sheet.rows, *report.totals):
        writer.writerow([csv_value(v, c) for v, c in zip(row, columns, strict=True)])
    return out.getvalue()


# --- Excel ------------------------------------------------------------------------------


class _Cells:
    """Typed, formatted cells for one write-only sheet; styles are shared, not copied."""

    def __init__(self, ws: WriteOnlyWorksheet) -> None:
        self.ws = ws
        self.bold = Font(bold=True)

    def cell(self, value: Cell, column: Column, *, bold: bool = False) -> XlCell:
        cell = WriteOnlyCell(self.ws, value=self._value(value))
        if isinstance(value, Money):
            cell.number_format = currency_format(value.currency)
        elif isinstance(value, date):
            cell.number_format = MONTH_FORMAT if column.kind == "month" else DATE_FORMAT
        elif isinstance(value, Decimal):
            cell.number_format = PERCENT_FORMAT if column.kind == "percent" else RATE_FORMAT
        if bold:
            cell.font = self.bold
        return cell

    @staticmethod
    def _value(value: Cell) -> Any:
        if isinstance(value, Money):
            # openpyxl writes a Decimal with 16 significant digits: exact for any amount
            # a spreadsheet's double can hold to the cent.
            return value.to_decimal()
        if isinstance(value, str):
            return safe_cell(value)
        return value


def _sheet(
    wb: Workbook,
    title: str,
    sheet: Sheet,
    summary: Sequence[Sequence[Cell]] = (),
    progress: Progress | None = None,
    done: int = 0,
) -> int:
    ws = wb.create_sheet(title[:MAX_TITLE])
    columns = sheet.columns
    for i, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = WIDTHS.get(
            column.kind, max(14, len(column.label) + 2)
        )
    # Both must be set before the first row is streamed.
    ws.freeze_panes = "A2"
    cells = _Cells(ws)
    ws.append([cells.cell(c.label, Column(c.key, c.label), bold=True) for c in columns])
    for row in sheet.rows:
        ws.append([cells.cell(v, c) for v, c in zip(row, columns, strict=True)])
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done)
    last = get_column_letter(len(columns))
    ws.auto_filter.ref = f"A1:{last}{len(sheet.rows) + 1}"
    if summary:
        ws.append([])
        for line in summary:
            ws.append([cells.cell(v, c, bold=True) for v, c in zip(line, columns, strict=True)])
    return done


def write_xlsx(report: Report, target: IO[bytes] | Path, progress: Progress | None = None) -> None:
    """The report's sheet (records, then its opening and totals rows), and the Data sheet."""
    wb = Workbook(write_only=True)
    wb.properties.title = report.title
    wb.properties.subject = report.subject or report.title
    done = _sheet(wb, report.title, report.sheet, (*report.lead, *report.totals), progress)
    done = _sheet(wb, "Data", report.data_sheet, (), progress, done)
    if report.notes:
        _notes(wb, report)
    wb.save(target)
    if progress is not None:
        progress(done)


def _notes(wb: Workbook, report: Report) -> None:
    ws = wb.create_sheet("Notes")
    ws.column_dimensions["A"].width = 120
    period = f"{report.period.start.isoformat()} to {report.period.end.isoformat()}"
    lines: Iterable[str] = (
        report.title + (f": {report.subject}" if report.subject else ""),
        period,
        *report.notes,
    )
    for line in lines:
        ws.append([safe_cell(line)])


def xlsx_bytes(report: Report) -> bytes:
    out = io.BytesIO()
    write_xlsx(report, out)
    return out.getvalue()


def row_count(report: Report) -> int:
    """Rows the Excel writer streams: what a job's progress counts."""
    return len(report.sheet.rows) + len(report.data_sheet.rows)
