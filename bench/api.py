"""REST API benchmark: ``GET /api/v1/invoices`` against a bare endpoint running the same SQL,
and outgoing webhook deliveries per second.

What is measured: requests per second of ``GET /api/v1/invoices?limit=50`` authenticated by an
API key (``Authorization: Bearer il_…``), through Flask's test client in this process, for a
business with 100,000 invoices; and of a bare endpoint on the same app that checks the same key
the same way, runs the same SQL (the business's invoices, newest first, limit 51, the clients
loaded with ``selectinload``) and answers the rows as JSON, with no framework, schema, money
formatting, hooks or problem handling.

Why: the database work and the key check are the floor no API view can go below; the ratio
api/bare says what share of a call the API spends on that work rather than on flask-smorest,
marshmallow, money display strings, the access log and rate limits. Both sides run in the same
process in interleaved rounds (the medians of bench/pages.py), so the ratio travels between
machines. The target is 0.5 or more.

Webhooks: an endpoint on a receiver on 127.0.0.1 (loopback allowed for the run) gets one event;
it is then resent N times, each resend a new delivery signed and POSTed at once (no Redis: jobs
run inline after commit), and deliveries per second are printed.

Run it small while editing, in full for a figure::

    python bench/api.py --invoices 5000 --seconds 1
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/invoice_lite_test_bench_api \\
        python bench/api.py

It builds its own database (SQLite in a temporary directory, or the PostgreSQL database named by
``DATABASE_URL``, which must contain "bench" and is dropped and recreated first), seeded in bulk
as bench/dashboard.py seeds it. The last line is ``api_list_ratio: R``; the exit status is 0
whether or not the target is met.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from random import Random
from typing import Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from flask_migrate import upgrade
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import selectinload

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pages = _load("pages")
dashboard = _load("dashboard")

from portal.api.principal import SCOPES  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Business, Document, DocumentKind  # noqa: E402
from portal.services import api_keys  # noqa: E402
from portal.services.actors import system_actor  # noqa: E402

TARGET_RATIO = 0.5
PAGE = 50
WEBHOOKS = 200


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000, help="invoices to seed")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per side")
    parser.add_argument("--webhooks", type=int, default=WEBHOOKS, help="deliveries to time")
    args = parser.parse_args()
    if args.invoices < PAGE + 1 or args.seconds <= 0 or args.webhooks < 1:
        parser.error(f"--invoices must be over {PAGE}, --seconds over 0, --webhooks 1 or more")
    return args


def add_bare_endpoint(app: Flask) -> None:
    """The floor: the key check, the list's SQL and a JSON answer."""

    def bare_invoices() -> ResponseReturnValue:
        header = request.headers.get("Authorization", "")
        try:
            _, principal = api_keys.principal_for(header.removeprefix("Bearer ").strip())
        except api_keys.KeyRefused:
            return jsonify({"error": "unauthorized"}), 401
        stmt = (
            select(Document)
            .where(
                Document.business_id == principal.business.id,
                Document.kind == DocumentKind.INVOICE,
            )
            .order_by(Document.id.desc())
            .limit(PAGE + 1)
            .options(selectinload(Document.client))
        )
        rows = db.session.scalars(stmt).all()
        return jsonify(
            {
                "data": [
                    {
                        "id": d.public_id,
                        "number": d.number,
                        "status": d.status,
                        "client_id": d.client.public_id,
                        "currency": d.currency,
                        "issue_date": d.issue_date and d.issue_date.isoformat(),
                        "due_date": d.due_date and d.due_date.isoformat(),
                        "total_minor": d.total_minor,
                        "balance_minor": d.balance_minor,
                    }
                    for d in rows[:PAGE]
                ],
                "next_cursor": str(rows[PAGE].id) if len(rows) > PAGE else None,
            }
        )

    app.add_url_rule("/bench/bare-invoices", "bench_bare_invoices", bare_invoices)


def check_same_page(api_body: bytes, bare_body: bytes) -> None:
    """Both sides list the same invoices in the same order, or the ratio means nothing."""
    api_ids = [row["id"] for row in json.loads(api_body)["data"]]
    bare_ids = [row["id"] for row in json.loads(bare_body)["data"]]
    if len(api_ids) != PAGE or api_ids != bare_ids:
        sys.exit(f"the pages differ: api {len(api_ids)} rows, bare {len(bare_ids)} rows")


class Receiver(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).hits += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def webhook_deliveries_per_second(app: Flask, business_id: int, count: int) -> float | str:
    try:
        from portal.services import webhooks
    except ImportError:
        return "no outgoing webhooks in this build"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["WEBHOOKS_ALLOW_LOOPBACK"] = True
    try:
        with app.app_context():
            actor = system_actor(db.session.get_one(Business, business_id))
            webhooks.create_endpoint(
                actor,
                webhooks.EndpointData(url=f"http://127.0.0.1:{server.server_port}/hook"),
            )
            from portal.jobs.webhooks import deliver_now
            from portal.services import clients

            clients.create_client(actor, clients.ClientData(name="Hooked", currency="EUR"))
            first = db.session.scalar(
                select(webhooks.WebhookDelivery).order_by(webhooks.WebhookDelivery.id)
            )
            if first is None:
                return "no delivery was made for a new client"
            deliver_now(first.id)
            before = Receiver.hits
            started = time.perf_counter()
            for _ in range(count):
                # Without Redis the outbox hands the job over after commit; deliver_now makes
                # the attempt here when it is still pending (and skips it when it is done).
                deliver_now(webhooks.resend(actor, first.public_id).id)
            elapsed = time.perf_counter() - started
            delivered = Receiver.hits - before
            if delivered != count:
                return f"only {delivered} of {count} deliveries arrived"
            return count / elapsed
    finally:
        server.shutdown()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="invoice-lite-bench-") as tmp:
        os.environ["INVOICE_LITE_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        app = pages.make_app(pages.database_url(Path(tmp)))
        names = ("API_RATE_LIMIT_BURST", "API_RATE_LIMIT_SUSTAINED", "API_RATE_LIMIT_PER_IP")
        app.config.update(dict.fromkeys(names, "100000000 per second"))
        started = time.perf_counter()
        with app.app_context():
            upgrade()
            business_id = dashboard.seed(args.invoices, date.today(), Random(42))
            pages.analyze_if_postgres()
            actor = system_actor(db.session.get_one(Business, business_id))
            _, key = api_keys.create_key(actor, api_keys.KeyData("Bench", tuple(SCOPES)))
        print(f"database: {make_url(app.config['SQLALCHEMY_DATABASE_URI']).get_backend_name()}")
        print(f"invoices: {args.invoices}")
        print(f"setup_seconds: {time.perf_counter() - started:.1f}", flush=True)

        add_bare_endpoint(app)
        auth = {"Authorization": f"Bearer {key}"}
        api = pages.sender(app.test_client(), f"/api/v1/invoices?limit={PAGE}", auth)
        bare = pages.sender(app.test_client(), "/bench/bare-invoices", auth)
        check_same_page(api(), bare())
        api_rps, bare_rps, ratio = pages.measure(api, bare, args.seconds)
        hooks = webhook_deliveries_per_second(app, business_id, args.webhooks)
        with app.app_context():
            db.engine.dispose()

    print(f"rounds: {pages.ROUNDS} x {args.seconds / pages.ROUNDS:.2f} s per side, interleaved")
    print(f"api_rps: {api_rps:.1f}")
    print(f"bare_rps: {bare_rps:.1f}")
    if isinstance(hooks, float):
        print(f"webhook_deliveries_per_second: {hooks:.1f}")
    else:
        print(f"webhook_deliveries_per_second: n/a ({hooks})")
    print(f"target_ratio: {TARGET_RATIO}")
    print(f"target: {'met' if ratio >= TARGET_RATIO else 'missed'}")
    print(f"api_list_ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
