"""Invoice benchmark: the totals engine on a long invoice, and the invoice list against its SQL.

What is measured, in two parts:

1. ``compute_totals`` on one 500-line invoice in CAD: quantities with decimals, GST 5 %, PST 7 %
   and QST 9.975 % compounding on GST, percent discounts, tax-inclusive prices, a document
   allowance and a shipping charge. Called for about two seconds; the median call is printed.
2. Requests per second of ``GET /app/invoices/?status=partially_paid`` and of
   ``GET /app/invoices/?overdue=1&sort=due`` as the filter form sends them (``HX-Request: true``,
   logged in as the owner, one page of 50), through Flask's test client in this process, against
   a bare endpoint on the same app that runs the *same SQL* (``filtered`` in the list's order,
   limit page + 1, the same ``selectinload`` of the client, and the counts per status grouped
   over ``filtered`` without the status) and answers JSON, with no log-in, session or template.

Why: the database work is the floor no view can go below; portal/bare says what share of a
request the portal spends on it rather than on log-in, the actor, the filter form's data and the
template. As in ``bench/pages.py`` (whose set-up and timing this reuses) both sides run in the
same process in interleaved rounds; requests/s are medians over rounds and the ratio is the
median of per-round ratios. The target is 0.5 or more for the first scenario.

Run it small while editing, in full for a figure::

    python bench/invoices.py --invoices 2000 --seconds 1
    python bench/invoices.py
    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/invoice_lite_bench_inv
    python bench/invoices.py

It builds its own database: a SQLite file in a temporary directory, or the PostgreSQL database
named by ``DATABASE_URL`` (on 127.0.0.1, with "bench" in its name), dropped and recreated first.
The last line is ``invoice_list_ratio: R``; the exit status is 0 whether or not the target is met.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# The project root before this folder: bench/analytics.py would hide the analytics package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from flask_migrate import upgrade
from pages import (
    OWNER_EMAIL,
    OWNER_PASSWORD,
    ROUNDS,
    TARGET_RATIO,
    analyze_if_postgres,
    database_url,
    logged_in_client,
    make_app,
    measure,
    sender,
)
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import selectinload
from tqdm import tqdm

from portal.billing.lines import LineInput
from portal.billing.tax import TaxRate
from portal.billing.totals import DocumentAllowance, DocumentCharge, DocumentInput, compute_totals
from portal.extensions import db
from portal.models import Business, Client, Document, DocumentKind, Role, User
from portal.models.base import new_public_id
from portal.services.actors import Actor
from portal.services.auth import SignUp, sign_up
from portal.services.document_list import FAR_FUTURE, DocumentFilter, filtered

TOTALS_LINES = 500
TOTALS_SECONDS = 2.0
CLIENTS = 2_000
MONTHS = 24
CHUNK = 2_000

GST = TaxRate("S", Decimal(5), "GST")
PST = TaxRate("S", Decimal(7), "PST")
QST = TaxRate("S", Decimal("9.975"), "QST", compound=True)
LINE_TAXES = ((GST,), (GST, PST), (GST, QST))
QUANTITIES = tuple(Decimal(q) for q in ("1", "2", "0.5", "2.75", "12", "0.3333", "7.125", "40"))
DISCOUNTS = tuple(Decimal(d) for d in ("5", "10", "12.5"))

CURRENCIES = ("EUR", "EUR", "USD", "GBP")
TAX_PERCENT = {"EUR": Decimal(20), "USD": Decimal("8.25"), "GBP": Decimal(20)}
# Shares of statuses for invoices of the last six weeks and for older ones: recent invoices are
# still being sent and paid; old ones are mostly settled, a few are late (the overdue list).
RECENT_DAYS = 42
RECENT_STATUSES = {
    "draft": 15,
    "issued": 15,
    "sent": 35,
    "partially_paid": 10,
    "paid": 22,
    "void": 3,
}
OLDER_STATUSES = {"draft": 1, "issued": 2, "sent": 5, "partially_paid": 5, "paid": 83, "void": 4}
TERMS = (("NET30", 30), ("NET30", 30), ("NET14", 14), ("NET60", 60))
NAME_WORDS = ("Alder", "Birch", "Cedar", "Fjord", "Harbour", "Linden", "Summit", "Willow")
TRADES = ("Bakery", "Design", "Logistics", "Dental", "Print", "Robotics", "Coffee", "Legal")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    query: str
    flt: DocumentFilter
    order: tuple[Any, ...]


SCENARIOS = (
    Scenario(
        "partially_paid",
        "status=partially_paid",
        DocumentFilter(status="partially_paid"),
        (Document.id.desc(),),
    ),
    Scenario(
        "overdue_by_due",
        "overdue=1&sort=due",
        DocumentFilter(overdue=True, sort="due"),
        (func.coalesce(Document.due_date, FAR_FUTURE).asc(), Document.id.asc()),
    ),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000, help="invoices to seed")
    parser.add_argument(
        "--seconds",
        type=float,
        default=5.0,
        help="measuring time per side and scenario, split over rounds",
    )
    args = parser.parse_args()
    if args.invoices < 0 or args.seconds <= 0:
        parser.error("--invoices must be 0 or more and --seconds more than 0")
    return args


# --- the totals engine ----------------------------------------------------------------------


def long_invoice(lines: int, rng: random.Random) -> DocumentInput:
    items = []
    for n in range(lines):
        # Most prices in cents, some finer than the currency (a unit price of 0.0125 is allowed).
        places = 4 if n % 9 == 0 else 2
        items.append(
            LineInput(
                quantity=rng.choice(QUANTITIES),
                unit_price=Decimal(rng.randrange(5, 250_000)).scaleb(-places),
                taxes=rng.choice(LINE_TAXES),
                discount_percent=rng.choice(DISCOUNTS) if n % 6 == 0 else None,
                price_includes_tax=n % 5 == 0,
            )
        )
    return DocumentInput(
        currency="CAD",
        lines=tuple(items),
        allowances=(DocumentAllowance(amount=Decimal("150.00"), taxes=(GST,), reason="Loyalty"),),
        charges=(DocumentCharge(amount=Decimal("24.90"), taxes=(GST, PST), reason="Shipping"),),
    )


def time_totals(document: DocumentInput, seconds: float) -> tuple[float, int]:
    """Median milliseconds per ``compute_totals`` call, and how many calls were timed."""
    gc.collect()
    timings = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        compute_totals(document)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000, len(timings)


# --- seeding --------------------------------------------------------------------------------


def seed(invoices: int, rng: random.Random) -> Business:
    """One business with its owner, ``CLIENTS`` clients and ``invoices`` invoices."""
    _, business = sign_up(
        SignUp(
            email=OWNER_EMAIL,
            password=OWNER_PASSWORD,
            name="Bench Owner",
            business_name="Bench Ltd",
        )
    )
    now = datetime.now(UTC)
    clients = [client_row(business.id, n, now, rng) for n in range(CLIENTS)]
    client_ids = db.session.scalars(
        insert(Client.__table__).returning(Client.id, sort_by_parameter_order=True), clients
    ).all()
    client_currency = {i: row["currency"] for i, row in zip(client_ids, clients, strict=True)}

    today = now.date()
    first_day = today - timedelta(days=MONTHS * 365 // 12)
    # Sorted, so ids and numbers grow with the issue date as they do when invoices are written.
    days = sorted(rng.randrange((today - first_day).days + 1) for _ in range(invoices))
    sequences: dict[int, int] = {}
    with tqdm(total=invoices, desc="seeding invoices", unit="invoice") as progress:
        for start in range(0, invoices, CHUNK):
            rows = []
            for offset in days[start : start + CHUNK]:
                client_id = rng.choice(client_ids)
                day = first_day + timedelta(days=offset)
                currency = client_currency[client_id]
                row = invoice_row(business.id, client_id, currency, day, today, rng)
                if row["issue_date"] is not None:
                    year = row["issue_date"].year
                    sequences[year] = sequences.get(year, 0) + 1
                    row["number"] = f"INV-{year}-{sequences[year]:05d}"
                rows.append(row)
            db.session.execute(insert(Document.__table__), rows)
            progress.update(len(rows))
    db.session.commit()
    return business


def client_row(business_id: int, n: int, now: datetime, rng: random.Random) -> dict[str, Any]:
    name = f"{rng.choice(NAME_WORDS)} {rng.choice(TRADES)} {n}"
    created = now - timedelta(days=800 + rng.randrange(400))
    return {
        "public_id": new_public_id(),
        "business_id": business_id,
        "name": name,
        "sort_name": name.lower(),
        "email": f"accounts{n}@client{n}.example.com",
        "currency": rng.choice(CURRENCIES),
        "created_at": created,
        "updated_at": created,
    }


def invoice_row(
    business_id: int, client_id: int, currency: str, day: date, today: date, rng: random.Random
) -> dict[str, Any]:
    shares = RECENT_STATUSES if (today - day).days < RECENT_DAYS else OLDER_STATUSES
    status = rng.choices(tuple(shares), weights=tuple(shares.values()))[0]
    terms_code, terms_days = rng.choice(TERMS)
    written = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(
        seconds=rng.randrange(28_800)
    )
    net = rng.randrange(2_000, 800_000)
    tax = int((net * TAX_PERCENT[currency] / 100).to_integral_value())
    total = net + tax
    balance = {
        "paid": 0,
        "void": 0,
        "partially_paid": total - rng.randrange(total // 10, total * 9 // 10),
    }.get(status, total)
    issued = status != "draft"
    settled = status in {"paid", "void"}
    return {
        "public_id": new_public_id(),
        "business_id": business_id,
        "client_id": client_id,
        "kind": DocumentKind.INVOICE,
        "status": status,
        "number": None,
        "title": "",
        "issue_date": day if issued else None,
        "due_date": day + timedelta(days=terms_days) if issued else None,
        "terms_code": terms_code,
        "currency": currency,
        "rounding_mode": "half_up",
        "notes": "",
        "footer": "",
        "po_number": "",
        "prepaid": Decimal(0),
        "net_minor": net,
        "tax_minor": tax,
        "total_minor": total,
        "amount_due_minor": total,
        "balance_minor": balance,
        "rounding_minor": 0,
        "breakdown": [],
        "is_deposit": False,
        "issued_at": written if issued else None,
        "sent_at": written + timedelta(hours=1) if status not in {"draft", "issued"} else None,
        "closed_at": written + timedelta(days=rng.randrange(1, 40)) if settled else None,
        "close_reason": "Issued in error" if status == "void" else "",
        "custom_fields": {},
        "created_at": written,
        "updated_at": written,
    }


def prepare(app: Flask, invoices: int) -> tuple[int, str]:
    """Migrate and seed; returns the business id and its time zone."""
    with app.app_context():
        upgrade()
        business = seed(invoices, random.Random(42))
        analyze_if_postgres()
        return business.id, business.time_zone


# --- the bare endpoint ----------------------------------------------------------------------


def add_bare_endpoint(app: Flask, business_id: int, time_zone: str) -> None:
    """The floor: the list's and the counts' SQL and a JSON answer, nothing else of the portal's."""
    page_size = int(app.config["PAGE_SIZE"])
    # ``filtered`` reads only the business's id and time zone from the actor; these objects
    # never touch a session, so the bare side runs no query for them.
    actor = Actor(
        user=User(email=OWNER_EMAIL),
        business=Business(id=business_id, time_zone=time_zone),
        role=Role.OWNER,
    )

    def endpoint(scenario: Scenario) -> Callable[[], ResponseReturnValue]:
        def bare_invoices() -> ResponseReturnValue:
            stmt = (
                filtered(actor, scenario.flt)
                .order_by(*scenario.order)
                .limit(page_size + 1)
                .options(selectinload(Document.client))
            )
            rows = db.session.scalars(stmt).all()[:page_size]
            base = filtered(actor, scenario.flt, with_status=False).subquery()
            counts = db.session.execute(
                select(base.c.status, func.count()).group_by(base.c.status)
            ).all()
            return jsonify(
                rows=[
                    {
                        "public_id": d.public_id,
                        "number": d.number,
                        "client": d.client.name,
                        "issue_date": d.issue_date and d.issue_date.isoformat(),
                        "due_date": d.due_date and d.due_date.isoformat(),
                        "status": d.status,
                        "currency": d.currency,
                        "total_minor": d.total_minor,
                        "balance_minor": d.balance_minor,
                    }
                    for d in rows
                ],
                counts=dict(counts),
            )

        return bare_invoices

    for scenario in SCENARIOS:
        app.add_url_rule(
            f"/bench/bare-invoices/{scenario.name}",
            f"bench_bare_invoices_{scenario.name}",
            endpoint(scenario),
        )


def check_same_page(
    portal_body: bytes, bare_body: bytes, scenario: Scenario, page_size: int
) -> int:
    """Both sides must show the same invoices in the same order and the same counts, or the
    ratio means nothing. Returns how many invoices match the filter."""
    page = portal_body.decode()
    bare = json.loads(bare_body)
    counts = {s: int(n) for s, n in re.findall(r'data-status="(\w+)">[^<]*<strong>(\d+)<', page)}
    if counts != bare["counts"]:
        sys.exit(f"counts differ: the portal shows {counts}, the bare query {bare['counts']}")
    status = scenario.flt.status
    matches = counts.get(status, 0) if status else sum(counts.values())
    shown = re.findall(r'<tr id="invoice-([0-9a-z]+)"', page)
    listed = [row["public_id"] for row in bare["rows"]]
    if len(listed) != min(page_size, matches) or shown != listed:
        sys.exit(
            f"expected {min(page_size, matches)} invoices; the portal shows {len(shown)}, "
            f"the bare query {len(listed)}, or in another order"
        )
    return matches


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()

    document = long_invoice(TOTALS_LINES, random.Random(7))
    totals = compute_totals(document)
    totals_ms, calls = time_totals(document, TOTALS_SECONDS)
    print(
        f"totals: {TOTALS_LINES} lines, {len(totals.breakdown)} tax rows, "
        f"amount due {Decimal(totals.amount_due.minor).scaleb(-2)} {totals.currency}, {calls} calls"
    )
    print(f"totals_500_lines_ms: {totals_ms:.2f}")
    print(f"totals_us_per_line: {totals_ms * 1000 / TOTALS_LINES:.1f}", flush=True)

    results = {}
    with tempfile.TemporaryDirectory(prefix="invoice-lite-bench-") as tmp:
        os.environ["INVOICE_LITE_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        app = make_app(database_url(Path(tmp)))
        started = time.perf_counter()
        business_id, time_zone = prepare(app, args.invoices)
        page_size = int(app.config["PAGE_SIZE"])
        print(f"database: {make_url(app.config['SQLALCHEMY_DATABASE_URI']).get_backend_name()}")
        print(f"invoices: {args.invoices} for {CLIENTS} clients")
        print(f"setup_seconds: {time.perf_counter() - started:.1f}", flush=True)

        add_bare_endpoint(app, business_id, time_zone)
        portal_client = logged_in_client(app)
        bare_client = app.test_client()
        htmx = {"HX-Request": "true", "HX-Target": "invoice-results"}
        for scenario in SCENARIOS:
            portal = sender(portal_client, f"/app/invoices/?{scenario.query}", htmx)
            bare = sender(bare_client, f"/bench/bare-invoices/{scenario.name}", {})
            matches = check_same_page(portal(), bare(), scenario, page_size)
            print(f"{scenario.name}: ?{scenario.query} matches {matches}, page of {page_size}")
            results[scenario.name] = measure(portal, bare, args.seconds)
        with app.app_context():
            db.engine.dispose()

    print(f"rounds: {ROUNDS} x {args.seconds / ROUNDS:.2f} s per side, interleaved")
    for name, (portal_rps, bare_rps, ratio) in results.items():
        print(f"{name}_portal_rps: {portal_rps:.1f} ({1000 / portal_rps:.1f} ms)")
        print(f"{name}_bare_rps: {bare_rps:.1f} ({1000 / bare_rps:.1f} ms)")
        print(f"{name}_ratio: {ratio:.2f}")
    ratio = results[SCENARIOS[0].name][2]
    print(f"target_ratio: {TARGET_RATIO}")
    print(f"target: {'met' if ratio >= TARGET_RATIO else 'missed'}")
    print(f"invoice_list_ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
