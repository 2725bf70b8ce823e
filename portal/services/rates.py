"""Exchange rates: the ECB's CSV in, the rate for an invoice out."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from portal.extensions import db
from portal.models import ExchangeRate
from portal.services.errors import InvalidInput
from portal.services.validation import check_currency

EURO = "EUR"


@dataclass(frozen=True, slots=True)
class ImportReport:
    days: int
    rates: int
    currencies: tuple[str, ...]


def parse_ecb_csv(text: str) -> list[tuple[date, str, Decimal]]:
    """Read the ECB's layout: ``Date,USD,JPY,…`` then one row per day; ``N/A`` is skipped.

    Every problem names the row and column, and nothing is stored unless all rows read.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInput({"file": "The file is empty."}) from None
    if not header or header[0] != "Date":
        raise InvalidInput({"file": "The first column must be 'Date' (the ECB's CSV layout)."})
    currencies = [h for h in header[1:] if h]
    for code in currencies:
        if check_currency(code) is not None:
            raise InvalidInput({"file": f"Column {code!r} is not an ISO 4217 currency code."})
    rows: list[tuple[date, str, Decimal]] = []
    for number, row in enumerate(reader, start=2):
        if not row or not row[0].strip():
            continue
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise InvalidInput(
                {"file": f"Row {number}: {row[0]!r} is not a date like 2026-11-24."}
            ) from None
        for code, raw in zip(currencies, row[1:], strict=False):
            value = raw.strip()
            if not value or value == "N/A":
                continue
            try:
                rate = Decimal(value)
            except InvalidOperation:
                raise InvalidInput(
                    {"file": f"Row {number}, {code}: {value!r} is not a number."}
                ) from None
            if not rate.is_finite() or rate <= 0:
                raise InvalidInput({"file": f"Row {number}, {code}: a rate must be above 0."})
            rows.append((day, code, rate))
    return rows


def import_ecb_csv(text: str, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Insert or replace the rates of the file in one transaction."""
    rows = parse_ecb_csv(text)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        stmt = insert(ExchangeRate).values(
            [{"rate_date": d, "currency": c, "per_euro": r} for d, c, r in chunk]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["currency", "rate_date"], set_={"per_euro": stmt.excluded.per_euro}
        )
        db.session.execute(stmt)
        if progress is not None:
            progress(len(chunk))
    db.session.commit()
    return ImportReport(
        days=len({d for d, _, _ in rows}),
        rates=len(rows),
        currencies=tuple(sorted({c for _, c, _ in rows})),
    )


def _per_euro(currency: str, on: date) -> Decimal | None:
    if currency == EURO:
        return Decimal(1)
    return db.session.scalar(
        select(ExchangeRate.per_euro)
        .where(ExchangeRate.currency == currency, ExchangeRate.rate_date <= on)
        .order_by(ExchangeRate.rate_date.desc())
        .limit(1)
    )


def rate_to_base(currency: str, base: str, on: date) -> Decimal:
    """Units of ``base`` for one unit of ``currency``, from the last rates on or before ``on``."""
    if currency == base:
        return Decimal(1)
    source, target = _per_euro(currency, on), _per_euro(base, on)
    if source is None or target is None:
        missing = currency if source is None else base
        raise InvalidInput(
            {
                "exchange_rate": (
                    f"No exchange rate for {missing} on or before {on.isoformat()}: "
                    "enter the rate, or import the ECB rates."
                )
            }
        )
    return (Decimal(target) / Decimal(source)).quantize(Decimal("1.0000000000"))
