"""Take the screenshots in docs/img from a running demo (make demo, then run this).

Usage: .venv/bin/python scripts/screenshots.py [http://127.0.0.1:5000]
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000"
OUT = Path(__file__).resolve().parent.parent / "docs" / "img"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]


def main() -> None:
    if not BASE.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("screenshots are taken from a local demo only")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(base_url=BASE, viewport={"width": 1280, "height": 860})
        page.goto("/login")
        page.get_by_label("Email").fill("owner@northwind.example")
        page.get_by_label("Password").fill("demo-password-1")
        page.get_by_role("button", name="Log in").click()
        page.goto("/app/clients/")
        page.screenshot(path=OUT / "clients.png")
        page.locator("#client-rows a").first.click()
        page.screenshot(path=OUT / "client-detail.png", full_page=True)
        page.goto("/app/invoices/")
        page.screenshot(path=OUT / "invoices.png")
        page.goto("/app/invoices/new")
        page.get_by_label("Client", exact=True).select_option(index=1)
        page.locator("#line-0").get_by_label("Product").select_option(index=1)
        page.get_by_role("button", name="Add a line").click()
        page.locator("#line-1").get_by_label("Product").select_option(index=5)
        page.locator("#line-1").get_by_label("Quantity").fill("500")
        page.locator("#totals [data-total=total]").wait_for()
        page.screenshot(path=OUT / "invoice-editor.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
