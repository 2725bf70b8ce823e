"""What every report is made of: a period, columns, rows, totals per currency, a flat data sheet.

Cells hold plain values: ``str``, ``date``, ``Money`` (exact, with its currency), ``Decimal``
(rates and percentages) or ``int`` (counts). The page, the CSV and the Excel file are three
renderings of the same ``Report``; none of them computes a figure.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from portal.billing.money import Money
from portal.services.errors import InvalidInput

Cell = str | int | date | Decimal | Money | None
Kind = Literal["text", "date", "month", "money", "rate", "percent", "count"]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    kind: Kind = "text"


@dataclass(frozen=True, slots=True)
class Sheet:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def index(self, key: str) -> int:
        for i, column in enumerate(self.columns):
            if column.key == key:
                return i
        raise KeyError(key)

    def records(self) -> list[dict[str, Cell]]:
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date

    @classmethod
    def month_of(cls, day: date) -> Period:
        last = calendar.monthrange(day.year, day.month)[1]
        return cls(day.replace(day=1), day.replace(day=last))


@dataclass(frozen=True, slots=True)
class Report:
    slug: str
    title: str
    period: Period
    sheet: Sheet
    # Rows shown above the records (a statement's opening balances) and below them (totals);
    # aligned with ``sheet.columns``, the label in the first column.
    lead: tuple[tuple[Cell, ...], ...] = ()
    totals: tuple[tuple[Cell, ...], ...] = ()
    # One row per record, no totals: what a pivot table wants. The sheet itself when None.
    data: Sheet | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    subject: str = ""  # who or what the report is about (a statement's client)

    @property
    def data_sheet(self) -> Sheet:
        return self.data if self.data is not None else self.sheet

    @property
    def filename(self) -> str:
        return f"{self.slug}-{self.period.start.isoformat()}_{self.period.end.isoformat()}"


def parse_period(raw: Mapping[str, str], today: date) -> Period:
    """``from`` and ``to`` as ISO dates; either left empty means this month's first or last day."""
    default = Period.month_of(today)
    errors: dict[str, str] = {}
    values: dict[str, date] = {}
    for key, fallback in (("from", default.start), ("to", default.end)):
        text = (raw.get(key) or "").strip()
        if not text:
            values[key] = fallback
            continue
        try:
            values[key] = date.fromisoformat(text)
        except ValueError:
            errors[key] = f"{text!r} is not a date; enter one like {fallback.isoformat()}."
    if errors:
        raise InvalidInput(errors)
    if values["to"] < values["from"]:
        raise InvalidInput({"to": "The end of the period comes before its start."})
    return Period(values["from"], values["to"])


def month(day: date) -> date:
    """The month a day falls in, as its first day: a date cell, formatted as a month."""
    return day.replace(day=1)


def money(minor: int | None, currency: str) -> Money:
    return Money(int(minor or 0), currency)


def totals_by_currency(
    sheet: Sheet, *, label_key: str, currency_key: str = "currency", sum_keys: Sequence[str]
) -> tuple[tuple[Cell, ...], ...]:
    """One totals row per currency, summing the named money columns; amounts in different
    currencies are never added together."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(sum_keys, 0))
    at = sheet.index(currency_key)
    positions = {key: sheet.index(key) for key in sum_keys}
    for row in sheet.rows:
        currency = str(row[at])
        for key, i in positions.items():
            value = row[i]
            if isinstance(value, Money):
                sums[currency][key] += value.minor
    return tuple(
        total_row(
            sheet,
            {label_key: f"Total {currency}", currency_key: currency}
            | {key: Money(minor, currency) for key, minor in sums[currency].items()},
        )
        for currency in sorted(sums)
    )


def total_row(sheet: Sheet, values: Mapping[str, Cell]) -> tuple[Cell, ...]:
    return tuple(values.get(c.key) for c in sheet.columns)


def rows_of(
    records: Iterable[Mapping[str, Cell]], columns: Sequence[Column]
) -> tuple[tuple[Cell, ...], ...]:
    return tuple(tuple(r.get(c.key) for c in columns) for r in records)
