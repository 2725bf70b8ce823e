"""Checking an uploaded logo: its real type from the bytes, its size, and a clean SVG."""

from __future__ import annotations

import io
import re
import warnings

# Only to build the clean tree: parsing goes through defusedxml.
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from PIL import Image, UnidentifiedImageError

MAX_BYTES: Final = 1024 * 1024
MAX_SIDE: Final = 4000

PNG, JPEG, SVG = "image/png", "image/jpeg", "image/svg+xml"

SVG_NS: Final = "http://www.w3.org/2000/svg"
XLINK_NS: Final = "http://www.w3.org/1999/xlink"

#: Shapes, text, gradients and grouping; anything else (script, foreignObject, image, a,
#: animate, set, iframe…) is dropped with its whole subtree.
ELEMENTS: Final = frozenset(
    {
        "svg", "g", "defs", "title", "desc", "symbol", "use", "path", "rect", "circle",
        "ellipse", "line", "polyline", "polygon", "text", "tspan", "textPath",
        "linearGradient", "radialGradient", "stop", "clipPath", "mask", "pattern", "style",
    }
)  # fmt: skip
#: Geometry and presentation attributes; no event handlers, no ``style`` attribute.
ATTRIBUTES: Final = frozenset(
    {
        "id", "class", "version", "viewBox", "preserveAspectRatio", "width", "height", "x", "y",
        "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "dx", "dy", "d",
        "points", "transform", "pathLength", "fill", "fill-opacity", "fill-rule", "stroke",
        "stroke-width", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit",
        "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "opacity", "color",
        "display", "visibility", "clip-path", "clip-rule", "mask", "font-family", "font-size",
        "font-weight", "font-style", "text-anchor", "dominant-baseline", "letter-spacing",
        "word-spacing", "text-decoration", "offset", "stop-color", "stop-opacity",
        "gradientUnits", "gradientTransform", "spreadMethod", "patternUnits",
        "patternTransform", "patternContentUnits", "clipPathUnits", "maskUnits",
        "maskContentUnits", "startOffset", "href",
    }
)  # fmt: skip
#: Only these may point elsewhere, and only inside the document (``#id``).
HREF_ELEMENTS: Final = frozenset({"use", "linearGradient", "radialGradient", "pattern", "textPath"})

_URL = re.compile(r"url\s*\(", re.IGNORECASE)
_LOCAL_URL = re.compile(r"url\(\s*['\"]?#[\w.:-]+['\"]?\s*\)", re.IGNORECASE)
_DANGEROUS_CSS = re.compile(r"@import|expression\s*\(|javascript:|\\|behavior\s*:", re.IGNORECASE)


class LogoError(ValueError):
    """The upload is not a logo we accept; the message is for the person who sent it."""


@dataclass(frozen=True, slots=True)
class Logo:
    data: bytes
    media_type: str


def check_logo(data: bytes) -> Logo:
    """Accept a PNG, JPEG or SVG by its bytes (never its name), within size limits."""
    if not data:
        raise LogoError("Choose an image file to upload.")
    if len(data) > MAX_BYTES:
        raise LogoError("The logo must be 1 MB or smaller.")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Logo(_check_raster(data, "PNG"), PNG)
    if data.startswith(b"\xff\xd8\xff"):
        return Logo(_check_raster(data, "JPEG"), JPEG)
    if _looks_like_svg(data):
        return Logo(sanitize_svg(data), SVG)
    raise LogoError("Upload a PNG, JPEG or SVG image.")


def _check_raster(data: bytes, expected: str) -> bytes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                # The header gives the size: refuse before decoding a single pixel.
                width, height = image.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise LogoError(
                        f"The logo is {width} x {height} pixels; "
                        f"at most {MAX_SIDE} x {MAX_SIDE} is allowed."
                    )
                if image.format != expected:
                    raise LogoError("Upload a PNG, JPEG or SVG image.")
                image.verify()
    except LogoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LogoError(
            f"The logo has too many pixels; at most {MAX_SIDE} x {MAX_SIDE} is allowed."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise LogoError("The image file is damaged or not a PNG or JPEG.") from exc
    return data


def _looks_like_svg(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) and b"<svg" in data


def _local(tag: object) -> tuple[str, str]:
    if not isinstance(tag, str):  # comments and processing instructions
        return "", ""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def sanitize_svg(data: bytes) -> bytes:
    """Parse without entities or DTDs and rebuild from a whitelist; raise when not an SVG."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise LogoError("The SVG file could not be read safely.") from exc
    ns, name = _local(root.tag)
    if name != "svg" or ns not in ("", SVG_NS):
        raise LogoError("Upload a PNG, JPEG or SVG image.")
    _check_svg_size(root)
    clean = _clean(root)
    if clean is None:  # unreachable: the root was checked to be <svg>
        raise LogoError("Upload a PNG, JPEG or SVG image.")
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(clean, encoding="utf-8", xml_declaration=True)


def _check_svg_size(root: ET.Element) -> None:
    for attr in ("width", "height"):
        match = re.fullmatch(r"\s*([\d.]+)\s*(px)?\s*", root.get(attr, ""))
        if match and float(match.group(1)) > MAX_SIDE:
            raise LogoError(f"The logo is wider or taller than {MAX_SIDE} pixels.")


def _clean(element: ET.Element) -> ET.Element | None:
    ns, name = _local(element.tag)
    if ns not in ("", SVG_NS) or name not in ELEMENTS:
        return None
    out = ET.Element(f"{{{SVG_NS}}}{name}")
    if name == "style":
        css = element.text or ""
        if _DANGEROUS_CSS.search(css) or len(_URL.findall(css)) != len(_LOCAL_URL.findall(css)):
            return None
        out.text = css
        return out
    for key, value in element.attrib.items():
        attr_ns, attr = _local(key)
        if attr_ns not in ("", XLINK_NS) or attr not in ATTRIBUTES:
            continue
        if attr == "href":
            if name in HREF_ELEMENTS and value.strip().startswith("#"):
                out.set(f"{{{XLINK_NS}}}href" if attr_ns else "href", value.strip())
            continue
        if attr_ns:
            continue
        if _URL.search(value) and not _LOCAL_URL.fullmatch(value.strip()):
            continue  # url(http…), url(data:…): nothing outside the file is fetched
        if "javascript:" in value.lower():
            continue
        out.set(attr, value)
    if name in ("text", "tspan", "textPath", "title", "desc"):
        out.text = element.text
    for child in element:
        kept = _clean(child)
        if kept is not None:
            kept.tail = child.tail if name in ("text", "tspan", "textPath") else None
            out.append(kept)
    return out
