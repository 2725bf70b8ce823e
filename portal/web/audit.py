"""Blueprint 'audit': the audit log page — changes, sign-ins, API calls — its CSV, and the
chain verified by an owner."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from portal.models import Role
from portal.services import audit_log
from portal.services.audit_log import TABS, AuditFilter
from portal.web.access import current_actor, require_role
from portal.web.htmx import is_htmx

bp = Blueprint("audit", __name__, url_prefix="/app/audit")

FILTER_KEYS = ("action", "entity_type", "entity_id", "actor", "since", "until", "route", "status")


def _day(name: str, errors: dict[str, str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Give a date as YYYY-MM-DD."
        return None


def _filter() -> tuple[AuditFilter, dict[str, str]]:
    errors: dict[str, str] = {}
    args = request.args
    wanted = AuditFilter(
        action=args.get("action", "")[:60],
        entity_type=args.get("entity_type", "")[:40],
        entity_id=args.get("entity_id", "")[:40],
        actor=args.get("actor", "")[:254],
        since=_day("since", errors),
        until=_day("until", errors),
    )
    return wanted, errors


def _tab() -> str:
    tab = request.args.get("tab", "changes")
    return tab if tab in TABS else "changes"


@bp.get("/")
@require_role(Role.ACCOUNTANT)
def index() -> ResponseReturnValue:
    actor = current_actor()
    wanted, errors = _filter()
    tab = _tab()
    cursor = request.args.get("cursor") or None
    api_wanted = audit_log.api_filter(
        wanted, request.args.get("route", "")[:200], request.args.get("status", "")[:3]
    )
    page: object
    if tab == "sign-ins":
        page = audit_log.search_sign_ins(actor, wanted, cursor)
    elif tab == "api":
        page = audit_log.search_api_calls(actor, api_wanted, cursor)
    else:
        page = audit_log.search_events(actor, wanted, cursor)
    kept = {k: request.args[k] for k in FILTER_KEYS if request.args.get(k)}
    actions = audit_log.actions(actor)
    return render_template(
        "audit/index.html",
        tab=tab,
        page=page,
        errors=errors,
        args=kept,
        actions=actions,
        prefixes=sorted({a.split(".")[0] + "." for a in actions}),
        entity_types=audit_log.entity_types(actor),
    )


@bp.get("/export.csv")
@require_role(Role.ACCOUNTANT)
def export_csv() -> ResponseReturnValue:
    actor = current_actor()
    wanted, _ = _filter()
    tab = _tab()
    if tab == "sign-ins":
        lines = audit_log.sign_ins_csv(actor, wanted)
    elif tab == "api":
        api_wanted = audit_log.api_filter(
            wanted, request.args.get("route", "")[:200], request.args.get("status", "")[:3]
        )
        lines = audit_log.api_calls_csv(actor, api_wanted)
    else:
        lines = audit_log.events_csv(actor, wanted)
    name = f"audit-{tab}-{date.today().isoformat()}.csv"
    # Built whole: rows are read while the request's database session is still open.
    return Response(
        "".join(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/verify")
@require_role(Role.OWNER)
def verify() -> ResponseReturnValue:
    report = audit_log.verify_business_chain(current_actor())
    template = "audit/_verify.html" if is_htmx() else "audit/verify.html"
    return render_template(template, report=report)
