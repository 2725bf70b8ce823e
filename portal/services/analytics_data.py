"""The dashboards' figures: aggregates computed in SQL, handed to ``analytics`` as frames, cached.

Every amount is converted to the business's base currency in the query itself: an invoice (and
the part of a payment allocated to it) at the rate fixed on the invoice when it was issued, the
part of a payment no invoice took at the stored exchange rate of the day it was received.

Revenue is net: a refund is taken off in the month it was paid back, converted at the rate fixed
on its credit note, or (a payment's refund) at the stored rate of the day it was paid back.

The cache is keyed by a counter per business (``AnalyticsVersion``) that every transaction which
changes the business itself (its base currency), documents, payments, refunds, clients or
schedules raises just before it commits, in the same transaction; a global counter (business 0)
follows exchange rates and bulk statements. A reader
takes the counters first and the data after, so what it caches is never older than its key.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import Date, and_, case, cast, event, func, literal, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from analytics import charts
from analytics.ageing import BUCKETS, AgeingBucket, days_sales_outstanding
from analytics.cashflow import CashFlowForecast, cash_flow_forecast
from analytics.cohorts import active_counts, cohort_revenue, lifetime_value, retention
from analytics.forecast import RevenueForecast, forecast_revenue
from analytics.revenue import Funnel, funnel, revenue_by_month, top_clients
from analytics.seasonality import Decomposition, decompose
from analytics.too_little import TooLittleData
from portal.billing.money import exponent
from portal.billing.status import OPEN_STATUSES
from portal.extensions import db
from portal.models import (
    AnalyticsVersion,
    Business,
    Client,
    Dispute,
    Document,
    DocumentKind,
    ExchangeRate,
    Payment,
    PaymentAllocation,
    RecurringSchedule,
    Refund,
)
from portal.services.errors import InvalidInput
from portal.services.pricing import business_today
from portal.services.rates import rate_to_base

T = TypeVar("T")

OPEN = tuple(s.value for s in OPEN_STATUSES)
# Issued invoices that count as invoicing: not drafts, not voided.
INVOICED = (*OPEN, "paid", "written_off")
DSO_DAYS = 90
FUNNEL_DAYS = 365
TOP_CLIENTS = 10

# --- invalidation ---------------------------------------------------------------------------

_CHANGED = "analytics_changed"
GLOBAL = 0
_BUSINESS_MODELS = (Document, Payment, Refund, RecurringSchedule, Client, Dispute)
_WATCHED_TABLES = frozenset(
    {
        "businesses",
        "documents",
        "payments",
        "payment_allocations",
        "credit_applications",
        "refunds",
        "recurring_schedules",
        "clients",
        "disputes",
        "exchange_rates",
    }
)


def _business_of(obj: object) -> int | None:
    """The business whose figures a changed row feeds, or the global counter (rates)."""
    if isinstance(obj, Business):
        # Its base currency (and time zone) change every figure.
        return obj.id
    if isinstance(obj, _BUSINESS_MODELS):
        return obj.business_id
    if isinstance(obj, ExchangeRate):
        return GLOBAL
    return None


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: object) -> None:
    changed: set[int] = session.info.setdefault(_CHANGED, set())
    for obj in chain(session.new, session.deleted):
        if (business_id := _business_of(obj)) is not None:
            changed.add(business_id)
    for obj in session.dirty:
        business_id = _business_of(obj)
        if business_id is not None and session.is_modified(obj):
            changed.add(business_id)


@event.listens_for(Session, "do_orm_execute")
def _note_statements(state: Any) -> None:
    """Bulk INSERT/UPDATE/DELETE statements name no business: they raise the global counter."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _WATCHED_TABLES:
        state.session.info.setdefault(_CHANGED, set()).add(GLOBAL)


@event.listens_for(Session, "before_commit")
def _raise_versions(session: Session) -> None:
    # Flush first so the counters are the last rows this transaction locks: a writer holding
    # a counter then only waits for its own COMMIT, so two writers cannot deadlock on them.
    session.flush()
    changed = session.info.pop(_CHANGED, set())
    for business_id in sorted(changed):
        session.execute(_bump(session, business_id))


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def _bump(session: Session, business_id: int) -> Any:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(AnalyticsVersion).values(business_id=business_id, version=1)
    return stmt.on_conflict_do_update(
        index_elements=[AnalyticsVersion.business_id],
        set_={"version": AnalyticsVersion.version + 1},
    )


def data_version(business_id: int) -> tuple[int, int]:
    """(the business's counter, the global counter)."""
    rows = dict(
        db.session.execute(
            select(AnalyticsVersion.business_id, AnalyticsVersion.version).where(
                AnalyticsVersion.business_id.in_((GLOBAL, business_id))
            )
        ).all()
    )
    return int(rows.get(business_id, 0)), int(rows.get(GLOBAL, 0))


# --- the cache ------------------------------------------------------------------------------

_CACHE_SIZE = 256
_cache: OrderedDict[Hashable, Any] = OrderedDict()
_cache_lock = threading.Lock()


def cached(business_id: int, name: str, compute: Callable[[], T], *key: Hashable) -> T:
    """``compute()``'s result, kept until the business's data change (least recently used out)."""
    full = (business_id, name, data_version(business_id), *key)
    with _cache_lock:
        if full in _cache:
            _cache.move_to_end(full)
            return _cache[full]
    value = compute()
    with _cache_lock:
        _cache[full] = value
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


# --- SQL helpers ----------------------------------------------------------------------------


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _month(column: Any) -> ColumnElement[Any]:
    """The first day of the column's month, as the database writes it."""
    if _dialect() == "postgresql":
        # A literal, not a parameter: GROUP BY must repeat the very expression of the SELECT.
        return cast(func.date_trunc(literal_column("'month'"), column), Date)
    return func.strftime("%Y-%m-01", column)


def _days_between(later: Any, earlier: Any) -> ColumnElement[Any]:
    if _dialect() == "postgresql":
        return later - earlier
    return cast(func.julianday(later) - func.julianday(earlier), db.Integer)


def _rate() -> ColumnElement[Any]:
    return func.coalesce(Document.exchange_rate, literal(1))


def to_base_minor(amount: Decimal | int | float, currency: str, base: str) -> int:
    """An amount in ``currency`` minor units, already multiplied by the rate, in ``base`` minor
    units, half up."""
    shift = exponent(base) - exponent(currency)
    value = Decimal(str(amount)) if isinstance(amount, float) else Decimal(amount)
    return int((value.scaleb(shift)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _frame(rows: Iterable[dict[str, Any]], columns: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(columns))
    for column, kind in columns.items():
        if kind == "date":
            frame[column] = pd.to_datetime(frame[column])
        else:
            frame[column] = frame[column].astype(kind)  # type: ignore[call-overload]
    return frame


# --- frames from SQL ------------------------------------------------------------------------


def payments_frame(business: Business) -> tuple[pd.DataFrame, list[str]]:
    """Money received per client and month in base minor units (``client_id``, ``date``,
    ``amount_minor``), and the currencies of payments that could not be converted."""
    base = business.base_currency
    allocated = (
        select(
            Payment.client_id,
            Payment.currency,
            _month(Payment.received_on).label("month"),
            func.sum(PaymentAllocation.amount_minor * _rate()).label("amount"),
        )
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .join(Document, Document.id == PaymentAllocation.document_id)
        .where(Payment.business_id == business.id)
        .group_by(Payment.client_id, Payment.currency, _month(Payment.received_on))
    )
    rows: list[dict[str, Any]] = []
    for client_id, currency, month, amount in db.session.execute(allocated):
        rows.append(
            {
                "client_id": client_id,
                "date": month,
                "amount_minor": to_base_minor(amount, currency, base),
            }
        )
    taken = (
        select(
            PaymentAllocation.payment_id,
            func.sum(PaymentAllocation.amount_minor).label("taken"),
        )
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.business_id == business.id)
        .group_by(PaymentAllocation.payment_id)
        .subquery()
    )
    remainder = Payment.amount_minor - func.coalesce(taken.c.taken, 0)
    credit = (
        select(Payment.client_id, Payment.currency, Payment.received_on, remainder)
        .outerjoin(taken, taken.c.payment_id == Payment.id)
        .where(Payment.business_id == business.id, remainder > 0)
    )
    unconverted: set[str] = set()
    rows.extend(_at_days_rate(db.session.execute(credit), base, unconverted))
    rows.extend(_refund_rows(business, unconverted))
    frame = _frame(rows, {"client_id": "int64", "date": "date", "amount_minor": "int64"})
    return frame, sorted(unconverted)


def _refund_rows(business: Business, unconverted: set[str]) -> list[dict[str, Any]]:
    """Refunds as negative amounts in the month they were paid back: a credit note's at the
    rate fixed on it, a payment's at the stored rate of the day (``unconverted`` hears the
    currencies without one)."""
    base = business.base_currency
    note = Document.__table__.alias("note")
    month = _month(Refund.refunded_on)
    for_notes = (
        select(
            note.c.client_id,
            Refund.currency,
            month.label("month"),
            func.sum(Refund.amount_minor * func.coalesce(note.c.exchange_rate, literal(1))),
        )
        .join(note, note.c.id == Refund.credit_note_id)
        .where(Refund.business_id == business.id)
        .group_by(note.c.client_id, Refund.currency, month)
    )
    rows = [
        {
            "client_id": client_id,
            "date": day,
            "amount_minor": -to_base_minor(amount, currency, base),
        }
        for client_id, currency, day, amount in db.session.execute(for_notes)
    ]
    for_payments = (
        select(
            Payment.client_id, Refund.currency, Refund.refunded_on, func.sum(Refund.amount_minor)
        )
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Refund.business_id == business.id)
        .group_by(Payment.client_id, Refund.currency, Refund.refunded_on)
    )
    rows.extend(_at_days_rate(db.session.execute(for_payments), base, unconverted, sign=-1))
    return rows


def _at_days_rate(
    found: Any, base: str, unconverted: set[str], sign: int = 1
) -> list[dict[str, Any]]:
    """(client_id, currency, day, amount) rows as frame rows in base minor units, each at the
    stored rate of its day; a currency with no rate goes to ``unconverted`` instead."""
    rows = []
    for client_id, currency, day, amount in found:
        try:
            rate = rate_to_base(currency, base, day)
        except InvalidInput:
            unconverted.add(currency)
            continue
        rows.append(
            {
                "client_id": client_id,
                "date": day,
                "amount_minor": sign * to_base_minor(Decimal(amount) * rate, currency, base),
            }
        )
    return rows


def invoiced_frame(business: Business) -> pd.DataFrame:
    """Amounts invoiced per client and month in base minor units: ``client_id``, ``date``,
    ``amount_minor``, ``recurring`` (made by a schedule)."""
    recurring = Document.schedule_id.is_not(None)
    stmt = (
        select(
            Document.client_id,
            Document.currency,
            _month(Document.issue_date).label("month"),
            recurring.label("recurring"),
            func.sum(Document.total_minor * _rate()).label("amount"),
        )
        .where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.INVOICE,
            Document.status.in_(INVOICED),
            Document.issue_date.is_not(None),
        )
        .group_by(Document.client_id, Document.currency, _month(Document.issue_date), recurring)
    )
    rows = [
        {
            "client_id": client_id,
            "date": month,
            "recurring": bool(is_recurring),
            "amount_minor": to_base_minor(amount, currency, business.base_currency),
        }
        for client_id, currency, month, is_recurring, amount in db.session.execute(stmt)
    ]
    return _frame(
        rows,
        {"client_id": "int64", "date": "date", "recurring": "bool", "amount_minor": "int64"},
    )


def open_items_frame(business: Business) -> pd.DataFrame:
    """Open balances per client and due date in base minor units: ``client_id``, ``due_date``,
    ``balance_minor``, ``count``."""
    stmt = (
        select(
            Document.client_id,
            Document.currency,
            Document.due_date,
            func.sum(Document.balance_minor * _rate()),
            func.count(),
        )
        .where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.INVOICE,
            Document.status.in_(OPEN),
            Document.due_date.is_not(None),
        )
        .group_by(Document.client_id, Document.currency, Document.due_date)
    )
    rows = [
        {
            "client_id": client_id,
            "due_date": due,
            "balance_minor": to_base_minor(amount, currency, business.base_currency),
            "count": count,
        }
        for client_id, currency, due, amount, count in db.session.execute(stmt)
    ]
    return _frame(
        rows, {"client_id": "int64", "due_date": "date", "balance_minor": "int64", "count": "int64"}
    )


def paid_dates() -> Any:
    """Per invoice, the day the last payment allocated to it was received."""
    return (
        select(
            PaymentAllocation.document_id.label("document_id"),
            func.max(Payment.received_on).label("paid_on"),
        )
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .group_by(PaymentAllocation.document_id)
        .subquery()
    )


def delays_frame(business: Business) -> pd.DataFrame:
    """Days each paid invoice was paid after its due date (``client_id``, ``days_late``)."""
    paid = paid_dates()
    late = _days_between(paid.c.paid_on, Document.due_date)
    stmt = (
        select(Document.client_id, late.label("days_late"), func.count())
        .join(paid, paid.c.document_id == Document.id)
        .where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.INVOICE,
            Document.status == "paid",
            Document.due_date.is_not(None),
        )
        .group_by(Document.client_id, late)
    )
    result = db.session.execute(stmt).all()
    counts = np.array([r[2] for r in result], dtype=np.int64)
    return pd.DataFrame(
        {
            "client_id": np.repeat(np.array([r[0] for r in result], dtype=np.int64), counts),
            "days_late": np.repeat(np.array([int(r[1]) for r in result], dtype=np.int64), counts),
        }
    )


def funnel_frame(business: Business, as_of: date) -> pd.DataFrame:
    """Invoices sent in the last year: ``sent_at``, ``viewed_at``, ``paid_at`` (days)."""
    paid = paid_dates()
    since = as_of - timedelta(days=FUNNEL_DAYS)
    stmt = (
        select(
            Document.sent_at,
            Document.viewed_at,
            case((Document.status == "paid", paid.c.paid_on), else_=None),
        )
        .outerjoin(paid, paid.c.document_id == Document.id)
        .where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.INVOICE,
            Document.sent_at.is_not(None),
            Document.issue_date >= since,
        )
    )
    rows = db.session.execute(stmt).all()

    def day(value: Any) -> Any:
        if value is None:
            return pd.NaT
        return pd.Timestamp(value.date() if hasattr(value, "date") else value)

    return pd.DataFrame(
        {
            "sent_at": pd.to_datetime([day(r[0]) for r in rows]),
            "viewed_at": pd.to_datetime([day(r[1]) for r in rows]),
            "paid_at": pd.to_datetime([day(r[2]) for r in rows]),
        }
    )


def receivables(business: Business, as_of: date) -> tuple[tuple[AgeingBucket, ...], int]:
    """The ageing buckets (SQL groups by days overdue) and the open total, base minor units."""
    bucket = case(
        (Document.due_date >= as_of, 0),
        (Document.due_date >= as_of - timedelta(days=30), 1),
        (Document.due_date >= as_of - timedelta(days=60), 2),
        (Document.due_date >= as_of - timedelta(days=90), 3),
        else_=4,
    )
    items = (
        select(
            bucket.label("bucket"),
            Document.currency.label("currency"),
            (Document.balance_minor * _rate()).label("amount"),
        )
        .where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.INVOICE,
            Document.status.in_(OPEN),
            Document.due_date.is_not(None),
        )
        .subquery()
    )
    stmt = select(
        items.c.bucket, items.c.currency, func.count(), func.sum(items.c.amount)
    ).group_by(items.c.bucket, items.c.currency)
    counts = [0] * len(BUCKETS)
    balances = [0] * len(BUCKETS)
    for index, currency, count, amount in db.session.execute(stmt):
        counts[int(index)] += int(count)
        balances[int(index)] += to_base_minor(amount, currency, business.base_currency)
    buckets = tuple(
        AgeingBucket(label=label, count=counts[i], balance_minor=balances[i])
        for i, label in enumerate(BUCKETS)
    )
    return buckets, sum(balances)


def invoiced_between(business: Business, start: date, end: date) -> int:
    """Invoiced in [start, end), base minor units."""
    stmt = (
        select(Document.currency, func.sum(Document.total_minor * _rate()))
        .where(
            Document.business_id == business.id,
            Document.kind == DocumentKind.INVOICE,
            Document.status.in_(INVOICED),
            and_(Document.issue_date >= start, Document.issue_date < end),
        )
        .group_by(Document.currency)
    )
    return sum(
        to_base_minor(amount, currency, business.base_currency)
        for currency, amount in db.session.execute(stmt)
    )


def recurring_frame(business: Business, as_of: date) -> pd.DataFrame:
    """Active schedules: ``next_date``, ``frequency``, ``interval_count``, ``amount_minor``."""
    template = Document.__table__.alias("template")
    stmt = (
        select(
            RecurringSchedule.next_run_on,
            RecurringSchedule.frequency,
            RecurringSchedule.interval_count,
            template.c.currency,
            template.c.total_minor,
        )
        .join(template, template.c.id == RecurringSchedule.template_id)
        .where(
            RecurringSchedule.business_id == business.id,
            RecurringSchedule.active.is_(True),
            RecurringSchedule.next_run_on.is_not(None),
        )
    )
    rows = []
    for next_on, frequency, step, currency, total in db.session.execute(stmt):
        try:
            rate = rate_to_base(currency, business.base_currency, as_of)
        except InvalidInput:
            continue
        rows.append(
            {
                "next_date": next_on,
                "frequency": frequency,
                "interval_count": step,
                "amount_minor": to_base_minor(
                    Decimal(total) * rate, currency, business.base_currency
                ),
            }
        )
    return _frame(
        rows,
        {
            "next_date": "date",
            "frequency": "object",
            "interval_count": "int64",
            "amount_minor": "int64",
        },
    )


def client_names(business: Business, ids: Iterable[int]) -> dict[int, str]:
    wanted = list({int(i) for i in ids})
    if not wanted:
        return {}
    stmt = select(Client.id, Client.name).where(
        Client.business_id == business.id, Client.id.in_(wanted)
    )
    return {int(i): str(n) for i, n in db.session.execute(stmt)}


# --- what the pages show --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chart:
    """A figure to draw (``figure_json``) or the plain message to show instead."""

    id: str
    figure_json: str | None
    message: str | None


def chart(chart_id: str, figure: go.Figure | TooLittleData) -> Chart:
    if isinstance(figure, TooLittleData):
        return Chart(chart_id, None, figure.message)
    figure.update_layout(margin={"t": 50, "r": 20, "b": 40, "l": 60}, height=340)
    text = charts.to_json(figure)
    # The JSON sits in a <script> block: no "</script>" from a client's name may end it.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Chart(chart_id, text, None)


def _plain(value: Any) -> Any:
    """Plotly writes numeric arrays as base64 typed arrays (``{"dtype", "bdata", "shape"}``)."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            shape = [int(n) for n in str(value["shape"]).split(",")]
            array = array.reshape(shape)
        return array.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def figure_data(c: Chart) -> list[dict[str, Any]]:
    """The traces of a chart as plain lists, as the page draws them (for tests and the docs)."""
    if c.figure_json is None:
        return []
    return [_plain(trace) for trace in json.loads(c.figure_json)["data"]]


@dataclass(frozen=True, slots=True)
class TopClient:
    client_id: int
    name: str
    amount_minor: int
    share: float


@dataclass(frozen=True, slots=True)
class Overview:
    currency: str
    as_of: date
    revenue: list[tuple[date, int]]
    ageing: tuple[AgeingBucket, ...]
    receivables_minor: int
    dso: Decimal | None
    top_clients: list[TopClient]
    funnel: Funnel
    unconverted: list[str]
    charts: dict[str, Chart]


def minor_per_unit(currency: str) -> int:
    return int(10 ** exponent(currency))


def monthly_revenue(business: Business) -> pd.DataFrame:
    frame, _ = payments_frame(business)
    return revenue_by_month(frame)


def full_months(monthly: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Months before the one ``as_of`` falls in, months without revenue filled with 0."""
    if monthly.empty:
        return monthly
    this_month = pd.Timestamp(as_of).to_period("M").to_timestamp()
    last = this_month - pd.DateOffset(months=1)
    start = monthly["month"].min()
    if start > last:
        return monthly.iloc[0:0]
    months = pd.date_range(start, last, freq="MS")
    series = monthly.set_index("month")["amount_minor"].reindex(months, fill_value=0)
    return pd.DataFrame({"month": months, "amount_minor": series.to_numpy(dtype=np.int64)})


def overview(business: Business, as_of: date | None = None) -> Overview:
    as_of = as_of or business_today(business)
    return cached(business.id, "overview", lambda: _overview(business, as_of), as_of)


def _overview(business: Business, as_of: date) -> Overview:
    base = business.base_currency
    unit = minor_per_unit(base)
    payments, unconverted = payments_frame(business)
    monthly = revenue_by_month(payments)
    buckets, open_total = receivables(business, as_of)
    invoiced = invoiced_between(business, as_of - timedelta(days=DSO_DAYS), as_of)
    dso = days_sales_outstanding(open_total, invoiced, DSO_DAYS)
    ranked: list[TopClient] = []
    if not payments.empty:
        top = top_clients(payments, TOP_CLIENTS)
        names = client_names(business, top["client_id"])
        ranked = [
            TopClient(int(client), names.get(int(client), "?"), int(amount), float(share))
            for client, amount, share in zip(
                top["client_id"].tolist(),
                top["amount_minor"].tolist(),
                top["share"].tolist(),
                strict=True,
            )
        ]
    steps = funnel(funnel_frame(business, as_of))
    return Overview(
        currency=base,
        as_of=as_of,
        revenue=[
            (m.date(), int(a))
            for m, a in zip(monthly["month"], monthly["amount_minor"], strict=True)
        ],
        ageing=buckets,
        receivables_minor=open_total,
        dso=dso,
        top_clients=ranked,
        funnel=steps,
        unconverted=unconverted,
        charts={
            "revenue": chart("revenue-chart", charts.revenue_chart(monthly, unit)),
            "ageing": chart("ageing-chart", charts.ageing_chart(buckets, unit)),
            "top-clients": chart("top-clients-chart", _top_clients_chart(ranked, unit)),
            "funnel": chart("funnel-chart", _funnel_chart(steps)),
        },
    )


def _top_clients_chart(ranked: list[TopClient], unit: int) -> go.Figure | TooLittleData:
    if not ranked:
        return TooLittleData("No payments received yet.", have=0, need=1)
    fig = go.Figure(
        go.Bar(
            x=[c.amount_minor / unit for c in ranked],
            y=[c.name for c in ranked],
            orientation="h",
            text=[f"{c.share * 100:.1f}%" for c in ranked],
            name="Revenue",
        )
    )
    fig.update_layout(title="Top clients by revenue", xaxis_title="Revenue")
    fig.update_yaxes(autorange="reversed")
    return fig


def _funnel_chart(steps: Funnel) -> go.Figure | TooLittleData:
    if steps.sent == 0:
        return TooLittleData("No invoices sent in the last year.", have=0, need=1)
    fig = go.Figure(
        go.Funnel(
            y=["Sent", "Viewed", "Paid"],
            x=[steps.sent, steps.viewed, steps.paid],
            textinfo="value+percent initial",
        )
    )
    fig.update_layout(title="Invoices sent in the last year: sent → viewed → paid")
    return fig


def _forecast(monthly: pd.DataFrame) -> RevenueForecast | TooLittleData:
    if monthly.empty:
        return TooLittleData(
            "A forecast needs two full years of monthly revenue; there are 0 months so far.",
            have=0,
            need=24,
        )
    return forecast_revenue(monthly)


@dataclass(frozen=True, slots=True)
class Forecasts:
    currency: str
    as_of: date
    revenue: RevenueForecast | TooLittleData
    cash: CashFlowForecast | None
    charts: dict[str, Chart]


def forecasts(business: Business, as_of: date | None = None) -> Forecasts:
    as_of = as_of or business_today(business)
    return cached(business.id, "forecasts", lambda: _forecasts(business, as_of), as_of)


def _forecasts(business: Business, as_of: date) -> Forecasts:
    unit = minor_per_unit(business.base_currency)
    revenue = _forecast(full_months(monthly_revenue(business), as_of))
    invoiced = invoiced_frame(business)
    one_off = revenue_by_month(invoiced[~invoiced["recurring"]])
    new_invoicing = _forecast(full_months(one_off, as_of))
    open_items = open_items_frame(business)
    history = delays_frame(business)
    cash: CashFlowForecast | None = None
    if not open_items.empty or not history.empty:
        items = open_items.loc[open_items.index.repeat(open_items["count"])]
        # A group of invoices on one day is split evenly; the remainder goes to the first.
        share = items["balance_minor"] // items["count"]
        first = ~items.index.duplicated(keep="first")
        extra = (items["balance_minor"] - share * items["count"]).where(first, 0)
        items = items.assign(balance_minor=(share + extra).astype(np.int64))
        cash = cash_flow_forecast(
            items.reset_index(drop=True),
            history,
            as_of,
            recurring=recurring_frame(business, as_of),
            new_invoicing=None if isinstance(new_invoicing, TooLittleData) else new_invoicing,
        )
    nothing = TooLittleData("No open invoices and no payment history yet.", have=0, need=1)
    return Forecasts(
        currency=business.base_currency,
        as_of=as_of,
        revenue=revenue,
        cash=cash,
        charts={
            "cash-weekly": chart(
                "cash-weekly-chart",
                charts.cash_flow_chart(cash, True, unit) if cash else nothing,
            ),
            "cash-monthly": chart(
                "cash-monthly-chart",
                charts.cash_flow_chart(cash, False, unit) if cash else nothing,
            ),
            "revenue-forecast": chart(
                "revenue-forecast-chart", charts.forecast_chart(revenue, unit)
            ),
        },
    )


@dataclass(frozen=True, slots=True)
class Cohorts:
    currency: str
    retention: pd.DataFrame
    revenue: pd.DataFrame
    lifetime_value: pd.DataFrame
    charts: dict[str, Chart]


def cohorts(business: Business) -> Cohorts:
    return cached(business.id, "cohorts", lambda: _cohorts(business))


def _cohorts(business: Business) -> Cohorts:
    unit = minor_per_unit(business.base_currency)
    transactions = invoiced_frame(business)
    if transactions.empty:
        empty = pd.DataFrame()
        message = TooLittleData("No invoices yet.", have=0, need=1)
        return Cohorts(
            business.base_currency,
            empty,
            empty,
            empty,
            {
                name: chart(f"{name}-chart", message)
                for name in ("retention", "cohort-revenue", "ltv")
            },
        )
    shares = retention(active_counts(transactions))
    money = cohort_revenue(transactions)
    ltv = lifetime_value(transactions)
    return Cohorts(
        business.base_currency,
        shares,
        money,
        ltv,
        {
            "retention": chart("retention-chart", charts.cohort_heatmap(shares)),
            "cohort-revenue": chart("cohort-revenue-chart", _revenue_heatmap(money, unit)),
            "ltv": chart("ltv-chart", _ltv_chart(ltv, unit)),
        },
    )


def _revenue_heatmap(money: pd.DataFrame, unit: int) -> go.Figure:
    values = money.astype("float64").to_numpy() / unit
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=[f"M{k}" for k in money.columns],
            y=[str(c) for c in money.index],
            colorscale="Greens",
            hoverongaps=False,
            colorbar={"title": "Revenue"},
        )
    )
    fig.update_layout(title="Revenue per cohort by months since first invoice")
    fig.update_yaxes(autorange="reversed")
    return fig


def _ltv_chart(ltv: pd.DataFrame, unit: int) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=[str(c) for c in ltv.index],
            y=ltv["ltv_minor"].to_numpy() / unit,
            text=[f"{n} clients" for n in ltv["clients"]],
            name="Lifetime value",
        )
    )
    fig.update_layout(title="Lifetime value per client, by cohort", yaxis_title="Revenue")
    return fig


@dataclass(frozen=True, slots=True)
class Seasonality:
    currency: str
    decomposition: Decomposition | TooLittleData
    charts: dict[str, Chart]


def seasonality(business: Business, as_of: date | None = None) -> Seasonality:
    as_of = as_of or business_today(business)
    return cached(business.id, "seasonality", lambda: _seasonality(business, as_of), as_of)


def _seasonality(business: Business, as_of: date) -> Seasonality:
    unit = minor_per_unit(business.base_currency)
    months = full_months(monthly_revenue(business), as_of)
    series = pd.Series(
        months["amount_minor"].to_numpy(dtype=np.float64) / unit,
        index=pd.DatetimeIndex(months["month"]),
    )
    result = (
        decompose(series)
        if len(series)
        else TooLittleData(
            "Seasonality needs two full years of monthly revenue; there are 0 months so far.",
            have=0,
            need=24,
        )
    )
    return Seasonality(
        business.base_currency,
        result,
        {"seasonality": chart("seasonality-chart", charts.seasonality_chart(result))},
    )
