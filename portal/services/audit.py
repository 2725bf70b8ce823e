"""Append events to the hash-chained audit log and verify the chains."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditChainHead, AuditEvent, Business, User
from portal.models.base import utcnow

SYSTEM_CHAIN = "system"


def chain_for(business: Business | None) -> str:
    return f"b:{business.public_id}" if business is not None else SYSTEM_CHAIN


def jsonable(value: Any) -> Any:
    """Values as they appear in an audit snapshot: exact, and stable through JSON."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def _digest(event: AuditEvent) -> str:
    payload = {
        "chain": event.chain,
        "seq": event.seq,
        "prev": event.prev_hash,
        "business_id": event.business_id,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "created_at": event.created_at.isoformat(),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def record(
    *,
    business: Business | None,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to the caller's transaction; the caller commits."""
    chain = chain_for(business)
    head = db.session.execute(
        select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditChainHead(chain=chain, seq=0, last_hash="")
        db.session.add(head)
    if business is not None and business.id is None:
        db.session.flush()
    event = AuditEvent(
        chain=chain,
        seq=head.seq + 1,
        business_id=business.id if business is not None else None,
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.email if actor is not None else "",
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        created_at=utcnow(),
        prev_hash=head.last_hash,
    )
    event.hash = _digest(event)
    head.seq = event.seq
    head.last_hash = event.hash
    db.session.add(event)
    for listener in LISTENERS:
        listener(business, event)
    return event


#: Called with each new event, in the same transaction (outgoing webhooks publish from here).
LISTENERS: list[Callable[[Business | None, AuditEvent], None]] = []


@dataclass(frozen=True, slots=True)
class BrokenLink:
    chain: str
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    chains: int
    events: int
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _verify_chain(chain: str, head: AuditChainHead | None) -> tuple[int, BrokenLink | None]:
    """Walk one chain in order; return how many events were read and the first broken link."""
    stmt = select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
    count, expected_seq, prev = 0, 1, ""
    with closing(db.session.execute(stmt.execution_options(yield_per=500))) as result:
        for event in result.scalars():
            count += 1
            if event.seq != expected_seq:
                return count, BrokenLink(chain, expected_seq, "event missing")
            if event.prev_hash != prev:
                return count, BrokenLink(chain, event.seq, "previous hash differs")
            if _digest(event) != event.hash:
                return count, BrokenLink(chain, event.seq, "content was altered")
            prev, expected_seq = event.hash, expected_seq + 1
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev):
        return count, BrokenLink(chain, expected_seq, "events after this were removed")
    return count, None


def verify_chains(chains: list[str] | None = None) -> VerifyReport:
    """Recompute every link; report the first one that does not hold."""
    heads = {h.chain: h for h in db.session.scalars(select(AuditChainHead))}
    names = chains if chains is not None else sorted(heads)
    total = 0
    for chain in names:
        count, broken = _verify_chain(chain, heads.get(chain))
        total += count
        if broken is not None:
            return VerifyReport(len(names), total, broken)
    return VerifyReport(len(names), total, None)


def events_for_entity(business: Business, entity_type: str, entity_id: str) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(
            AuditEvent.business_id == business.id,
            AuditEvent.entity_type == entity_type,
            AuditEvent.entity_id == entity_id,
        )
        .order_by(AuditEvent.seq.desc())
    )
    return list(db.session.scalars(stmt))
