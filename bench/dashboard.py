"""Analytics dashboard benchmark: the overview page against the raw SQL aggregates it needs.

What is measured: the time of ``GET /app/analytics/`` (logged in as the owner, through Flask's
test client in this process) for a business with 100,000 invoices, warm (its aggregates already
computed once), and the time of a bare endpoint on the same app that runs the very SQL
statements the page's aggregates are computed from (recorded while the page was first drawn,
replayed with the same parameters) and answers their row counts, with no log-in, conversion,
analysis, figure or template.

Why: the aggregate queries are what a dashboard without a cache pays on every view. The ratio
page/SQL says what the page costs compared with them; the target is 3 or less. The figures are
medians over interleaved rounds, so load from other processes that comes and goes between
rounds does not tilt them. The page's first (cold) time is printed too.

Run it small while editing, in full for a figure::

    python bench/dashboard.py --invoices 5000 --seconds 1
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/invoice_lite_test_bench_dashboard \
        python bench/dashboard.py

It builds its own database (SQLite in a temporary directory, or the PostgreSQL database named by
``DATABASE_URL``, which must contain "bench" and is dropped and recreated first). Rows are
inserted in bulk, not through the services, but they are what the services would write: numbered
invoices with one line and their totals, payments allocated to them, balances and statuses that
agree. The last line is ``dashboard_ratio: R``; the exit status is 0 whether or not the target is
met.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from flask_migrate import upgrade
from sqlalchemy import event, insert
from sqlalchemy.engine import make_url
from tqdm import tqdm

# bench/analytics.py would shadow the analytics package: the project root comes first.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))
_spec = importlib.util.spec_from_file_location("bench_pages", HERE / "pages.py")
assert _spec is not None and _spec.loader is not None
pages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pages)

from portal.extensions import db  # noqa: E402
from portal.models import (  # noqa: E402
    Business,
    Client,
    Document,
    DocumentKind,
    DocumentLine,
    Payment,
    PaymentAllocation,
)
from portal.models.base import new_public_id  # noqa: E402
from portal.services import analytics_data  # noqa: E402
from portal.services.auth import SignUp, sign_up  # noqa: E402

TARGET_RATIO = 3.0
ROUNDS = 10
WARMUP = 5
CHUNK = 2000
CLIENTS = 600
MONTHS = 36
USD_SHARE = 0.15
USD_RATE = Decimal("0.92")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000, help="invoices to seed")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per side")
    args = parser.parse_args()
    if args.invoices < 1 or args.seconds <= 0:
        parser.error("--invoices must be 1 or more and --seconds more than 0")
    return args


# --- seeding --------------------------------------------------------------------------------


def seed(invoices: int, today: date, rng: random.Random) -> int:
    _, business = sign_up(
        SignUp(
            email=pages.OWNER_EMAIL,
            password=pages.OWNER_PASSWORD,
            name="Bench",
            business_name="Bench Ltd",
        )
    )
    now = datetime.now(UTC)
    client_rows = []
    for n in range(CLIENTS):
        currency = "USD" if rng.random() < USD_SHARE else "EUR"
        client_rows.append(
            {
                "public_id": new_public_id(),
                "business_id": business.id,
                "name": f"Client {n:04d}",
                "sort_name": f"client {n:04d}",
                "email": f"ap{n}@client{n}.example.com",
                "currency": currency,
                "created_at": now,
                "updated_at": now,
            }
        )
    ids = db.session.scalars(
        insert(Client).returning(Client.id, sort_by_parameter_order=True), client_rows
    ).all()
    clients = [(i, row["currency"]) for i, row in zip(ids, client_rows, strict=True)]
    # Each client pays with its own habit: days after the due date, and how often never.
    habits = {i: (rng.choice((-5, 0, 7, 20, 45)), rng.choice((0.0, 0.02, 0.1))) for i, _ in clients}
    start = today - timedelta(days=30 * MONTHS)
    days = (today - start).days
    numbers: dict[tuple[str, int], int] = {}
    with tqdm(total=invoices, desc="seeding invoices", unit="invoice") as progress:
        for first in range(0, invoices, CHUNK):
            count = min(CHUNK, invoices - first)
            plan = sorted(
                (start + timedelta(days=rng.randrange(days)), *rng.choice(clients))
                for _ in range(count)
            )
            _insert_chunk(business, plan, habits, numbers, today, rng)
            db.session.commit()
            progress.update(count)
    return business.id


def _insert_chunk(
    business: Business,
    plan: list[tuple[date, int, str]],
    habits: dict[int, tuple[int, float]],
    numbers: dict[tuple[str, int], int],
    today: date,
    rng: random.Random,
) -> None:
    docs, lines, pays = [], [], []
    for issued, client_id, currency in plan:
        quantity = rng.choice((1, 1, 2, 3, 5))
        price_minor = rng.randrange(5_000, 200_000)
        total = quantity * price_minor
        due = issued + timedelta(days=30)
        mean_late, never = habits[client_id]
        paid_on = due + timedelta(days=round(rng.gauss(mean_late, 6)))
        paid = paid_on <= today and rng.random() >= never
        key = (str(issued.year), issued.year)
        numbers[key] = numbers.get(key, 0) + 1
        at = datetime.combine(issued, clock(9), tzinfo=UTC)
        sent = rng.random() < 0.9
        viewed = sent and rng.random() < 0.8
        status = "paid" if paid else ("viewed" if viewed else "sent" if sent else "issued")
        docs.append(
            {
                "public_id": new_public_id(),
                "business_id": business.id,
                "client_id": client_id,
                "kind": DocumentKind.INVOICE,
                "status": status,
                "number": f"INV-{issued.year}-{numbers[key]:06d}",
                "issue_date": issued,
                "due_date": due,
                "currency": currency,
                "exchange_rate": USD_RATE if currency == "USD" else None,
                "net_minor": total,
                "tax_minor": 0,
                "total_minor": total,
                "amount_due_minor": total,
                "balance_minor": 0 if paid else total,
                "breakdown": [],
                "issued_at": at,
                "sent_at": at + timedelta(hours=1) if sent else None,
                "viewed_at": at + timedelta(days=rng.randrange(1, 6)) if viewed else None,
                "created_at": at,
                "updated_at": at,
            }
        )
        lines.append({"quantity": Decimal(quantity), "price_minor": price_minor, "total": total})
        pays.append((paid_on if paid else None, client_id, currency, total))
    doc_ids = db.session.scalars(
        insert(Document).returning(Document.id, sort_by_parameter_order=True), docs
    ).all()
    db.session.execute(
        insert(DocumentLine),
        [
            {
                "document_id": doc_id,
                "position": 0,
                "description": "Services",
                "quantity": line["quantity"],
                "unit_price": Decimal(line["price_minor"]) / 100,
                "net_minor": line["total"],
                "total_minor": line["total"],
                "taxes": [],
            }
            for doc_id, line in zip(doc_ids, lines, strict=True)
        ],
    )
    paid_docs = [(d, p) for d, p in zip(doc_ids, pays, strict=True) if p[0] is not None]
    if not paid_docs:
        return
    now = datetime.now(UTC)
    pay_ids = db.session.scalars(
        insert(Payment).returning(Payment.id, sort_by_parameter_order=True),
        [
            {
                "public_id": new_public_id(),
                "business_id": business.id,
                "client_id": client_id,
                "received_on": paid_on,
                "amount_minor": total,
                "currency": currency,
                "method": "bank_transfer",
                "created_at": now,
                "updated_at": now,
            }
            for _, (paid_on, client_id, currency, total) in paid_docs
        ],
    ).all()
    db.session.execute(
        insert(PaymentAllocation),
        [
            {"payment_id": pay_id, "document_id": doc_id, "amount_minor": p[3]}
            for pay_id, (doc_id, p) in zip(pay_ids, paid_docs, strict=True)
        ],
    )


# --- the two sides --------------------------------------------------------------------------


def record_queries(app: Flask, business_id: int, today: date) -> list[tuple[str, Any]]:
    """The SQL the overview's aggregates run, captured while computing them once."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    with app.app_context():
        business = db.session.get(Business, business_id)
        assert business is not None
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            analytics_data._overview(business, today)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
    return statements


def add_bare_endpoint(app: Flask, statements: list[tuple[str, Any]]) -> None:
    def bare_sql() -> ResponseReturnValue:
        counts = []
        connection = db.session.connection()
        for statement, parameters in statements:
            rows = connection.exec_driver_sql(statement, parameters).fetchall()
            counts.append(len(rows))
        return jsonify(counts)

    app.add_url_rule("/bench/bare-sql", "bench_bare_sql", bare_sql)


def timer(send: Callable[[], Any], seconds: float) -> float:
    """Mean seconds per call over about ``seconds``."""
    gc.collect()
    count, start = 0, time.perf_counter()
    while True:
        send()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / count


def main() -> None:
    args = parse_args()
    today = date.today()
    with tempfile.TemporaryDirectory(prefix="invoice-lite-bench-") as tmp:
        os.environ["INVOICE_LITE_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        app = pages.make_app(pages.database_url(Path(tmp)))
        started = time.perf_counter()
        with app.app_context():
            upgrade()
            business_id = seed(args.invoices, today, random.Random(7))
            pages.analyze_if_postgres()
        print(f"database: {make_url(app.config['SQLALCHEMY_DATABASE_URI']).get_backend_name()}")
        print(f"invoices: {args.invoices}")
        print(f"setup_seconds: {time.perf_counter() - started:.1f}", flush=True)

        statements = record_queries(app, business_id, today)
        add_bare_endpoint(app, statements)
        client = pages.logged_in_client(app)
        bare_client = app.test_client()

        def page() -> None:
            response = client.get("/app/analytics/")
            if response.status_code != 200 or b'data-plotly="revenue-chart-figure"' not in (
                response.data
            ):
                sys.exit(f"the dashboard answered {response.status_code} without its charts")

        def sql() -> None:
            response = bare_client.get("/bench/bare-sql")
            if response.status_code != 200:
                sys.exit(f"the bare SQL endpoint answered {response.status_code}")

        analytics_data.clear_cache()
        cold_start = time.perf_counter()
        page()
        cold = time.perf_counter() - cold_start
        for _ in range(WARMUP):
            page()
            sql()
        per_round = args.seconds / ROUNDS
        page_times, sql_times, ratios = [], [], []
        for round_no in range(ROUNDS):
            if round_no % 2 == 0:
                p, s = timer(page, per_round), timer(sql, per_round)
            else:
                s, p = timer(sql, per_round), timer(page, per_round)
            page_times.append(p)
            sql_times.append(s)
            ratios.append(p / s)
        with app.app_context():
            db.engine.dispose()

    ratio = statistics.median(ratios)
    print(f"aggregate_statements: {len(statements)}")
    print(f"rounds: {ROUNDS} x {per_round:.2f} s per side, interleaved")
    print(f"dashboard_cold_ms: {cold * 1000:.1f}")
    print(f"dashboard_warm_ms: {statistics.median(page_times) * 1000:.2f}")
    print(f"sql_ms: {statistics.median(sql_times) * 1000:.2f}")
    print(f"target_ratio: {TARGET_RATIO}")
    print(f"target: {'met' if ratio <= TARGET_RATIO else 'missed'}")
    print(f"dashboard_ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
