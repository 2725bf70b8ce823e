"""HTML and PDF for a document or a statement: designs, branding, the business's own text.

``render_pdf`` is the hook for e-invoicing: its PDF/A-3b output is what Factur-X embeds the
CII XML into.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import date
from importlib import resources
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import weasyprint
from flask import render_template
from markupsafe import Markup
from sqlalchemy import ColumnElement, ScalarSelect, String, cast, select
from weasyprint.css import ColorProfile
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from portal.documents.fonts import FONT_DIR, font_face_css, font_named
from portal.documents.labels import labels_for
from portal.documents.templating import TemplateProblem, render_markdown
from portal.documents.views import (
    DocumentPage,
    Page,
    StatementPage,
    document_page,
    placeholder_views,
    statement_page,
)
from portal.extensions import db
from portal.models import Business, Client, Document, DocumentTemplate, RenderedFile
from portal.services import balances

log = logging.getLogger(__name__)

#: Bump when templates or CSS change: every cached PDF is then rendered afresh.
RENDERER_VERSION: Final = f"pdf-6+factur-x/weasyprint-{weasyprint.__version__}"
DESIGNS: Final = ("classic", "modern", "compact")
DEFAULT_DESIGN: Final = "classic"
PDF_VARIANT: Final = "pdf/a-3b"
JPEG_QUALITY: Final = 85

_font_config = FontConfiguration()
OUTPUT_INTENT: Final = "srgb-2014"
_SRGB_ICC: Final = resources.files("weasyprint.pdf").joinpath("sRGB2014.icc").read_bytes()


def _srgb_profile() -> ColorProfile:
    rgb = (["r"], ["g"], ["b"])
    return ColorProfile(io.BytesIO(_SRGB_ICC), "sRGB2014.icc", "relative-colorimetric", rgb)


@dataclass(frozen=True, slots=True)
class Branding:
    design: str
    brand_color: str
    accent_color: str
    font: str
    footer_text: str
    payment_instructions: str
    logo: bytes | None
    logo_media_type: str | None

    @classmethod
    def of(cls, business: Business) -> Branding:
        return cls(
            design=business.design if business.design in DESIGNS else DEFAULT_DESIGN,
            brand_color=business.brand_color,
            accent_color=business.accent_color,
            font=font_named(business.font).name,
            footer_text=business.footer_text,
            payment_instructions=business.payment_instructions,
            logo=business.logo,
            logo_media_type=business.logo_media_type,
        )

    def fingerprint(self) -> dict[str, Any]:
        data = asdict(self)
        data["logo"] = hashlib.sha256(self.logo).hexdigest() if self.logo else None
        return data

    def logo_uri(self) -> str | None:
        if not self.logo or not self.logo_media_type:
            return None
        return f"data:{self.logo_media_type};base64,{base64.b64encode(self.logo).decode()}"


def _fields(value: object) -> dict[str, Any]:
    """A dataclass as JSON sees it, one level at a time: the same text as ``asdict`` gives,
    without its deep copy of every value."""
    if not is_dataclass(value) or isinstance(value, type):
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return {f.name: getattr(value, f.name) for f in fields(value)}


@dataclass(frozen=True, slots=True)
class Source:
    """Everything that shapes one PDF; its ``key`` changes whenever the PDF would."""

    business_id: int
    page: Page
    branding: Branding
    template_body: str | None  # None: the built-in text in the reader's language

    def key(self) -> str:
        payload = {
            "renderer": RENDERER_VERSION,
            "business": self.business_id,
            "page": self.page,
            "branding": self.branding.fingerprint(),
            "template": self.template_body,
        }
        blob = json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_fields
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def filename(self) -> str:
        number = self.page.number or "draft"
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in number)
        return f"{self.page.kind.replace('_', '-')}-{safe}.pdf"


def business_of(row: Document | Client) -> Business:
    return db.session.get_one(Business, row.business_id)


def template_body(business_id: int, kind: str) -> str | None:
    return db.session.scalar(
        select(DocumentTemplate.body).where(
            DocumentTemplate.business_id == business_id, DocumentTemplate.kind == kind
        )
    )


@dataclass(frozen=True, slots=True)
class ReadAlong:
    """What a document's source needs besides the document and its business, read by the
    caller in its own query (``read_along_sql``) instead of one query each; and the file
    stored last for the document (``cache.latest_file_sql``), served when its key is the
    source's."""

    settled: int
    template_body: str | None
    stored: RenderedFile | None = None


def read_along_sql() -> tuple[ColumnElement[int], ScalarSelect[str]]:
    """The columns of ``ReadAlong`` for a query that selects ``Document``."""
    template = (
        select(DocumentTemplate.body)
        .where(
            DocumentTemplate.business_id == Document.business_id,
            DocumentTemplate.kind == cast(Document.kind, String),
        )
        .scalar_subquery()
    )
    return balances.settled_sql(Document.id), template


def document_source(
    doc: Document,
    business: Business,
    *,
    stamp_open: bool = False,
    read_along: ReadAlong | None = None,
) -> Source:
    settled = read_along.settled if read_along else None
    page = document_page(doc, business, stamp_open=stamp_open, settled=settled)
    template = read_along.template_body if read_along else template_body(business.id, page.kind)
    return Source(business.id, page, Branding.of(business), template)


def statement_source(client: Client, business: Business, start: date, end: date) -> Source:
    page = statement_page(client, business, start, end)
    return Source(business.id, page, Branding.of(business), template_body(business.id, "statement"))


def intro_html(source: Source) -> Markup:
    """The business's own text for this kind, or the built-in one when it has none or fails."""
    views = placeholder_views(source.page)
    default = labels_for(source.page.locale)[f"intro_{source.page.kind}"]
    if source.template_body is not None:
        try:
            return render_markdown(source.template_body, views)
        except TemplateProblem:
            # Saving refuses a broken template; this guards one a later change broke.
            log.warning("document template for %s failed; using the default", source.page.kind)
    return render_markdown(default, views)


def html_for(source: Source) -> str:
    page, branding = source.page, source.branding
    template = "pdf/statement.html" if isinstance(page, StatementPage) else "pdf/document.html"
    return render_template(
        template,
        page=page,
        is_document=isinstance(page, DocumentPage),
        branding=branding,
        labels=labels_for(page.locale),
        font=font_named(branding.font),
        font_faces=Markup(font_face_css(font_named(branding.font))),  # noqa: S704  (our own paths)
        logo_uri=branding.logo_uri(),
        intro=intro_html(source),
        footer_text=branding.footer_text,
        payment_instructions=branding.payment_instructions,
    )


class _LocalFetcher(URLFetcher):
    """Only inline data and the bundled fonts: a document never makes WeasyPrint fetch a URL."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False)

    def fetch(self, url: str, headers: Any = None) -> Any:
        if url.startswith("file:"):
            path = unquote(urlsplit(url).path)
            if not path.startswith(str(FONT_DIR) + "/") or ".." in path:
                raise ValueError(f"refusing to read {url}")
        elif not url.startswith("data:"):
            raise ValueError(f"refusing to fetch {url}")
        return super().fetch(url, headers)


def pdf_from_html(html: str, *, optimize: bool = True) -> bytes:
    """PDF/A-3b, tagged; fonts subset; images optimised unless ``optimize`` is off."""
    document = weasyprint.HTML(string=html, base_url=str(FONT_DIR), url_fetcher=_LocalFetcher())
    options: dict[str, Any] = {
        "pdf_variant": PDF_VARIANT,
        "pdf_tags": True,
        # WeasyPrint's own sRGB intent leaves its ICC file open; the same profile from bytes.
        "output_intent": OUTPUT_INTENT,
        "color_profiles": {OUTPUT_INTENT: _srgb_profile()},
    }
    if optimize:
        # A logo is printed small: 300 dpi is all print needs, and far smaller than the upload.
        options |= {"optimize_images": True, "jpeg_quality": JPEG_QUALITY, "dpi": 300}
    else:
        options |= {"full_fonts": True}
    return bytes(document.write_pdf(font_config=_font_config, **options) or b"")


def render_source(source: Source, *, optimize: bool = True) -> bytes:
    return pdf_from_html(html_for(source), optimize=optimize)


def render_pdf(doc: Document, *, stamp_open: bool = False) -> bytes:
    """The PDF/A-3b of one invoice, quote or credit note, as its business brands it.

    Not cached: ``portal.documents.cache`` serves stored copies. E-invoicing passes these bytes
    to ``facturx`` to embed the CII XML.
    """
    return render_source(document_source(doc, business_of(doc), stamp_open=stamp_open))


def render_statement_pdf(client: Client, start: date, end: date) -> bytes:
    return render_source(statement_source(client, business_of(client), start, end))
