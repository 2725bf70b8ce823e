"""Who is acting, in which business, with which role."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.extensions import db
from portal.models import Business, Membership, Role, User
from portal.services.errors import Forbidden, NotFound


@dataclass(frozen=True, slots=True)
class Actor:
    user: User
    business: Business
    role: Role

    def require(self, role: Role) -> None:
        if not self.role.at_least(role):
            raise Forbidden(f"This needs the {role.value} role or higher.")


def system_actor(business: Business) -> Actor:
    """The business's owner, for work nobody is logged in for (the scheduler's runs)."""
    membership = db.session.scalar(
        select(Membership)
        .where(Membership.business_id == business.id, Membership.role == Role.OWNER)
        .order_by(Membership.id)
        .limit(1)
    )
    if membership is None:
        raise NotFound("This business has no owner.")
    return Actor(membership.user, business, Role.OWNER)
