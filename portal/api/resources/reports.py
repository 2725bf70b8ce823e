"""``/reports``: revenue and receivables ageing for a date range."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_smorest import Blueprint

from portal.api.principal import require_scope
from portal.api.resources.common import actor
from portal.api.schemas.common import money
from portal.api.schemas.money_docs import (
    AgeingQuery,
    AgeingSchema,
    ReportSchema,
    RevenueQuery,
    cell,
)
from portal.models import Role
from portal.services import analytics_data, reports
from portal.services.pricing import business_today
from portal.services.reports import revenue
from portal.services.reports.tables import Period

bp = Blueprint("api_reports", __name__, url_prefix="/api/v1/reports", description="Reports")


@bp.get("/revenue")
@require_scope("reports:read")
@bp.arguments(RevenueQuery, location="query")
@bp.response(200, ReportSchema)
def revenue_report(args: dict[str, Any]) -> dict[str, Any]:
    """Net revenue per client or product for the period, converted to the base currency."""
    who = actor()
    slug = revenue.CLIENT_SLUG if args["by"] == "client" else revenue.PRODUCT_SLUG
    report = reports.build_report(who, slug, Period(args["start"], args["end"]))
    sheet = report.data_sheet
    keys = [c.key for c in sheet.columns]
    return {
        "title": report.title,
        "start": report.period.start,
        "end": report.period.end,
        "base_currency": who.business.base_currency,
        "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in sheet.columns],
        "rows": [
            {k: cell(v, who.business) for k, v in zip(keys, row, strict=False)}
            for row in sheet.rows
        ],
        "totals": [
            {k: cell(v, who.business) for k, v in zip(keys, row, strict=False)}
            for row in report.totals
        ],
    }


@bp.get("/ageing")
@require_scope("reports:read")
@bp.arguments(AgeingQuery, location="query")
@bp.response(200, AgeingSchema)
def ageing_report(args: dict[str, Any]) -> dict[str, Any]:
    """Open invoices by days overdue on a date, in the base currency."""
    who = actor()
    who.require(Role.ACCOUNTANT)
    as_of: date = args.get("as_of") or business_today(who.business)
    buckets, total = analytics_data.receivables(who.business, as_of)
    base = who.business.base_currency
    return {
        "as_of": as_of,
        "buckets": [
            {
                "label": b.label,
                "count": b.count,
                "balance": money(b.balance_minor, base, who.business),
            }
            for b in buckets
        ],
        "total": money(total, base, who.business),
    }
