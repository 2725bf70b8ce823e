"""``/recurring-schedules``: invoices made on a schedule."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import func, literal, select
from sqlalchemy.orm import selectinload
from sqlalchemy.types import Date

from portal.api.pagination import SortKey
from portal.api.principal import require_scope
from portal.api.resources.common import actor, page, timestamps
from portal.api.resources.document_lists import FAR_PAST
from portal.api.schemas.common import page_schema
from portal.api.schemas.documents import draft_data
from portal.api.schemas.money_docs import (
    ScheduleInSchema,
    ScheduleQuery,
    ScheduleSchema,
    dump_schedule,
)
from portal.models import Client, RecurringSchedule
from portal.services import recurring
from portal.services.recurring import ScheduleData

bp = Blueprint(
    "api_recurring",
    __name__,
    url_prefix="/api/v1/recurring-schedules",
    description="Recurring invoice schedules",
)
SchedulePage = page_schema(ScheduleSchema, "SchedulePage")
SORTS = {
    **timestamps(RecurringSchedule),
    "next_run_on": SortKey(
        func.coalesce(RecurringSchedule.next_run_on, literal(FAR_PAST, Date)),
        "next_run_on",
        "date",
        FAR_PAST,
    ),
}
LOADS = (selectinload(RecurringSchedule.client), selectinload(RecurringSchedule.template))


def _one(public_id: str) -> dict[str, Any]:
    who = actor()
    return dump_schedule(recurring.get_schedule(who, public_id), who.business)


@bp.get("")
@require_scope("invoices:read")
@bp.arguments(ScheduleQuery, location="query")
@bp.response(200, SchedulePage)
def list_schedules(args: dict[str, Any]) -> dict[str, Any]:
    """List schedules: filter by client and whether they run."""
    who = actor()
    stmt = (
        select(RecurringSchedule)
        .where(RecurringSchedule.business_id == who.business.id)
        .options(*LOADS)
    )
    if args.get("active") is not None:
        stmt = stmt.where(RecurringSchedule.active == args["active"])
    if args.get("client_id"):
        client = select(Client.id).where(
            Client.business_id == who.business.id, Client.public_id == args["client_id"]
        )
        stmt = stmt.where(RecurringSchedule.client_id == client.scalar_subquery())
    return page(
        stmt,
        RecurringSchedule.id,
        SORTS,
        args,
        lambda s: dump_schedule(s, who.business),
        RecurringSchedule.updated_at,
    )


@bp.post("")
@require_scope("invoices:write")
@bp.arguments(ScheduleInSchema)
@bp.response(201, ScheduleSchema)
def create_schedule(body: dict[str, Any]) -> dict[str, Any]:
    """Create a schedule: its lines, currency and terms are copied into every invoice."""
    draft = draft_data({**body, "lines": body["lines"]})
    data = ScheduleData(
        client_id=body["client_id"],
        lines=draft.lines,
        currency=draft.currency,
        terms_code=body.get("terms_code"),
        frequency=body["frequency"],
        interval_count=body["interval_count"],
        day_of_month=body.get("day_of_month"),
        start_date=body["start_date"],
        end_after_count=body.get("end_after_count"),
        end_date=body.get("end_date"),
        auto_send=body["auto_send"],
    )
    schedule = recurring.create_schedule(actor(), data)
    return _one(schedule.public_id)


@bp.get("/<pid:public_id>")
@require_scope("invoices:read")
@bp.response(200, ScheduleSchema)
def get_schedule(public_id: str) -> dict[str, Any]:
    """One schedule."""
    return _one(public_id)


@bp.post("/<pid:public_id>/pause")
@require_scope("invoices:write")
@bp.response(200, ScheduleSchema)
def pause_schedule(public_id: str) -> dict[str, Any]:
    """Stop making invoices until resumed."""
    recurring.pause_schedule(actor(), public_id)
    return _one(public_id)


@bp.post("/<pid:public_id>/resume")
@require_scope("invoices:write")
@bp.response(200, ScheduleSchema)
def resume_schedule(public_id: str) -> dict[str, Any]:
    """Make invoices again from the next date on."""
    recurring.resume_schedule(actor(), public_id)
    return _one(public_id)
