"""The business profile."""

from __future__ import annotations

from dataclasses import dataclass, fields

from portal.extensions import db
from portal.models import Business, Role
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput
from portal.services.validation import check_currency, check_locale, check_time_zone


@dataclass(frozen=True, slots=True)
class BusinessProfile:
    legal_name: str
    address_line1: str
    address_line2: str
    city: str
    postal_code: str
    country: str
    tax_id: str
    base_currency: str
    time_zone: str
    locale: str


def profile_of(business: Business) -> BusinessProfile:
    return BusinessProfile(**{f.name: getattr(business, f.name) for f in fields(BusinessProfile)})


def update_business(actor: Actor, data: BusinessProfile) -> Business:
    actor.require(Role.ADMIN)
    errors: dict[str, str] = {}
    if not data.legal_name.strip():
        errors["legal_name"] = "The business needs a legal name."
    for name, check in (
        ("base_currency", check_currency),
        ("time_zone", check_time_zone),
        ("locale", check_locale),
    ):
        if (msg := check(getattr(data, name))) is not None:
            errors[name] = msg
    if errors:
        raise InvalidInput(errors)
    business = actor.business
    before = profile_of(business)
    for f in fields(BusinessProfile):
        value = getattr(data, f.name)
        setattr(business, f.name, value.strip() if isinstance(value, str) else value)
    business.base_currency = business.base_currency.upper()
    business.country = business.country.upper()
    audit.record(
        business=business,
        actor=actor.user,
        action="business.updated",
        entity_type="business",
        entity_id=business.public_id,
        before=_asdict(before),
        after=_asdict(profile_of(business)),
    )
    db.session.commit()
    return business


def _asdict(profile: BusinessProfile) -> dict[str, str]:
    return {f.name: getattr(profile, f.name) for f in fields(BusinessProfile)}
