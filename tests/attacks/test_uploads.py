"""Path traversal through an upload's file name: refused or reduced to a plain name, never a path.

Every upload route gets a good file under a hostile name. Nothing may appear in the instance
folder (or beside it), and a name that is kept (a received e-invoice remembers its file's name)
is a bare name: no folder, no drive, no NUL, not endless.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, ReceivedDocument, Role
from portal.services import einvoices
from tests.einvoice.conftest import Shop, make_shop
from tests.einvoice.test_import import supplier_invoice
from tests.envelope.conftest import sound_invoice
from tests.web.helpers import count, text_of

NAMES = [
    "../../etc/passwd",
    "../../../../../../tmp/owned.xml",
    "..\\..\\x.xml",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\x.xml",
    "invoice.xml\x00.png",
    "\x00",
    "..",
    ".",
    "~/.ssh/authorized_keys",
    "x" * 5000 + ".xml",
    "<script>alert(1)</script>.xml",
    "in voice\r\nX-Injected: 1.xml",
]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (47, 91, 234)).save(out, format="PNG")
    return out.getvalue()


def _files(root: Path) -> set[str]:
    return {
        os.path.join(folder, name)
        for folder, _, names in os.walk(root)
        for name in names
        if not name.endswith(("-journal", "-wal", "-shm"))
    }


@pytest.fixture
def shop(db: Any) -> Shop:
    return make_shop()


@pytest.fixture
def watched(app: Flask) -> Any:
    """The instance folder and the folder it sits in: nothing new may land in either."""
    roots = [Path(app.instance_path), Path(app.instance_path).parent]
    before = {root: _files(root) for root in roots}

    def check() -> None:
        for root in roots:
            assert _files(root) - before[root] == set(), root

    return check


@pytest.mark.parametrize("name", NAMES)
def test_an_e_invoice_keeps_a_bare_name(
    name: str, shop: Shop, app: Flask, client: FlaskClient, login: Any, watched: Any
) -> None:
    with app.test_request_context():
        data = supplier_invoice(shop)
    login(Role.OWNER, who=shop.team)
    response = client.post(
        "/app/einvoices/import",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code in {200, 303, 422}, text_of(response)
    assert "<script>alert(1)" not in text_of(response)
    watched()
    for received in db.session.scalars(select(ReceivedDocument)):
        kept = str(received.report.get("filename", ""))
        assert "/" not in kept and "\\" not in kept and "\x00" not in kept, kept
        assert not kept.startswith("."), kept
        assert "\r" not in kept and "\n" not in kept, kept
        assert len(kept) <= 255, len(kept)


@pytest.mark.parametrize("name", NAMES)
def test_a_logo_is_kept_without_its_name(
    name: str, client: FlaskClient, login: Any, watched: Any
) -> None:
    login(Role.OWNER)
    response = client.post(
        "/app/settings/branding/logo",
        data={"logo": (io.BytesIO(_png()), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code in {303, 422}, text_of(response)
    watched()


@pytest.mark.parametrize("name", NAMES)
def test_an_envelope_is_read_not_stored(
    name: str, client: FlaskClient, login: Any, watched: Any
) -> None:
    login(Role.OWNER)
    raw = json.dumps(sound_invoice()).encode()
    response = client.post(
        "/app/envelopes/import",
        data={"file": (io.BytesIO(raw), name), "allow_unsigned": "1"},
        content_type="multipart/form-data",
    )
    assert response.status_code in {200, 422}, text_of(response)
    assert "<script>alert(1)" not in text_of(response)
    watched()


@pytest.mark.parametrize("name", NAMES)
def test_dispute_evidence_writes_nothing_here(
    name: str, ids: dict[str, str], client: FlaskClient, login: Any, watched: Any
) -> None:
    login(Role.OWNER)
    events = count(AuditEvent)
    response = client.post(
        f"/app/disputes/{ids['dispute']}/evidence",
        data={"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), name), "text": "Delivered"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, text_of(response)
    watched()
    # The dispute is closed: nothing is sent and nothing recorded.
    assert count(AuditEvent) == events


def test_the_service_never_keeps_a_path(shop: Shop, app: Flask) -> None:
    """Called directly (the API, a command), the service reduces the name too."""
    actor = shop.team.actor()
    with app.test_request_context():
        data = supplier_invoice(shop)
        result = einvoices.import_einvoice(actor, "../../etc/passwd.xml", data)
    assert result.imported, result
    (received,) = db.session.scalars(select(ReceivedDocument))
    assert received.report["filename"] == "passwd.xml"
