# ruff: noqa: E501  (the payloads read best as they would arrive, one per line)
"""Logo uploads: the real type from the bytes, size limits, and SVGs made harmless."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from portal.documents.logo import JPEG, PNG, SVG, LogoError, check_logo, sanitize_svg


def image_bytes(fmt: str, size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (47, 91, 234)).save(out, format=fmt)
    return out.getvalue()


def test_png_jpeg_and_svg_are_accepted_by_their_bytes():
    assert check_logo(image_bytes("PNG")).media_type == PNG
    assert check_logo(image_bytes("JPEG")).media_type == JPEG
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#2f5bea"/></svg>'
    assert check_logo(svg).media_type == SVG


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Choose an image file to upload."),
        (image_bytes("GIF"), "Upload a PNG, JPEG or SVG image."),  # a GIF called logo.png
        (image_bytes("BMP"), "Upload a PNG, JPEG or SVG image."),
        (b"%PDF-1.7 not an image", "Upload a PNG, JPEG or SVG image."),
        (b"MZ\x90\x00 an executable", "Upload a PNG, JPEG or SVG image."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "The image file is damaged or not a PNG or JPEG."),
        (b"\xff\xd8\xff" + b"garbage" * 10, "The image file is damaged or not a PNG or JPEG."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (1024 * 1024), "The logo must be 1 MB or smaller."),
        (image_bytes("PNG", (4001, 10)), "The logo is 4001 x 10 pixels; at most 4000 x 4000"),
        (b"<svg><unclosed", "The SVG file could not be read safely."),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="9000"/>', "wider or taller than 4000"),
        (b'<?xml version="1.0"?><html><svg/></html>', "Upload a PNG, JPEG or SVG image."),
    ],
    ids=[
        "empty",
        "gif-named-png",
        "bmp",
        "pdf",
        "exe",
        "broken-png",
        "broken-jpeg",
        "too-many-bytes",
        "too-many-pixels",
        "bad-xml",
        "huge-svg",
        "html-not-svg",
    ],
)
def test_bad_uploads_are_refused_with_a_clear_message(data: bytes, message: str):
    with pytest.raises(LogoError, match=re.escape(message)):
        check_logo(data)


def test_a_pixel_bomb_is_refused_before_decoding():
    # A tiny file that claims a huge canvas: the header alone refuses it.
    for side in (5000, 30000):
        with pytest.raises(LogoError, match=r"(The logo is 5000 x 5000|too many) pixels"):
            check_logo(_png_claiming(side, side))


def _png_claiming(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


MALICIOUS = {
    "script": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><rect width="5" height="5"/></svg>',
    "onload": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="5" height="5" onclick="alert(2)"/></svg>',
    "foreign": b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div xmlns="http://www.w3.org/1999/xhtml"><iframe src="https://evil.example"/></div></foreignObject><rect width="5" height="5"/></svg>',
    "external-href": b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="https://evil.example/x.svg#a"/><image href="http://evil.example/track.png"/><rect width="5" height="5"/></svg>',
    "url-fill": b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5" fill="url(http://evil.example/p)"/></svg>',
    "style-import": b'<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://evil.example/x.css); rect{fill:red}</style><rect width="5" height="5"/></svg>',
    "style-url": b'<svg xmlns="http://www.w3.org/2000/svg"><style>rect{fill:url(https://evil.example/x)}</style><rect width="5" height="5"/></svg>',
    "style-attr": b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5" style="fill:url(http://evil.example)"/></svg>',
    "link": b'<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><rect width="5" height="5"/></a></svg>',
    "animate": b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5"><set attributeName="onclick" to="alert(1)"/><animate attributeName="href" values="javascript:alert(1)"/></rect></svg>',
}


@pytest.mark.parametrize("name", MALICIOUS)
def test_malicious_svgs_come_out_clean(name: str):
    clean = sanitize_svg(MALICIOUS[name]).decode()

    for bad in ("script", "alert", "onload", "onclick", "foreignObject", "evil.example",
                "@import", "javascript", "<image", "<a ", "<set", "<animate", "style="):  # fmt: skip
        assert bad not in clean, f"{bad!r} survived in {clean}"
    if name != "link":  # a link goes with all it wraps
        assert "<rect" in clean  # the drawing itself stays


def test_entities_and_doctypes_are_refused():
    billion_laughs = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>'
    xxe = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>'
    for data in (billion_laughs, xxe):
        with pytest.raises(LogoError, match=re.escape("The SVG file could not be read safely.")):
            check_logo(data)


def test_a_clean_svg_keeps_shapes_text_gradients_and_local_references():
    svg = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 100 20">
      <defs><linearGradient id="g"><stop offset="0" stop-color="#2f5bea"/><stop offset="1" stop-color="#1d2433"/></linearGradient></defs>
      <style>.t { font-weight: 700 }</style>
      <rect width="100" height="20" fill="url(#g)"/>
      <text x="5" y="15" class="t" font-family="sans-serif">Acme <tspan fill="#fff">Ltd</tspan></text>
      <use xlink:href="#g"/>
    </svg>"""
    clean = sanitize_svg(svg).decode()

    assert 'fill="url(#g)"' in clean
    assert "<linearGradient" in clean and "stop-color" in clean
    assert ".t { font-weight: 700 }" in clean
    assert "Acme" in clean and "Ltd</tspan>" in clean
    assert 'xlink:href="#g"' in clean
