"""Factur-X: a PDF/A-3 with the CII XML embedded, and getting that XML back out.

Extraction uses pypdf directly rather than ``facturx.get_xml_from_pdf``: that function parses the
attachment with lxml's default parser and skips files it dislikes silently, whereas we want the
raw bytes so the hardened reader (no DTD, no entities) parses them and says what is wrong.
"""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

from facturx import generate_from_file
from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

from portal.einvoice.source import EInvoiceReadError

__all__ = ["FACTURX_NAMES", "attach_facturx", "is_pdf", "xml_from_pdf"]

#: Attachment names Factur-X 1.0, ZUGFeRD 2.x and XRechnung-in-PDF use, in order of preference.
FACTURX_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


def attach_facturx(pdf: bytes, cii_xml: bytes) -> bytes:
    """Embed ``cii_xml`` (Factur-X EN 16931) in ``pdf`` as a PDF/A-3 Factur-X invoice.

    The XML is checked against the Factur-X schema first; ``facturx`` raises if it does not
    conform. Give a PDF/A-3 (WeasyPrint ``pdf_variant="pdf/a-3b"``) for a conforming result.
    """
    # generate_from_binary writes the new file into the buffer that holds the old one without
    # truncating it, leaving a dead copy of the original in front; a file is rewritten whole.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "invoice.pdf"
        path.write_bytes(pdf)
        generate_from_file(
            str(path),
            cii_xml,
            flavor="factur-x",
            level="en16931",
            check_xsd=True,
            afrelationship="data",
        )
        return path.read_bytes()


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(b"%PDF-")


def xml_from_pdf(data: bytes) -> bytes:
    """The embedded e-invoice XML of a Factur-X / ZUGFeRD PDF.

    Raises ``EInvoiceReadError`` for a file that is not a readable PDF or carries no XML.
    """
    if not is_pdf(data):
        raise EInvoiceReadError("not a PDF: the file does not start with %PDF-")
    # pypdf logs every repair it makes to a damaged file; the error we raise says enough.
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        attachments = reader.attachments
        found = {name.lower(): name for name in attachments}
        for wanted in FACTURX_NAMES:
            name = found.get(wanted)
            if name is None:
                continue
            content = attachments[name][0]
            if len(content) > MAX_ATTACHMENT_BYTES:
                raise EInvoiceReadError(
                    f"the embedded {name} is larger than {MAX_ATTACHMENT_BYTES} bytes"
                )
            return bytes(content)
        others = [name for name in attachments if name.lower().endswith(".xml")]
        if len(others) == 1:
            return bytes(attachments[others[0]][0])
    except EInvoiceReadError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise EInvoiceReadError(f"not a readable PDF: {exc}") from exc
    finally:
        logger.setLevel(level)
    raise EInvoiceReadError(
        "the PDF carries no embedded e-invoice XML (expected factur-x.xml or "
        "zugferd-invoice.xml): it is a plain PDF, not a Factur-X or ZUGFeRD invoice"
    )
