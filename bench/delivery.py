"""Emails per second through the outbox and an RQ worker, against plain smtplib.

Both sides send the same emails (text, HTML and the invoice PDF) to one local SMTP server
(aiosmtpd on 127.0.0.1). The baseline is a plain sender: the parts of each email written up
front, then the MIME message built with the standard library and sent with ``smtplib`` on a
connection of its own. The portal side is what happens in production: ``send_invoice`` writes
a delivery and an outbox message, RQ on Redis carries the job, a worker (``--no-fork``)
composes the email from the business's template and sends it, and the job takes along the
emails queued behind it (as it does whenever a backlog forms). PDFs are rendered once
beforehand, as the first download or a pre-render would, so the comparison is about delivery,
not rendering. The two sides take turns over several rounds (so a busy moment of the machine
falls on both), each round on emails of its own; the last line is ``email_ratio: R``, the
median round's portal / smtplib; the target is R >= 0.5.

    python bench/delivery.py [--emails 250] [--rounds 5]   (Redis on 127.0.0.1, database 13)
"""

from __future__ import annotations

import argparse
import os
import smtplib
import socket
import sys
import tempfile
import time
from decimal import Decimal
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from flask_migrate import upgrade
from redis import Redis
from rq import Queue

# The benches import one another (``pages``), but a bench's file name must never hide a package
# of the project (bench/analytics.py would hide ``analytics``): the project comes first.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pages import database_url, make_app

from portal.documents.cache import document_pdf
from portal.extensions import db
from portal.jobs.delivery import compose
from portal.jobs.worker import PortalSimpleWorker
from portal.models import Business, Delivery, Document, DocumentKind, Role
from portal.services import clients, delivery, documents
from portal.services.actors import Actor
from portal.services.auth import SignUp, sign_up
from portal.services.documents import DraftData, LineData

REDIS_URL = "redis://127.0.0.1:6379/13"
TARGET = 0.5
WARM_UP = 10


class Counter:
    """An SMTP handler that counts what arrives and notes when the last message did."""

    def __init__(self) -> None:
        self.count = 0
        self.last_at = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        self.last_at = time.perf_counter()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(count: int) -> tuple[Actor, list[str]]:
    owner, business = sign_up(
        SignUp(email="owner@bench.example", password="bench-password", name="O", business_name="B")
    )
    actor = Actor(owner, business, Role.OWNER)
    client = clients.create_client(
        actor, clients.ClientData(name="Client Ltd", currency="EUR", email="ap@client.example")
    )
    ids = []
    for i in range(count):
        line = LineData(description="Consulting", quantity=Decimal(1), unit_price=Decimal(100 + i))
        draft = documents.create_draft(
            actor, DocumentKind.INVOICE, DraftData(client_id=client.public_id, lines=(line,))
        )
        doc = documents.issue_invoice(actor, draft.public_id)
        document_pdf(doc, business)  # rendered once, kept: the comparison is about delivery
        ids.append(doc.public_id)
    return actor, ids


def through_the_worker(actor: Actor, ids: list[str], inbox: Counter) -> float:
    connection = Redis.from_url(REDIS_URL)
    connection.flushdb()
    for public_id in ids:
        delivery.send_invoice(actor, public_id)
    queue = Queue("email", connection=connection)
    if queue.count != len(ids):
        sys.exit(f"expected {len(ids)} queued emails, found {queue.count}")
    start_count = inbox.count
    started = time.perf_counter()
    # What ``invoice-lite worker --no-fork`` runs. The clock stops when the last email has
    # arrived: a running worker never shuts down, so a burst worker's shutdown is not counted.
    PortalSimpleWorker([queue], connection=connection).work(burst=True)
    elapsed = inbox.last_at - started
    if inbox.count - start_count != len(ids):
        sys.exit(f"the worker delivered {inbox.count - start_count} of {len(ids)} emails")
    connection.flushdb()
    return len(ids) / elapsed


def plain_smtplib(business: Business, ids: list[str], port: int, inbox: Counter) -> float:
    """The same emails sent the plain way: their parts (addresses, subject, text, HTML, the
    PDF) written up front, then for each one a MIME message built with the standard library
    and sent with ``smtplib`` on a connection of its own."""
    sender = "Bench <bench@bench.example>"
    parts = []
    rows = (
        db.session.query(Delivery, Document)
        .join(Document, Document.id == Delivery.document_id)
        .filter(Document.public_id.in_(ids))
        .order_by(Delivery.id)
    )
    for row, doc in rows:
        parts.append(compose(business, doc, row, "invoice"))
    start_count = inbox.count
    started = time.perf_counter()
    for email in parts:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(email.to)
        if email.cc:
            message["Cc"] = ", ".join(email.cc)
        message["Subject"] = email.subject
        message["Message-ID"] = email.message_id or make_msgid()
        message.set_content(email.text)
        if email.html is not None:
            message.add_alternative(email.html, subtype="html")
        for attachment in email.attachments:
            message.add_attachment(
                attachment.data, maintype="application", subtype="pdf", filename=attachment.filename
            )
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.send_message(message)
    elapsed = time.perf_counter() - started
    if inbox.count - start_count != len(parts):
        sys.exit("smtplib lost messages")
    return len(parts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="invoice-lite-bench-"))
    os.environ["INVOICE_LITE_INSTANCE_PATH"] = str(tmp)
    inbox = Counter()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = make_app(database_url(tmp))
        app.config.update(
            REDIS_URL=REDIS_URL, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none"
        )
        with app.app_context():
            upgrade()
            actor, ids = seed(args.emails + WARM_UP)
            print(f"database: {db.engine.dialect.name}")
            size = len(document_pdf_size(ids))
            print(f"emails: {len(ids)} (each with a PDF of about {size // 1024} KiB)")
            # A first round, not counted, loads what both sides import and cache on first use.
            through_the_worker(actor, ids[:WARM_UP], inbox)
            plain_smtplib(actor.business, ids[:WARM_UP], port, inbox)
            ids = ids[WARM_UP:]
            rounds = []
            per_round = max(1, len(ids) // args.rounds)
            for start in range(0, per_round * args.rounds, per_round):
                batch = ids[start : start + per_round]
                portal_rate = through_the_worker(actor, batch, inbox)
                bare_rate = plain_smtplib(actor.business, batch, port, inbox)
                rounds.append((portal_rate / bare_rate, portal_rate, bare_rate))
                print(
                    f"round {len(rounds)}: worker {portal_rate:.1f}/s, "
                    f"smtplib {bare_rate:.1f}/s, ratio {portal_rate / bare_rate:.2f}"
                )
    finally:
        controller.stop()
    ratio, portal_rate, bare_rate = sorted(rounds)[len(rounds) // 2]
    print(f"worker_emails_per_s: {portal_rate:.1f}")
    print(f"smtplib_emails_per_s: {bare_rate:.1f}")
    print(f"target_ratio: {TARGET}")
    print(f"target: {'met' if ratio >= TARGET else 'missed'}")
    print(f"email_ratio: {ratio:.2f}")


def document_pdf_size(ids: list[str]) -> bytes:
    doc = db.session.query(Document).filter_by(public_id=ids[0]).one()
    return document_pdf(doc, db.session.get(Business, doc.business_id)).data


if __name__ == "__main__":
    main()
