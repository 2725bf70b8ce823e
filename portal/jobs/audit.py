"""Periodic check of the audit log's hash chains."""

from __future__ import annotations

from typing import Any

from portal.jobs.context import with_app
from portal.services.audit import verify_chains


@with_app
def verify_audit_chains() -> dict[str, Any]:
    report = verify_chains()
    result: dict[str, Any] = {"chains": report.chains, "events": report.events, "ok": report.ok}
    if report.broken is not None:
        result["broken"] = {
            "chain": report.broken.chain,
            "seq": report.broken.seq,
            "reason": report.broken.reason,
        }
    return result
