"""Where the shared folder beside the project is (providers' specs, public data sets).

It is ``../shared`` from the project root; a clone elsewhere on the same machine (CI) finds it
through ``INVOICE_LITE_SHARED_DIR`` or at the workplace's usual place."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    candidates = [
        os.environ.get("INVOICE_LITE_SHARED_DIR"),
        str(ROOT.parent / "shared"),
        "/work/shared",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "specs").is_dir():
            return Path(candidate)
    return ROOT.parent / "shared"


SHARED = shared_dir()
