"""``Idempotency-Key`` on POST: the same key and request replays the stored answer.

A record is kept per business, credential and key. It is written (status 0) before the call
runs, so a second call with the key while the first runs is refused with 409, and completed
with the answer afterwards. The same key with another request (method, path or body) is a 422.
Answers of 5xx are not kept: the caller may retry. Records live 24 hours
(``purge_expired`` removes the older ones; the scheduler calls it).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import Request, Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from portal.api.principal import ApiPrincipal
from portal.api.problems import problem
from portal.extensions import db
from portal.models import IdempotencyRecord
from portal.models.base import utcnow

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255
KEPT_HEADERS = ("Content-Type", "Location")


def request_hash(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.get_data()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _find(principal: ApiPrincipal, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.business_id == principal.business.id,
            IdempotencyRecord.credential == principal.credential,
            IdempotencyRecord.key == key,
        )
    )


def _answer_for(record: IdempotencyRecord, wanted: str) -> Response:
    if record.request_hash != wanted:
        return problem(
            422,
            "Idempotency key reused",
            "This Idempotency-Key was used with another request; use a new key.",
            kind="idempotency-key-reused",
            errors={HEADER: "Already used with another request."},
        )
    if record.status == 0:
        return problem(
            409,
            "Request in progress",
            "A request with this Idempotency-Key is still running; retry after it finishes.",
            kind="idempotency-in-progress",
        )
    response = Response(record.body, status=record.status)
    for name, value in record.headers.items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def begin(principal: ApiPrincipal, request: Request) -> Response | int:
    """The stored (or refusing) answer, or the id of the record the new call will complete."""
    key = request.headers.get(HEADER, "")
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        return problem(
            422,
            "Invalid Idempotency-Key",
            f"Send 1 to {MAX_KEY_LENGTH} printable characters.",
            kind="validation",
            errors={HEADER: f"Send 1 to {MAX_KEY_LENGTH} printable characters."},
        )
    wanted = request_hash(request)
    for _ in range(2):
        record = _find(principal, key)
        if record is not None and record.created_at < utcnow() - LIFETIME:
            db.session.delete(record)
            db.session.commit()
            record = None
        if record is not None:
            answer = _answer_for(record, wanted)
            db.session.commit()  # end the read transaction before the view's work
            return answer
        record = IdempotencyRecord(
            business_id=principal.business.id,
            credential=principal.credential,
            key=key,
            request_hash=wanted,
            status=0,
            headers={},
            body="",
            created_at=utcnow(),
        )
        db.session.add(record)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another call took the key first: answer as it says
            continue
        return record.id
    return problem(409, "Request in progress", kind="idempotency-in-progress")


def finish(record_id: int, response: Response) -> None:
    """Keep the answer for replays, or forget the key when the call failed on our side."""
    db.session.rollback()  # whatever the view left unfinished is not ours to commit
    record = db.session.get(IdempotencyRecord, record_id)
    if record is None:
        return
    if response.status_code >= 500:
        db.session.delete(record)
    else:
        record.status = response.status_code
        record.headers = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
        record.body = response.get_data(as_text=True)
    db.session.commit()


def purge_expired(now: datetime | None = None) -> int:
    """Delete records older than 24 hours; returns how many went."""
    cutoff = (now or utcnow()) - LIFETIME
    result = db.session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
    )
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
