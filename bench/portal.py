"""The client portal's invoice page against a bare endpoint reading the same invoice.

The portal side is what a client's browser gets at ``/pay/<token>``: the link checked by its
hash, the invoice's printed data (the same view the PDF uses), the payment form for the
business's Stripe account, the payment page experiment that is running (the link's variant
picked and its visit counted, once), and the branded page. The bare side is a Flask endpoint in
the same app that loads the same invoice with its lines and returns them as JSON. Last line:
``portal_ratio: R`` (portal / bare requests per second); target R >= 0.5.

    python bench/portal.py [--seconds 5]   (SQLite; DATABASE_URL for PostgreSQL)

Showing the payment form asks nothing of Stripe (the provider is called only when the client
presses the button), so the Stripe base URL points at a closed port: a page that did call out
would fail here instead of timing the network.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

# The project root before this folder, or this file (bench/portal.py) would hide the portal package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import jsonify
from flask.typing import ResponseReturnValue
from flask_migrate import upgrade
from pages import database_url, make_app, measure, sender
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Document, DocumentKind, ExperimentEvent, Role
from portal.services import client_portal, clients, documents, experiments, payment_accounts
from portal.services.actors import Actor
from portal.services.auth import SignUp, sign_up
from portal.services.documents import DraftData, LineData

TARGET = 0.5
# Nothing listens here (the discard port): the page must not call the provider.
STRIPE_API_BASE = "http://127.0.0.1:9"


def seed() -> tuple[str, str]:
    """One business taking cards through Stripe and running a payment page experiment; one
    client, a ten-line issued invoice and a link to it."""
    owner, business = sign_up(
        SignUp(email="owner@bench.example", password="bench-password", name="O", business_name="B")
    )
    actor = Actor(owner, business, Role.OWNER)
    payment_accounts.save_account(
        actor,
        "stripe",
        payment_accounts.AccountData(
            credentials={"secret_key": "sk_test_bench", "webhook_secret": "whsec_bench"},
            payment_methods=("card", "sepa_debit"),
            allow_partial=True,
            minimum_partial_minor=1000,
        ),
    )
    compact = experiments.VariantSettings(layout="compact", heading="Settle up", button="Pay now")
    experiment = experiments.create_experiment(
        actor,
        "Compact payment page",
        [
            experiments.VariantData("Control", 50),
            experiments.VariantData("Compact", 50, compact),
        ],
    )
    experiments.change_status(actor, experiment.public_id, "start")
    client = clients.create_client(actor, clients.ClientData(name="Client Ltd", currency="EUR"))
    lines = tuple(
        LineData(description=f"Work item {n}", quantity=Decimal(n), unit_price=Decimal("12.50"))
        for n in range(1, 11)
    )
    draft = documents.create_draft(
        actor, DocumentKind.INVOICE, DraftData(client_id=client.public_id, lines=lines)
    )
    invoice = documents.issue_invoice(actor, draft.public_id)
    _, token = client_portal.create_link(actor, client.public_id, invoice.public_id)
    return token, invoice.public_id


def add_bare_endpoint(app: object, public_id: str) -> None:
    def bare() -> ResponseReturnValue:
        doc = db.session.scalar(
            select(Document)
            .where(Document.public_id == public_id)
            .options(selectinload(Document.lines), selectinload(Document.client))
        )
        if doc is None:
            return jsonify({}), 404
        return jsonify(
            {
                "number": doc.number,
                "client": doc.client.name,
                "total_minor": doc.total_minor,
                "lines": [
                    {"description": line.description, "net_minor": line.net_minor}
                    for line in doc.lines
                ],
            }
        )

    app.add_url_rule("/bench/bare-invoice", "bench_bare_invoice", bare)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="invoice-lite-bench-"))
    os.environ["INVOICE_LITE_INSTANCE_PATH"] = str(tmp)
    app = make_app(database_url(tmp))
    app.config["PORTAL_RATE_LIMIT"] = "1000000 per minute"
    app.config["STRIPE_API_BASE"] = STRIPE_API_BASE
    with app.app_context():
        upgrade()
        token, public_id = seed()
        print(f"database: {db.engine.dialect.name}")
    add_bare_endpoint(app, public_id)
    client = app.test_client()
    portal = sender(client, f"/pay/{token}", {})
    bare = sender(client, "/bench/bare-invoice", {})
    page = portal()
    if b"Work item 10" not in page or b"Work item 10" not in bare():
        sys.exit("the two sides do not show the same invoice")
    if b"with Stripe" not in page:
        sys.exit("the portal page shows no payment form")
    with app.app_context():
        if db.session.scalar(select(ExperimentEvent.kind)) != "viewed":
            sys.exit("the portal page did not count its visit in the experiment")
    portal_rps, bare_rps, ratio = measure(portal, bare, args.seconds)
    print(f"portal_rps: {portal_rps:.1f}")
    print(f"bare_rps: {bare_rps:.1f}")
    print(f"target_ratio: {TARGET}")
    print(f"target: {'met' if ratio >= TARGET else 'missed'}")
    print(f"portal_ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
