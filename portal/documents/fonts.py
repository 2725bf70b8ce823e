"""The open-licence fonts bundled under ``static/fonts/`` (SIL OFL 1.1, from @fontsource)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

FONT_DIR: Final = Path(__file__).resolve().parents[2] / "static" / "fonts"


@dataclass(frozen=True, slots=True)
class Font:
    name: str  # as stored in ``Business.font`` and shown to people
    folder: str
    stem: str
    fallback: str  # a generic family for glyphs outside the bundled latin subset

    def file(self, weight: int) -> Path:
        return FONT_DIR / self.folder / f"{self.stem}-latin-{weight}-normal.woff2"


FONTS: Final = {
    f.name: f
    for f in (
        Font("Inter", "inter", "inter", "sans-serif"),
        Font("Source Serif 4", "source-serif-4", "source-serif-4", "serif"),
        Font("IBM Plex Sans", "ibm-plex-sans", "ibm-plex-sans", "sans-serif"),
    )
}
DEFAULT_FONT: Final = "Inter"
WEIGHTS: Final = (400, 700)


def font_named(name: str) -> Font:
    return FONTS.get(name, FONTS[DEFAULT_FONT])


def font_face_css(font: Font) -> str:
    """``@font-face`` rules pointing at the bundled files (WeasyPrint embeds a subset)."""
    return "\n".join(
        f'@font-face {{ font-family: "{font.name}"; font-weight: {weight}; font-style: normal; '
        f'src: url("{font.file(weight).as_uri()}") format("woff2"); }}'
        for weight in WEIGHTS
    )
