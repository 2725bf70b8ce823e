"""The report pages: a table with totals, the date range, messages beside fields, downloads,
and big exports as jobs with a progress page."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from typing import Any

import pytest
from openpyxl import load_workbook

from portal.models import Job, Role
from portal.services import spreadsheets
from portal.web import reports as web_reports
from tests.conftest import make_team
from tests.reports.conftest import Books
from tests.web.helpers import errors_beside

JANUARY = {"from": "2026-01-01", "to": "2026-01-31"}


def _cells(html: str, row_class: str = "") -> list[list[str]]:
    body = html.split('id="report-table"', 1)[1].split("</table>", 1)[0]
    pattern = (
        r"<tr class=\"totals\"[^>]*>(.*?)</tr>" if row_class == "totals" else r"<tr>(.*?)</tr>"
    )
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(pattern, body, re.S)
    ]


def test_the_register_page_shows_rows_and_a_total_per_currency(books: Books, login: Any) -> None:
    client = login(Role.ACCOUNTANT)
    html = client.get("/app/reports/invoice-register", query_string=JANUARY).get_data(True)
    rows = _cells(html)[1:]  # the header row first
    assert [r[0] for r in rows] == [books.inv1.number, books.inv3.number, books.inv2.number]
    assert rows[0][5:] == ["€350.00", "€55.00", "€405.00", "€200.00", "€55.00", "€150.00", "EUR"]
    assert rows[0][2] == "Jan 5, 2026"
    totals = _cells(html, "totals")
    assert totals == [
        ["Total EUR", "", "", "", "", "€450.00", "€75.00", "€525.00", "€320.00", "€55.00",
         "€150.00", "EUR"],
        ["Total USD", "", "", "", "", "$1,000.00", "$200.00", "$1,200.00", "$1,200.00",
         "$0.00", "$0.00", "USD"],
    ]  # fmt: skip


def test_changing_the_dates_changes_the_table_and_htmx_gets_the_section(
    books: Books, login: Any
) -> None:
    client = login(Role.ACCOUNTANT)
    response = client.get(
        "/app/reports/invoice-register",
        query_string={"from": "2026-02-01", "to": "2026-02-28"},
        headers={"HX-Request": "true"},
    )
    html = response.get_data(True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="report">')
    assert [r[0] for r in _cells(html)[1:]] == [books.inv4.number]
    assert "HX-Request, HX-Target" in response.headers["Vary"]


def test_the_period_defaults_to_this_month(books: Books, login: Any) -> None:
    from portal.services.pricing import business_today

    client = login(Role.ACCOUNTANT)
    html = client.get("/app/reports/payments-received").get_data(True)
    first = business_today(books.actor.business).replace(day=1).isoformat()
    assert f'name="from" value="{first}"' in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "2026-02-30"}, "report-from", "'2026-02-30' is not a date; enter one like"),
        ({"to": "tomorrow"}, "report-to", "'tomorrow' is not a date; enter one like"),
        (
            {"from": "2026-02-01", "to": "2026-01-01"},
            "report-to",
            "The end of the period comes before its start.",
        ),
    ],
)
def test_a_bad_date_is_refused_beside_its_field(
    books: Books, login: Any, query: dict[str, str], field: str, message: str
) -> None:
    client = login(Role.ACCOUNTANT)
    response = client.get("/app/reports/tax-collected", query_string=query)
    assert response.status_code == 422
    (said,) = errors_beside(response.get_data(True), field)
    assert said.startswith(message)
    assert 'id="report-table"' not in response.get_data(True)


def test_the_statement_asks_for_a_client_then_shows_balances(books: Books, login: Any) -> None:
    client = login(Role.ACCOUNTANT)
    html = client.get("/app/reports/client-statement", query_string=JANUARY).get_data(True)
    assert "Choose a client to see their statement." in html
    html = client.get(
        "/app/reports/client-statement", query_string=JANUARY | {"client": books.blue.public_id}
    ).get_data(True)
    assert _cells(html, "totals") == [
        ["Closing balance", "", "", "€555.00", "€405.00", "€150.00", "EUR"]
    ]
    stranger = make_team("Other Co")
    foreign = client.get(
        "/app/reports/client-statement",
        query_string=JANUARY | {"client": stranger.business.public_id},
    )
    assert foreign.status_code == 422
    assert errors_beside(foreign.get_data(True), "report-client") == ["Choose one of your clients."]


def test_an_unknown_report_is_not_found(books: Books, login: Any) -> None:
    assert login(Role.ACCOUNTANT).get("/app/reports/profit-and-loss").status_code == 404


def test_the_index_lists_every_report(books: Books, login: Any) -> None:
    html = login(Role.ACCOUNTANT).get("/app/reports/").get_data(True)
    for slug in ("invoice-register", "payments-received", "tax-collected", "client-statement",
                 "revenue-by-client", "revenue-by-product", "gross-fees-net"):  # fmt: skip
        assert f'href="/app/reports/{slug}"' in html
    assert '<a href="/app/reports/" aria-current="page">Reports</a>' in html


def test_a_small_export_downloads_at_once(books: Books, login: Any, db: Any) -> None:
    client = login(Role.ACCOUNTANT)
    response = client.post(
        "/app/reports/payments-received/export", data=JANUARY | {"format": "csv"}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="payments-received-2026-01-01_2026-01-31.csv"'
    )
    lines = list(csv.DictReader(io.StringIO(response.get_data(True))))
    assert [line["Net"] for line in lines] == ["200.00", "150.00", "1164.90", "350.00", "1164.90"]
    response = client.post("/app/reports/payments-received/export", data=JANUARY)
    assert response.mimetype == spreadsheets.XLSX_MEDIA_TYPE
    ws = load_workbook(io.BytesIO(response.data))["Payments received"]
    assert ws["I4"].value == 1164.9 and ws["I4"].number_format == '#,##0.00 "USD"'
    assert db.session.query(Job).count() == 0


def test_an_export_with_bad_dates_is_refused(books: Books, login: Any) -> None:
    client = login(Role.ACCOUNTANT)
    response = client.post(
        "/app/reports/payments-received/export", data={"from": "x", "format": "csv"}
    )
    assert response.status_code == 422
    assert errors_beside(response.get_data(True), "report-from")


def test_a_big_export_runs_as_a_job_with_progress(
    books: Books, login: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_reports, "DIRECT_LIMIT", 2)
    client = login(Role.ACCOUNTANT)
    response = client.post("/app/reports/invoice-register/export", data=JANUARY)
    assert response.status_code == 303
    page = response.headers["Location"]
    assert re.fullmatch(r"/app/reports/exports/[0-9A-Z]{26}", page)
    html = client.get(page).get_data(True)
    assert "Invoice register as Excel" in html
    status = client.get(page + "/status")
    assert status.status_code == 286  # htmx: stop polling
    assert "Done: 6 rows." in status.get_data(True)  # three on the sheet, three on Data
    job = db.session.query(Job).one()
    assert (job.kind, job.done, job.total) == ("report-export", 6, 6)
    with client.get(page + "/download") as download:
        assert download.status_code == 200
        assert download.mimetype == spreadsheets.XLSX_MEDIA_TYPE
        assert (
            "invoice-register-2026-01-01_2026-01-31.xlsx" in download.headers["Content-Disposition"]
        )
        ws = load_workbook(io.BytesIO(download.data))["Invoice register"]
    assert ws["A6"].value == "Total EUR" and ws["H6"].value == 525


def test_a_big_csv_export_and_another_business(
    books: Books, login: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_reports, "DIRECT_LIMIT", 0)
    client = login(Role.OWNER)
    page = client.post(
        "/app/reports/gross-fees-net/export", data=JANUARY | {"format": "csv"}
    ).headers["Location"]
    with client.get(page + "/download") as download:
        assert download.mimetype == "text/csv"
        lines = list(csv.reader(io.StringIO(download.get_data(True))))
    assert lines[1] == ["2026-01", "manual", "2", "350.00", "0.00", "30.00", "320.00", "EUR"]
    stranger = make_team("Other Co")
    client.post("/logout")
    other = login(Role.OWNER, who=stranger)
    assert other.get(page).status_code == 404
    assert other.get(page + "/download").status_code == 404


def test_the_zip_job_pages_do_not_open_a_report_job_and_back(
    books: Books, login: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.services import jobs

    client = login(Role.ACCOUNTANT)
    zip_job = jobs.start_job(books.actor, "invoices-zip", {"document_ids": []})
    assert client.get(f"/app/reports/exports/{zip_job.public_id}").status_code == 404


@pytest.mark.parametrize("role", [Role.VIEWER, Role.STAFF])
def test_viewers_and_staff_do_not_see_reports(books: Books, login: Any, role: Role) -> None:
    client = login(role)
    assert client.get("/app/reports/invoice-register").status_code == 403
    assert client.post("/app/reports/invoice-register/export", data=JANUARY).status_code == 403
    assert ">Reports</a>" not in client.get("/app/").get_data(True)
