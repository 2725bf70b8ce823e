"""Client list benchmark: the portal's search fragment against the bare cost of its query.

What is measured: requests per second of ``GET /app/clients/?q=<term>`` as the search box sends
it (``HX-Request: true``, logged in as the owner, one page of 50), through Flask's test client in
this process, and of a bare endpoint registered on the same app that runs the *same SQL*
(``search_statement`` ordered by ``sort_name, id``, limit page + 1, the same ``selectinload`` of
tags and contacts) and answers the page as JSON, with no log-in, session or template.

Why: the database work is the floor no view can go below. The ratio portal/bare says what share
of a request the portal spends on that work rather than on log-in, the actor, the tag list and the
template. Both sides run in the same process, in interleaved rounds, in the same run, so the ratio
travels between machines where the absolute figures do not. The target is a ratio of 0.5 or more.
The requests/s printed are medians over rounds; the ratio is the median of the per-round ratios,
each taken from two back-to-back timings, so load from other processes that comes and goes
between rounds does not tilt it.

Run it small while editing, in full for a figure::

    python bench/pages.py --clients 1000 --seconds 1
    python bench/pages.py
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/invoice_lite_bench python bench/pages.py

It builds its own database: a SQLite file in a temporary directory, or the PostgreSQL database
named by ``DATABASE_URL`` (on 127.0.0.1, with "bench" in its name), dropped and recreated first.
The last line is ``client_list_ratio: R``; the exit status is 0 whether or not the target is met.
"""

from __future__ import annotations

import argparse
import gc
import html
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The project root before this folder: bench/analytics.py would hide the analytics package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from flask.typing import ResponseReturnValue
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import selectinload
from tqdm import tqdm

from portal import create_app
from portal.extensions import db
from portal.models import Client, Contact, Tag
from portal.models.base import new_public_id
from portal.models.clients import client_tags
from portal.services.auth import SignUp, sign_up
from portal.services.clients import ClientFilter, search_statement

OWNER_EMAIL = "owner@bench.example.com"
OWNER_PASSWORD = "bench password 1234"
TARGET_RATIO = 0.5
ROUNDS = 10
WARMUP_REQUESTS = 30
CHUNK = 1000

# About a third of the names carry the search term, so a page fills after a few hundred rows.
TERM = "studio"
TERM_SHARE = 0.3
NAME_WORDS = ("Alder", "Birch", "Cedar", "Fjord", "Harbour", "Linden", "Summit", "Willow")
TRADES = ("Bakery", "Design", "Logistics", "Dental", "Print", "Robotics", "Coffee", "Legal")
KINDS = ("Ltd", "GmbH", "& Co", "Partners", "Group", "Works", "SARL", "LLC")
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas")
LAST_NAMES = ("Novak", "Schmidt", "Dubois", "Garcia", "Rossi", "Okafor", "Tanaka", "Larsen")
TAGS = ("retail", "wholesale", "vip", "eu", "us", "agency", "nonprofit", "monthly", "priority")
CURRENCIES = ("EUR", "EUR", "EUR", "USD", "GBP", "CHF")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000, help="clients to seed")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="measuring time per side, split over rounds"
    )
    args = parser.parse_args()
    if args.clients < 0 or args.seconds <= 0:
        parser.error("--clients must be 0 or more and --seconds more than 0")
    return args


# --- the database ---------------------------------------------------------------------------


def database_url(tmp: Path) -> str:
    """SQLite in ``tmp`` unless ``DATABASE_URL`` names a local PostgreSQL bench database."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp / 'bench.sqlite3'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    parsed = make_url(url)
    if parsed.host != "127.0.0.1":
        sys.exit(f"refusing {parsed.host!r}: the bench only runs against 127.0.0.1")
    if "bench" not in (parsed.database or ""):
        sys.exit(f"refusing to wipe {parsed.database!r}: its name must contain 'bench'")
    recreate_postgres_database(url)
    return url


def recreate_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def make_app(url: str) -> Flask:
    return create_app(
        {
            "ENV_NAME": "testing",
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "ARGON2_PROFILE": "CHEAPEST",
            "SESSION_COOKIE_SECURE": False,
            "WTF_CSRF_ENABLED": False,
        }
    )


# --- seeding --------------------------------------------------------------------------------


def seed(clients: int, rng: random.Random) -> int:
    """One business with its owner and ``clients`` clients; returns the business id."""
    _, business = sign_up(
        SignUp(
            email=OWNER_EMAIL,
            password=OWNER_PASSWORD,
            name="Bench Owner",
            business_name="Bench Ltd",
        )
    )
    tag_ids = db.session.scalars(
        insert(Tag).returning(Tag.id, sort_by_parameter_order=True),
        [{"business_id": business.id, "name": name} for name in TAGS],
    ).all()
    now = datetime.now(UTC)
    with tqdm(total=clients, desc="seeding clients", unit="client") as progress:
        for start in range(0, clients, CHUNK):
            count = min(CHUNK, clients - start)
            rows = [client_row(business.id, start + i, now, rng) for i in range(count)]
            ids = db.session.scalars(
                insert(Client).returning(Client.id, sort_by_parameter_order=True), rows
            ).all()
            db.session.execute(insert(Contact), [c for i in ids for c in contact_rows(i, rng)])
            links = [{"client_id": i, "tag_id": t} for i in ids for t in pick_tags(tag_ids, rng)]
            if links:
                db.session.execute(insert(client_tags), links)
            progress.update(count)
    db.session.commit()
    return business.id


def client_row(business_id: int, n: int, now: datetime, rng: random.Random) -> dict[str, Any]:
    words = [rng.choice(NAME_WORDS), rng.choice(TRADES)]
    if rng.random() < TERM_SHARE:
        words.append("Studio")
    words.append(rng.choice(KINDS))
    name = " ".join(words)
    created = now - timedelta(days=rng.randrange(1500), seconds=rng.randrange(86_400))
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


def contact_rows(client_id: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for position in range(rng.randint(1, 2)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        rows.append(
            {
                "public_id": new_public_id(),
                "client_id": client_id,
                "name": f"{first} {last}",
                "email": f"{first}.{last}{client_id}@example.com".lower(),
                "is_primary": position == 0,
            }
        )
    return rows


def pick_tags(tag_ids: Sequence[int], rng: random.Random) -> list[int]:
    return rng.sample(tag_ids, k=rng.choice((0, 1, 1, 2, 3)))


def analyze_if_postgres() -> None:
    # Autovacuum would gather statistics within a minute on a live server; gather them now so
    # the planner picks the plan production sees, not the one for empty tables.
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        # VACUUM cannot run in a transaction; it also sets the visibility map that lets
        # index-only scans skip the table, as autovacuum would on a live server.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def count_matches(business_id: int) -> int:
    matching = search_statement(business_id, ClientFilter(q=TERM)).subquery()
    return db.session.scalar(select(func.count()).select_from(matching)) or 0


# --- the two endpoints ----------------------------------------------------------------------


def add_bare_endpoint(app: Flask, business_id: int) -> None:
    """The floor: the list's SQL and a JSON answer, nothing else of the portal's."""
    page_size = int(app.config["PAGE_SIZE"])

    def bare_clients() -> ResponseReturnValue:
        stmt = (
            search_statement(business_id, ClientFilter(q=request.args.get("q", "")))
            .order_by(Client.sort_name, Client.id)
            .limit(page_size + 1)
            .options(selectinload(Client.tags), selectinload(Client.contacts))
        )
        rows = db.session.scalars(stmt).all()[:page_size]
        return jsonify(
            [
                {
                    "name": c.name,
                    "email": c.email,
                    "currency": c.currency,
                    "tags": [t.name for t in c.tags],
                    "primary_contact": c.primary_contact.name if c.primary_contact else None,
                }
                for c in rows
            ]
        )

    app.add_url_rule("/bench/bare-clients", "bench_bare_clients", bare_clients)


def logged_in_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"email": OWNER_EMAIL, "password": OWNER_PASSWORD})
    if response.status_code != 303:
        sys.exit(f"log-in failed with {response.status_code}")
    return client


def sender(client: FlaskClient, url: str, headers: dict[str, str]) -> Callable[[], bytes]:
    def send() -> bytes:
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            sys.exit(f"GET {url} answered {response.status_code}")
        return response.get_data()

    return send


def check_same_page(portal_body: bytes, bare_body: bytes, expected: int) -> None:
    """Both sides must show the same clients in the same order, or the ratio means nothing."""
    page = portal_body.decode()
    rows = json.loads(bare_body)
    shown = page.count('<tr id="client-')
    if len(rows) != expected or shown != expected:
        sys.exit(f"expected {expected} rows; the portal shows {shown}, the bare query {len(rows)}")
    position = 0
    for row in rows:
        position = page.find(html.escape(row["name"]), position)
        if position < 0:
            sys.exit(f"the portal's page lacks {row['name']!r} where the bare query has it")


# --- measuring ------------------------------------------------------------------------------


def requests_per_second(send: Callable[[], bytes], seconds: float) -> float:
    gc.collect()  # neither side should pay for the other's garbage
    count = 0
    start = time.perf_counter()
    while True:
        send()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def measure(
    portal: Callable[[], bytes], bare: Callable[[], bytes], seconds: float
) -> tuple[float, float, float]:
    """Median requests/s of each side and median portal/bare ratio over interleaved rounds.

    Each round times both sides back to back, the first going second in the next round, and
    yields one ratio; the median of those ratios shrugs off load from other processes that
    comes and goes between rounds.
    """
    for _ in range(WARMUP_REQUESTS):
        portal()
        bare()
    per_round = seconds / ROUNDS
    portal_rates, bare_rates, ratios = [], [], []
    for round_no in range(ROUNDS):
        if round_no % 2 == 0:
            portal_rps = requests_per_second(portal, per_round)
            bare_rps = requests_per_second(bare, per_round)
        else:
            bare_rps = requests_per_second(bare, per_round)
            portal_rps = requests_per_second(portal, per_round)
        portal_rates.append(portal_rps)
        bare_rates.append(bare_rps)
        ratios.append(portal_rps / bare_rps)
    return statistics.median(portal_rates), statistics.median(bare_rates), statistics.median(ratios)


def prepare(app: Flask, clients: int) -> tuple[int, int]:
    """Migrate and seed; returns the business id and how many clients the search matches."""
    with app.app_context():
        upgrade()
        business_id = seed(clients, random.Random(42))
        analyze_if_postgres()
        return business_id, count_matches(business_id)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="invoice-lite-bench-") as tmp:
        os.environ["INVOICE_LITE_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        app = make_app(database_url(Path(tmp)))
        started = time.perf_counter()
        business_id, matches = prepare(app, args.clients)
        page_size = int(app.config["PAGE_SIZE"])
        print(f"database: {make_url(app.config['SQLALCHEMY_DATABASE_URI']).get_backend_name()}")
        print(f"clients: {args.clients}")
        print(f"setup_seconds: {time.perf_counter() - started:.1f}")
        print(f"search: q={TERM!r} matches {matches} clients, page of {page_size}", flush=True)

        add_bare_endpoint(app, business_id)
        htmx = {"HX-Request": "true", "HX-Target": "client-results"}
        portal = sender(logged_in_client(app), f"/app/clients/?q={TERM}", htmx)
        bare = sender(app.test_client(), f"/bench/bare-clients?q={TERM}", {})
        check_same_page(portal(), bare(), min(page_size, matches))
        portal_rps, bare_rps, ratio = measure(portal, bare, args.seconds)
        with app.app_context():
            db.engine.dispose()

    print(f"rounds: {ROUNDS} x {args.seconds / ROUNDS:.2f} s per side, interleaved")
    print(f"portal_rps: {portal_rps:.1f}")
    print(f"bare_rps: {bare_rps:.1f}")
    print(f"target_ratio: {TARGET_RATIO}")
    print(f"target: {'met' if ratio >= TARGET_RATIO else 'missed'}")
    print(f"client_list_ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
