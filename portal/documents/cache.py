"""Each version of a PDF rendered once and served again from ``RenderedFile``.

The key is a sha256 of everything that shapes the file (``render.Source.key``): the document's
printed data with its status and watermark, the business's template, its branding with the
logo's bytes, the design, the locale and the renderer version. Computing it renders nothing, so
a hit is a few queries; a change anywhere gives a new key, so nothing stale is ever served.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ScalarSelect, delete, func, select
from sqlalchemy.exc import IntegrityError

from portal.documents.render import (
    ReadAlong,
    Source,
    business_of,
    document_source,
    render_source,
    statement_source,
)
from portal.extensions import db
from portal.jobs import enqueue
from portal.jobs.context import with_app
from portal.models import Business, Client, Document, DocumentKind, RenderedFile

MEDIA_TYPE = "application/pdf"


@dataclass(frozen=True, slots=True)
class CachedPdf:
    key: str
    filename: str
    data: bytes
    hit: bool  # served from the store without rendering


def stored(key: str) -> RenderedFile | None:
    return db.session.scalar(select(RenderedFile).where(RenderedFile.key == key))


def latest_file_sql() -> ScalarSelect[int]:
    """The id of the file stored last for ``Document``, for a query that selects it (older
    versions are dropped as a new one is stored, so it is the only one but in a race)."""
    return (
        select(func.max(RenderedFile.id))
        .where(RenderedFile.document_id == Document.id)
        .correlate_except(RenderedFile)
        .scalar_subquery()
    )


def _store(source: Source, data: bytes, document_id: int | None) -> RenderedFile:
    """Keep the file under its key and drop the older versions of the same file; commits."""
    key = source.key()
    row = RenderedFile(
        business_id=source.business_id,
        document_id=document_id,
        key=key,
        media_type=MEDIA_TYPE,
        filename=source.filename,
        size=len(data),
        data=data,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        # Another process stored the same key first: identical bytes by construction.
        return db.session.scalars(select(RenderedFile).where(RenderedFile.key == key)).one()
    older = delete(RenderedFile).where(
        RenderedFile.business_id == source.business_id, RenderedFile.key != key
    )
    if document_id is not None:
        older = older.where(RenderedFile.document_id == document_id)
    else:
        older = older.where(
            RenderedFile.document_id.is_(None), RenderedFile.filename == source.filename
        )
    db.session.execute(older)
    db.session.commit()
    return row


def _fresh(key: str, job_id: str) -> CachedPdf:
    row = stored(key)
    if row is None:
        raise RuntimeError(f"job {job_id} did not store the PDF {key}")
    return CachedPdf(key, row.filename, row.data, hit=False)


def _render_and_store(source: Source, document_id: int | None) -> str:
    if stored(source.key()) is None:
        pdf = render_source(source)
        doc = db.session.get(Document, document_id) if document_id is not None else None
        if doc is not None:
            pdf = with_einvoice(pdf, doc)
        _store(source, pdf, document_id)
    return source.key()


def with_einvoice(pdf: bytes, doc: Document) -> bytes:
    """An issued invoice or credit note carries its CII XML inside (Factur-X EN 16931), so a
    machine can read what a person sees; anything that cannot be exported stays a plain PDF."""
    from portal.einvoice.pdf import attach_facturx
    from portal.einvoice.write_cii import cii_xml
    from portal.services.einvoices import NotExportable, data_for

    if doc.kind not in (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE) or doc.status == "draft":
        return pdf
    try:
        data = data_for(doc)
    except NotExportable:
        return pdf
    return attach_facturx(pdf, cii_xml(data))


@with_app
def render_document_job(document_id: int, stamp_open: bool = False) -> str | None:
    """Render the current version of a document unless it is stored already; returns its key."""
    doc = db.session.get(Document, document_id)
    if doc is None:
        return None
    source = document_source(doc, business_of(doc), stamp_open=stamp_open)
    return _render_and_store(source, doc.id)


@with_app
def render_statement_job(client_id: int, start: str, end: str) -> str | None:
    client = db.session.get(Client, client_id)
    if client is None:
        return None
    source = statement_source(
        client, business_of(client), date.fromisoformat(start), date.fromisoformat(end)
    )
    return _render_and_store(source, None)


def document_pdf(
    doc: Document,
    business: Business,
    *,
    stamp_open: bool = False,
    read_along: ReadAlong | None = None,
) -> CachedPdf:
    """The stored PDF of this version of ``doc``, rendered (through the job queue) on a miss."""
    source = document_source(doc, business, stamp_open=stamp_open, read_along=read_along)
    key = source.key()
    kept = read_along.stored if read_along is not None else None
    row = kept if kept is not None and kept.key == key else stored(key)
    if row is not None:
        return CachedPdf(key, row.filename, row.data, hit=True)
    queued = enqueue(
        render_document_job,
        doc.id,
        stamp_open,
        job_id=f"render-pdf-{key[:32]}",
    )
    row = stored(key)
    if row is None:
        # Queued on a worker (Redis): render here too rather than keep the person waiting;
        # whichever finishes second finds the key stored and does nothing.
        _render_and_store(source, doc.id)
    return _fresh(key, queued.job_id)


def statement_pdf(client: Client, business: Business, start: date, end: date) -> CachedPdf:
    source = statement_source(client, business, start, end)
    key = source.key()
    row = stored(key)
    if row is not None:
        return CachedPdf(key, row.filename, row.data, hit=True)
    queued = enqueue(
        render_statement_job,
        client.id,
        start.isoformat(),
        end.isoformat(),
        job_id=f"render-pdf-{key[:32]}",
    )
    row = stored(key)
    if row is None:
        _render_and_store(source, None)
    return _fresh(key, queued.job_id)


def prerender_document(doc: Document) -> str:
    """Ask a worker to render a document's PDF ahead of its first download (after commit)."""
    key = document_source(doc, business_of(doc)).key()
    return enqueue(render_document_job, doc.id, job_id=f"render-pdf-{key[:32]}").job_id
