"""PDF benchmark: rendering an invoice, downloading a stored one, file sizes, and a ZIP export.

What is measured, in four parts, on one business with a seller address and VAT id (so issued
invoices carry Factur-X) and a one-page invoice of six lines:

1. Milliseconds to render the invoice's PDF through the product, ``render_source(document_source(
   doc, business))`` (the page's queries, the template, PDF/A-3b, tags, font subsets), against
   bare WeasyPrint on the same HTML, ``weasyprint.HTML(string=html).write_pdf()`` with default
   options. Neither side goes through the store, so every call renders. A third side adds
   ``with_einvoice`` (the CII XML embedded) and is printed on its own line; the ratio
   product/bare leaves it out. A fourth side is bare WeasyPrint keeping one
   ``FontConfiguration`` across calls, as the product does: against it the ratio shows what the
   product's own work (queries, template, PDF/A, tags) costs. Target: a ratio of 1.2 or less.
2. Milliseconds of ``GET /app/invoices/<id>/pdf`` once the PDF is stored (logged in as the
   owner, Flask's test client, the ``X-PDF-Cache: hit`` answer), against a bare endpoint on the
   same app that reads the stored bytes by key and answers them. Target: 10 ms or less.
3. Bytes of the invoice rendered as the product does (images optimised, fonts subset) and with
   ``optimize=False``, without a logo and with a noisy 800 x 300 PNG logo uploaded through
   ``upload_logo``.
4. ``export_invoices_zip`` over issued invoices, none rendered before, in a child process of its
   own, so its peak resident memory (``ru_maxrss``) is the export's and not this process's: once
   for a quarter of the invoices, once for all of them (1,000; 100 with ``--quick``), all
   branded with the logo of part 3. Memory should stay flat as the count grows. Target: a peak
   of 300 MB or less.

As in ``bench/pages.py`` (whose set-up this reuses) the sides of parts 1 and 2 run in the same
process in interleaved rounds; times are medians over all calls and the ratios medians of
per-round ratios, so load from other processes that comes and goes between rounds does not tilt
them.

Run it small while editing, in full for a figure::

    python bench/documents.py --quick
    python bench/documents.py
    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/invoice_lite_bench_pdf
    python bench/documents.py

It builds its own database: a SQLite file in a temporary directory, or the PostgreSQL database
named by ``DATABASE_URL`` (on 127.0.0.1, with "bench" in its name), dropped and recreated first.
The last line is ``pdf_ratio: R``; the exit status is 0 whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

# The project root before this folder: bench/analytics.py would hide the analytics package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import weasyprint
from flask import Flask, Response
from flask.typing import ResponseReturnValue
from flask_migrate import upgrade
from pages import (
    OWNER_EMAIL,
    OWNER_PASSWORD,
    analyze_if_postgres,
    database_url,
    logged_in_client,
    make_app,
)
from PIL import Image, ImageChops, ImageDraw
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from tqdm import tqdm
from weasyprint.text.fonts import FontConfiguration

from portal.documents.cache import with_einvoice
from portal.documents.render import document_source, html_for, pdf_from_html, render_source
from portal.extensions import db
from portal.jobs.exports import export_invoices_zip
from portal.models import Business, Document, DocumentKind, DocumentLine, RenderedFile, Role, User
from portal.models.base import new_public_id
from portal.services import branding, business, catalogue, clients, documents, jobs
from portal.services.actors import Actor
from portal.services.auth import SignUp, sign_up

TARGET_PDF_RATIO = 1.2
TARGET_CACHED_MS = 10.0
TARGET_ZIP_PEAK_MB = 300.0
CHUNK = 500

LINES = (
    ("Website redesign: discovery workshop", "1", "1200.00"),
    ("Design system, components and tokens", "3.5", "850.00"),
    ("Front-end build, 12 templates", "12", "240.00"),
    ("Content migration", "40", "18.50"),
    ("Hosting, first year", "1", "360.00"),
    ("Training session for editors", "2", "450.00"),
)


@dataclass(frozen=True, slots=True)
class Plan:
    rounds: int
    renders_per_round: int  # per side and round
    downloads_per_round: int
    export_counts: tuple[int, int]  # the small export, then the large one


FULL = Plan(rounds=10, renders_per_round=3, downloads_per_round=20, export_counts=(250, 1000))
QUICK = Plan(rounds=5, renders_per_round=2, downloads_per_round=10, export_counts=(25, 100))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds; export 25 and 100 invoices"
    )
    # The child process of part 4: export one job and report time and memory as JSON.
    parser.add_argument("--export-job", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    return parser.parse_args()


def bench_app(url: str) -> Flask:
    app = make_app(url)
    # Renders run here, inline, even when the environment names a Redis for workers.
    app.config["REDIS_URL"] = None
    return app


# --- seeding --------------------------------------------------------------------------------


def seed() -> tuple[Actor, Document]:
    """A business that can issue e-invoices, one client, and one issued six-line invoice."""
    user, biz = sign_up(
        SignUp(
            email=OWNER_EMAIL,
            password=OWNER_PASSWORD,
            name="Bench Owner",
            business_name="Harbor Design SARL",
        )
    )
    owner = Actor(user, biz, Role.OWNER)
    profile = dataclasses.replace(
        business.profile_of(biz),
        legal_name="Harbor Design SARL",
        address_line1="12 rue de la Paix",
        city="Paris",
        postal_code="75002",
        country="FR",
        tax_id="FR40303265045",
    )
    business.update_business(owner, profile)
    client = clients.create_client(
        owner,
        clients.ClientData(
            name="Blue Harbor GmbH",
            currency="EUR",
            email="billing@blueharbor.example",
            tax_id="DE811569869",
            billing_line1="Hafenstraße 1",
            billing_city="Hamburg",
            billing_postal_code="20457",
            billing_country="DE",
        ),
    )
    vat = catalogue.create_tax_rate(owner, catalogue.TaxRateData(name="VAT 20%", rate=Decimal(20)))
    lines = tuple(
        documents.LineData(
            description=text,
            quantity=Decimal(qty),
            unit_price=Decimal(price),
            tax_rate_ids=(vat.public_id,),
        )
        for text, qty, price in LINES
    )
    draft = documents.create_draft(
        owner,
        DocumentKind.INVOICE,
        documents.DraftData(client_id=client.public_id, lines=lines, po_number="PO-4471"),
    )
    return owner, documents.issue_invoice(owner, draft.public_id)


def clone_invoices(template: Document, count: int) -> list[int]:
    """``count`` copies of an issued invoice, each with its own number and public id."""
    documents_table, lines_table = Document.__table__, DocumentLine.__table__
    head = dict(
        db.session.execute(select(documents_table).where(documents_table.c.id == template.id))
        .mappings()
        .one()
    )
    body = [
        dict(row)
        for row in db.session.execute(
            select(lines_table).where(lines_table.c.document_id == template.id)
        ).mappings()
    ]
    for row in (head, *body):
        del row["id"]
    ids: list[int] = []
    with tqdm(total=count, desc="seeding invoices", unit="invoice") as progress:
        for start in range(0, count, CHUNK):
            rows = [
                head | {"public_id": new_public_id(), "number": f"BENCH-{n:05d}"}
                for n in range(start, min(start + CHUNK, count))
            ]
            new_ids = db.session.scalars(
                insert(documents_table).returning(
                    documents_table.c.id, sort_by_parameter_order=True
                ),
                rows,
            ).all()
            db.session.execute(
                insert(lines_table), [line | {"document_id": i} for i in new_ids for line in body]
            )
            ids.extend(new_ids)
            progress.update(len(rows))
    db.session.commit()
    return ids


def noisy_logo(rng: random.Random) -> bytes:
    """An 800 x 300 PNG: a gradient, a mark, and grain that PNG cannot squeeze away."""
    width, height = 800, 300
    gradient = Image.linear_gradient("L").resize((width, height)).rotate(90, expand=False)
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    grain = grain.point(lambda v: v // 6)
    red = ImageChops.add(gradient, grain)
    green = ImageChops.add(gradient.point(lambda v: 255 - v), grain)
    blue = grain.point(lambda v: 120 + v)
    image = Image.merge("RGB", (red, green, blue))
    ImageDraw.Draw(image).ellipse((40, 40, 260, 260), fill=(20, 60, 140))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --- measuring ------------------------------------------------------------------------------


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def interleaved(
    sides: dict[str, Callable[[], object]], rounds: int, per_round: int
) -> tuple[dict[str, list[float]], list[dict[str, float]]]:
    """Every call's milliseconds per side, and each round's median per side.

    Each round runs the sides one after the other, ``per_round`` calls each, starting one side
    later than the round before.
    """
    names = list(sides)
    for name in names:  # warm-up: templates compiled, fonts loaded, queries prepared
        sides[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    per_round_medians = []
    for round_no in range(rounds):
        shift = round_no % len(names)
        medians = {}
        for name in names[shift:] + names[:shift]:
            gc.collect()  # no side pays for another's garbage
            timings = [timed(sides[name]) for _ in range(per_round)]
            samples[name].extend(timings)
            medians[name] = statistics.median(timings)
        per_round_medians.append(medians)
    return samples, per_round_medians


def ratio_of(per_round: list[dict[str, float]], top: str, bottom: str) -> float:
    return statistics.median(r[top] / r[bottom] for r in per_round)


def p50(values: list[float]) -> float:
    return statistics.median(values)


def verdict(met: bool) -> str:
    return f"target: {'met' if met else 'missed'}"


# --- part 1: rendering ----------------------------------------------------------------------


def measure_render(app: Flask, document_id: int, plan: Plan) -> dict[str, Any]:
    with app.app_context():
        doc = db.session.get_one(Document, document_id)
        biz = db.session.get_one(Business, doc.business_id)
        html = html_for(document_source(doc, biz))

        def product() -> bytes:
            return render_source(document_source(doc, biz))

        def facturx() -> bytes:
            return with_einvoice(render_source(document_source(doc, biz)), doc)

        def bare() -> bytes:
            return bytes(weasyprint.HTML(string=html).write_pdf() or b"")

        # Bare WeasyPrint pays for a new FontConfiguration on every call; the product keeps one.
        # This side shows what the product costs beyond WeasyPrint when both keep one.
        fonts = FontConfiguration()

        def bare_shared_fonts() -> bytes:
            return bytes(weasyprint.HTML(string=html).write_pdf(font_config=fonts) or b"")

        if product()[:5] != b"%PDF-" or len(facturx()) <= len(product()):
            sys.exit("the product's PDF is not a PDF, or Factur-X added nothing to it")
        samples, per_round = interleaved(
            {
                "product": product,
                "facturx": facturx,
                "bare": bare,
                "bare_shared_fonts": bare_shared_fonts,
            },
            plan.rounds,
            plan.renders_per_round,
        )
    return {
        "product_ms": p50(samples["product"]),
        "facturx_ms": p50(samples["facturx"]),
        "bare_ms": p50(samples["bare"]),
        "ratio": ratio_of(per_round, "product", "bare"),
        "facturx_ratio": ratio_of(per_round, "facturx", "bare"),
        "bare_shared_fonts_ms": p50(samples["bare_shared_fonts"]),
        "shared_fonts_ratio": ratio_of(per_round, "product", "bare_shared_fonts"),
        "calls": len(samples["bare"]),
    }


# --- part 2: downloading a stored PDF -------------------------------------------------------


def measure_download(app: Flask, public_id: str, plan: Plan) -> dict[str, Any]:
    def bare_stored(key: str) -> ResponseReturnValue:
        data = db.session.scalar(select(RenderedFile.data).where(RenderedFile.key == key))
        return Response(data, mimetype="application/pdf")

    app.add_url_rule("/bench/stored/<key>", "bench_stored_pdf", bare_stored)
    portal_client = logged_in_client(app)
    url = f"/app/invoices/{public_id}/pdf"
    first_ms = timed(lambda: portal_client.get(url))  # a miss: renders and stores
    first = portal_client.get(url)
    if first.status_code != 200 or first.headers.get("X-PDF-Cache") != "hit":
        sys.exit(f"GET {url} answered {first.status_code}, X-PDF-Cache {first.headers}")
    key = first.headers["ETag"].strip('"')
    bare_client = app.test_client()

    def portal() -> bytes:
        response = portal_client.get(url)
        if response.status_code != 200 or response.headers["X-PDF-Cache"] != "hit":
            sys.exit(f"GET {url} answered {response.status_code}, not a stored PDF")
        return response.get_data()

    def bare() -> bytes:
        return bare_client.get(f"/bench/stored/{key}").get_data()

    if portal() != bare():
        sys.exit("the portal's PDF differs from the stored bytes")
    samples, per_round = interleaved(
        {"portal": portal, "bare": bare}, plan.rounds, plan.downloads_per_round
    )
    return {
        "first_ms": first_ms,
        "portal_ms": p50(samples["portal"]),
        "bare_ms": p50(samples["bare"]),
        "ratio": ratio_of(per_round, "portal", "bare"),
        "size": len(first.get_data()),
    }


# --- part 3: sizes --------------------------------------------------------------------------


def measure_sizes(app: Flask, owner_id: int, document_id: int) -> dict[str, int]:
    sizes = {}
    with app.app_context():
        owner = owner_actor(owner_id)
        doc = db.session.get_one(Document, document_id)
        for label in ("no_logo", "logo"):
            if label == "logo":
                branding.upload_logo(owner, noisy_logo(random.Random(3)))
                sizes["logo_bytes"] = len(owner.business.logo or b"")
            html = html_for(document_source(doc, owner.business))
            sizes[f"{label}_optimized"] = len(pdf_from_html(html))
            sizes[f"{label}_plain"] = len(pdf_from_html(html, optimize=False))
    return sizes


def owner_actor(business_id: int) -> Actor:
    biz = db.session.get_one(Business, business_id)
    user = db.session.scalars(select(User).where(User.email == OWNER_EMAIL)).one()
    return Actor(user, biz, Role.OWNER)


# --- part 4: the ZIP export -----------------------------------------------------------------


def export_in_child(url: str, job_id: int) -> dict[str, Any]:
    """Run the export in a fresh interpreter; its peak memory is the export's own."""
    result = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--export-job",
            str(job_id),
            "--database-url",
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"the export failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def child_export(url: str, job_id: int) -> None:
    app = bench_app(url)
    with app.app_context():
        before_mb = vm_kb("VmRSS") / 1024
        start = time.perf_counter()
        path = export_invoices_zip(job_id)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps(
            {
                "seconds": seconds,
                "zip_bytes": Path(path).stat().st_size,
                "before_mb": before_mb,
                "peak_mb": peak_mb,
            }
        )
    )


def vm_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def measure_exports(
    app: Flask, url: str, business_id: int, document_id: int, counts: tuple[int, int]
) -> list[dict[str, Any]]:
    """Export ``counts[0]`` and then ``counts[1]`` other invoices, none of them rendered yet."""
    with app.app_context():
        doc = db.session.get_one(Document, document_id)
        ids = clone_invoices(doc, sum(counts))
        analyze_if_postgres()
        owner = owner_actor(business_id)
        job_ids = []
        offset = 0
        for count in counts:
            batch = ids[offset : offset + count]
            offset += count
            job = jobs.start_job(owner, "invoices-zip", {"document_ids": batch}, total=count)
            job_ids.append(job.id)
        db.session.remove()
        db.engine.dispose()  # the child must not wait on this process's connection
    results = []
    for count, job_id in zip(counts, job_ids, strict=True):
        print(f"exporting {count} invoices in a child process…", flush=True)
        results.append({"count": count} | export_in_child(url, job_id))
    return results


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    if args.export_job is not None:
        child_export(args.database_url, args.export_job)
        return
    plan = QUICK if args.quick else FULL
    run_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="invoice-lite-bench-") as tmp:
        os.environ["INVOICE_LITE_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        url = database_url(Path(tmp))
        app = bench_app(url)
        with app.app_context():
            upgrade()
            owner, invoice = seed()
            business_id, document_id, public_id = owner.business.id, invoice.id, invoice.public_id
        print(f"database: {make_url(url).get_backend_name()}")
        print(f"weasyprint: {weasyprint.__version__}")
        print(f"invoice: one page, {len(LINES)} lines, issued, Factur-X exportable", flush=True)

        render = measure_render(app, document_id, plan)
        print(
            f"render: {plan.rounds} rounds x {plan.renders_per_round} renders per side, "
            f"interleaved ({render['calls']} per side)"
        )
        print(f"pdf_p50_ms: {render['product_ms']:.1f}")
        print(f"pdf_facturx_p50_ms: {render['facturx_ms']:.1f}")
        print(f"pdf_bare_weasyprint_p50_ms: {render['bare_ms']:.1f}")
        print(f"pdf_facturx_ratio: {render['facturx_ratio']:.2f}")
        print(f"pdf_bare_shared_fonts_p50_ms: {render['bare_shared_fonts_ms']:.1f}")
        print(f"pdf_ratio_vs_shared_fonts: {render['shared_fonts_ratio']:.2f}", flush=True)

        download = measure_download(app, public_id, plan)
        print(
            f"download: {plan.rounds} rounds x {plan.downloads_per_round} requests per side, "
            f"{download['size'] / 1024:.1f} KiB, first (a miss) {download['first_ms']:.0f} ms"
        )
        print(f"pdf_cached_bare_ms: {download['bare_ms']:.2f}")
        print(f"pdf_cached_ratio: {download['ratio']:.2f}")
        print(f"target_cached_ms: {TARGET_CACHED_MS}")
        print(verdict(download["portal_ms"] <= TARGET_CACHED_MS))
        print(f"pdf_cached_ms: {download['portal_ms']:.2f}", flush=True)

        sizes = measure_sizes(app, business_id, document_id)
        print(f"logo: 800 x 300 PNG with grain, {sizes['logo_bytes'] / 1024:.0f} KiB")
        for label in ("no_logo", "logo"):
            plain, optimized = sizes[f"{label}_plain"], sizes[f"{label}_optimized"]
            print(f"pdf_{label}_plain_kb: {plain / 1024:.1f}")
            print(f"pdf_{label}_optimized_kb: {optimized / 1024:.1f}")
            print(f"pdf_{label}_saving_pct: {100 * (1 - optimized / plain):.1f}")
        saving = 100 * (1 - sizes["logo_optimized"] / sizes["logo_plain"])
        print(f"pdf_size_saving_pct: {saving:.1f}", flush=True)

        exports = measure_exports(app, url, business_id, document_id, plan.export_counts)
    for export in exports:
        count = export["count"]
        print(
            f"zip_{count}: {export['seconds']:.1f} s "
            f"({1000 * export['seconds'] / count:.0f} ms per invoice), "
            f"{export['zip_bytes'] / 2**20:.1f} MB ({export['zip_bytes'] / count / 1024:.0f} KiB "
            f"per invoice), peak {export['peak_mb']:.0f} MB "
            f"(after start-up {export['before_mb']:.0f} MB)"
        )
    large = exports[-1]
    growth = large["peak_mb"] - exports[0]["peak_mb"]
    print(f"zip_peak_growth_mb: {growth:.0f} ({exports[0]['count']} -> {large['count']} invoices)")
    print(f"zip_invoices: {large['count']} (with the logo)")
    print(f"zip_seconds: {large['seconds']:.1f}")
    print(f"zip_mb: {large['zip_bytes'] / 2**20:.1f}")
    print(f"target_zip_peak_mb: {TARGET_ZIP_PEAK_MB:.0f}")
    print(verdict(large["peak_mb"] <= TARGET_ZIP_PEAK_MB))
    print(f"zip_peak_mb: {large['peak_mb']:.0f}")
    print(f"run_seconds: {time.perf_counter() - run_started:.0f}")
    print(f"target_pdf_ratio: {TARGET_PDF_RATIO}")
    print(verdict(render["ratio"] <= TARGET_PDF_RATIO))
    print(f"pdf_ratio: {render['ratio']:.2f}")


if __name__ == "__main__":
    main()
