"""Long work a person waits for: started, advanced, finished or failed, in its own commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Job
from portal.services.actors import Actor
from portal.services.errors import NotFound


def start_job(actor: Actor, kind: str, params: dict[str, Any], total: int = 0) -> Job:
    job = Job(business_id=actor.business.id, kind=kind, params=params, total=total)
    db.session.add(job)
    db.session.commit()
    return job


def get_job(actor: Actor, public_id: str) -> Job:
    job = db.session.scalar(
        select(Job).where(Job.public_id == public_id, Job.business_id == actor.business.id)
    )
    if job is None:
        raise NotFound("No such job.")
    return job


def advance(job_id: int, done: int, total: int | None = None) -> None:
    """Record progress; a statement of its own so the page polling it sees it at once."""
    values: dict[str, Any] = {"done": done, "status": "running"}
    if total is not None:
        values["total"] = total
    db.session.execute(update(Job).where(Job.id == job_id).values(**values))
    db.session.commit()


def finish(job_id: int, result_path: str) -> None:
    db.session.execute(
        update(Job).where(Job.id == job_id).values(status="done", result_path=result_path)
    )
    db.session.commit()


def fail(job_id: int, error: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(Job).where(Job.id == job_id).values(status="failed", error=error[:2000])
    )
    db.session.commit()
