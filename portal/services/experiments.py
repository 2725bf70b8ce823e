"""A/B experiments on the payment page: variants, assignment, events.

A visitor is a portal link: the same link always sees the same variant (a hash of the
experiment and the link, cut by the variants' weights), so a client who comes back sees the
page they saw before. Each kind of event counts once per visitor and variant.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from portal.billing.money import Money
from portal.extensions import db
from portal.models import (
    Business,
    Checkout,
    Experiment,
    ExperimentEvent,
    ExperimentVariant,
    PortalLink,
    Role,
)
from portal.models.base import utcnow
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound

LAYOUTS = {"standard": "Standard", "compact": "Compact: the amount and the buttons first"}
EVENT_KINDS = ("viewed", "checkout_started", "paid")
STATUSES = {"draft", "running", "paused", "ended"}
MAX_VARIANTS = 4


@dataclass(frozen=True, slots=True)
class VariantSettings:
    layout: str = "standard"
    heading: str = ""  # replaces "Pay this invoice" when set
    button: str = ""  # replaces "Pay with …" when set
    method_order: tuple[str, ...] = ()  # providers first in this order
    offer_partial: bool | None = None  # None: the account's own setting

    def to_json(self) -> str:
        return json.dumps(
            {
                "layout": self.layout,
                "heading": self.heading,
                "button": self.button,
                "method_order": list(self.method_order),
                "offer_partial": self.offer_partial,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, raw: str) -> VariantSettings:
        data: dict[str, Any] = json.loads(raw or "{}")
        return cls(
            layout=str(data.get("layout") or "standard"),
            heading=str(data.get("heading") or ""),
            button=str(data.get("button") or ""),
            method_order=tuple(str(m) for m in data.get("method_order") or ()),
            offer_partial=data.get("offer_partial"),
        )


@dataclass(frozen=True, slots=True)
class VariantData:
    name: str
    weight: int
    settings: VariantSettings = field(default_factory=VariantSettings)


@dataclass(frozen=True, slots=True)
class Assignment:
    experiment: Experiment
    variant: ExperimentVariant
    settings: VariantSettings


# ----------------------------------------------------------------------------- the business


def experiments(actor: Actor) -> list[Experiment]:
    return list(
        db.session.scalars(
            select(Experiment)
            .where(Experiment.business_id == actor.business.id)
            .order_by(Experiment.created_at.desc(), Experiment.id.desc())
        )
    )


def get_experiment(actor: Actor, public_id: str) -> Experiment:
    experiment = db.session.scalar(
        select(Experiment).where(
            Experiment.public_id == public_id, Experiment.business_id == actor.business.id
        )
    )
    if experiment is None:
        raise NotFound("No such experiment.")
    return experiment


def create_experiment(
    actor: Actor, name: str, variants: list[VariantData], min_views: int = 100
) -> Experiment:
    actor.require(Role.ADMIN)
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "Give the experiment a name."
    elif len(name) > 120:
        errors["name"] = "Keep the name under 120 characters."
    if not 2 <= len(variants) <= MAX_VARIANTS:
        errors["variants"] = f"An experiment needs 2 to {MAX_VARIANTS} variants."
    elif any(not v.name.strip() for v in variants):
        errors["variants"] = "Name every variant."
    elif any(v.weight < 1 or v.weight > 99 for v in variants):
        errors["variants"] = "Each variant's share is between 1 and 99 percent."
    elif sum(v.weight for v in variants) != 100:
        errors["variants"] = "The shares must add up to 100 percent."
    elif any(v.settings.layout not in LAYOUTS for v in variants):
        errors["variants"] = "Choose one of the listed layouts."
    elif any(len(v.settings.heading) > 80 or len(v.settings.button) > 40 for v in variants):
        errors["variants"] = "Keep headings under 80 and button words under 40 characters."
    if not 10 <= min_views <= 100_000:
        errors["min_views"] = "The minimum is between 10 and 100,000 views per variant."
    if errors:
        raise InvalidInput(errors)
    experiment = Experiment(
        business_id=actor.business.id, name=name, min_views_per_variant=min_views
    )
    for position, data in enumerate(variants):
        experiment.variants.append(
            ExperimentVariant(
                key="abcd"[position],
                name=data.name.strip()[:80],
                position=position,
                weight=data.weight,
                settings=data.settings.to_json(),
            )
        )
    db.session.add(experiment)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="experiment.created",
        entity_type="experiment",
        entity_id=experiment.public_id,
        after={"name": name, "variants": [v.name for v in variants]},
    )
    db.session.commit()
    return experiment


TRANSITIONS = {
    "start": ({"draft", "paused"}, "running"),
    "pause": ({"running"}, "paused"),
    "end": ({"draft", "running", "paused"}, "ended"),
}


def change_status(actor: Actor, public_id: str, action: str) -> Experiment:
    """Start, pause or end; one experiment runs per business at a time. Ending is final: the
    results keep what was counted until then."""
    actor.require(Role.ADMIN)
    experiment = get_experiment(actor, public_id)
    if action not in TRANSITIONS:
        raise InvalidInput({"action": "Start, pause or end."})
    allowed, to = TRANSITIONS[action]
    if experiment.status == "ended":
        raise InvalidInput({"action": "This experiment has ended; its results are final."})
    if experiment.status not in allowed:
        raise InvalidInput({"action": f"A {experiment.status} experiment cannot {action}."})
    if to == "running":
        other = running(actor.business)
        if other is not None and other.id != experiment.id:
            raise InvalidInput({"action": f"“{other.name}” is running; pause or end it first."})
        experiment.started_at = experiment.started_at or utcnow()
    if to == "ended":
        experiment.ended_at = utcnow()
    before = experiment.status
    experiment.status = to
    audit.record(
        business=actor.business,
        actor=actor.user,
        action=f"experiment.{to}",
        entity_type="experiment",
        entity_id=experiment.public_id,
        before={"status": before},
        after={"status": to},
    )
    db.session.commit()
    return experiment


def running(business: Business) -> Experiment | None:
    return db.session.scalar(
        select(Experiment).where(
            Experiment.business_id == business.id, Experiment.status == "running"
        )
    )


# ----------------------------------------------------------------------------- visitors


def bucket(experiment_id: str, subject: str) -> int:
    """0..99, the same for the same experiment and visitor on every machine."""
    digest = hashlib.sha256(f"{experiment_id}:{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def pick(variants: list[ExperimentVariant], point: int) -> ExperimentVariant:
    """The variant whose share covers ``point`` (0..99), the shares laid end to end in order."""
    edge = 0
    for variant in variants:
        edge += variant.weight
        if point < edge:
            return variant
    return variants[-1]


def assign(business: Business, link: PortalLink) -> Assignment | None:
    """The link's variant of the running experiment; None when none runs (draft, paused and
    ended experiments show every client the standard page)."""
    # One query for the experiment and its variants: this runs on every portal page view.
    variants = list(
        db.session.scalars(
            select(ExperimentVariant)
            .join(ExperimentVariant.experiment)
            .where(Experiment.business_id == business.id, Experiment.status == "running")
            .options(contains_eager(ExperimentVariant.experiment))
            .order_by(ExperimentVariant.position)
        )
    )
    if not variants:
        return None
    experiment = variants[0].experiment
    chosen = pick(variants, bucket(experiment.public_id, link.public_id))
    return Assignment(experiment, chosen, VariantSettings.from_json(chosen.settings))


def record(
    assignment: Assignment, link: PortalLink, kind: str, amount_minor: int = 0, currency: str = ""
) -> None:
    """Count an event once per visitor while the experiment runs; commits."""
    if assignment.experiment.status != "running":
        return
    _add(
        assignment.experiment.id,
        assignment.variant.id,
        link.public_id,
        kind,
        amount_minor,
        currency,
    )


# Events already in the database, so a returning visitor's page view costs no query: an event
# is never changed or removed while its variant exists, and the subject (a link's random public
# id) is never reused. Bounded; each process keeps its own.
COUNTED_MEMO = 10_000
_counted: OrderedDict[tuple[int, str, str], None] = OrderedDict()


def _remember(key: tuple[int, str, str]) -> None:
    _counted[key] = None
    if len(_counted) > COUNTED_MEMO:
        _counted.popitem(last=False)


def _add(
    experiment_id: int, variant_id: int, subject: str, kind: str, amount: int, currency: str
) -> None:
    key = (variant_id, subject, kind)
    if key in _counted:
        return
    exists = db.session.scalar(
        select(ExperimentEvent.id).where(
            ExperimentEvent.variant_id == variant_id,
            ExperimentEvent.subject == subject,
            ExperimentEvent.kind == kind,
        )
    )
    if exists is not None:
        _remember(key)
        return
    db.session.add(
        ExperimentEvent(
            experiment_id=experiment_id,
            variant_id=variant_id,
            subject=subject,
            kind=kind,
            amount_minor=amount,
            currency=currency,
            created_at=utcnow(),
        )
    )
    try:
        db.session.commit()
    except IntegrityError:  # counted by a parallel request
        db.session.rollback()
    _remember(key)


def record_paid(checkout: Checkout, amount_minor: int, currency: str) -> None:
    """A checkout started in a variant was paid (called from the payment's transaction).

    Counted only while the experiment runs: a paused experiment records nothing, and an ended
    one keeps the results it ended with."""
    if checkout.variant_id is None or checkout.link_id is None:
        return
    variant = db.session.get(ExperimentVariant, checkout.variant_id)
    link = db.session.get(PortalLink, checkout.link_id)
    if variant is None or link is None or variant.experiment.status != "running":
        return
    _add(variant.experiment_id, variant.id, link.public_id, "paid", amount_minor, currency)


@dataclass(frozen=True, slots=True)
class VariantCounts:
    variant: ExperimentVariant
    viewed: int
    started: int
    paid: int
    paid_amounts: tuple[Money, ...]  # what the paying visitors paid, one sum per currency


def counts(experiment: Experiment) -> list[VariantCounts]:
    rows = db.session.execute(
        select(
            ExperimentEvent.variant_id,
            ExperimentEvent.kind,
            ExperimentEvent.currency,
            func.count(),
            func.coalesce(func.sum(ExperimentEvent.amount_minor), 0),
        )
        .where(ExperimentEvent.experiment_id == experiment.id)
        .group_by(ExperimentEvent.variant_id, ExperimentEvent.kind, ExperimentEvent.currency)
    ).all()
    visitors: dict[tuple[int, str], int] = defaultdict(int)
    paid: dict[int, list[Money]] = defaultdict(list)
    for variant_id, kind, currency, n, total in rows:
        visitors[variant_id, kind] += int(n)
        if kind == "paid" and currency:
            paid[variant_id].append(Money(int(total), currency))
    return [
        VariantCounts(
            variant=v,
            viewed=visitors[v.id, "viewed"],
            started=visitors[v.id, "checkout_started"],
            paid=visitors[v.id, "paid"],
            paid_amounts=tuple(sorted(paid[v.id], key=lambda m: m.currency)),
        )
        for v in experiment.variants
    ]
