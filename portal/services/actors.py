"""Who is acting, in which business, with which role."""

from __future__ import annotations

from dataclasses import dataclass

from portal.models import Business, Role, User
from portal.services.errors import Forbidden


@dataclass(frozen=True, slots=True)
class Actor:
    user: User
    business: Business
    role: Role

    def require(self, role: Role) -> None:
        if not self.role.at_least(role):
            raise Forbidden(f"This needs the {role.value} role or higher.")
