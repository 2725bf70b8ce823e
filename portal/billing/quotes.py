"""The quote status machine and the arithmetic of a deposit taken on a quote.

A quote is drafted, sent (which numbers it), then accepted or declined by the client, or expires
once its validity date has passed while it waited for an answer. ``accepted``, ``declined`` and
``expired`` are final: a client who changes their mind gets a new quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum

from portal.billing.errors import BillingError, CurrencyMismatch
from portal.billing.money import Money, Rounding, allocate, round_minor
from portal.billing.tax import check_percent

__all__ = [
    "DECIDED_STATUSES",
    "QuoteStatus",
    "can_transition",
    "deposit_split",
    "is_expired",
]


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


Q = QuoteStatus
#: Statuses in which the client's answer is known (or no longer possible).
DECIDED_STATUSES = frozenset({Q.ACCEPTED, Q.DECLINED, Q.EXPIRED})

_TRANSITIONS: dict[QuoteStatus, frozenset[QuoteStatus]] = {
    Q.DRAFT: frozenset({Q.SENT}),
    Q.SENT: frozenset(DECIDED_STATUSES),
    Q.ACCEPTED: frozenset(),
    Q.DECLINED: frozenset(),
    Q.EXPIRED: frozenset(),
}


def can_transition(current: QuoteStatus | str, target: QuoteStatus | str) -> bool:
    """Whether a quote may move from ``current`` to ``target`` (staying put is not a move)."""
    return QuoteStatus(target) in _TRANSITIONS[QuoteStatus(current)]


def is_expired(valid_until: date | None, today: date, status: QuoteStatus | str) -> bool:
    """Whether the quote has expired, or should now be marked so.

    Only a sent quote waits for an answer, so only a sent one runs out: a draft's date can still be
    changed and an answered quote stays answered. ``today`` is the date in the business's time
    zone; a quote valid until today can still be accepted today.
    """
    current = QuoteStatus(status)
    if current is Q.EXPIRED:
        return True
    return current is Q.SENT and valid_until is not None and today > valid_until


def deposit_split(
    nets: Sequence[Money], percent: Decimal, rounding: Rounding = Rounding.HALF_UP
) -> list[Money]:
    """The deposit taken on each tax group of a quote, given each group's net.

    The whole deposit is ``percent`` of the summed nets, rounded once to the currency; it is then
    spread over the groups in proportion to their nets (largest remainder), so the parts add up
    to exactly that rounded total and each is within one minor unit of its own exact share.
    """
    if not nets:
        raise BillingError("nets must not be empty")
    currency = nets[0].currency
    for net in nets:
        if net.currency != currency:
            raise CurrencyMismatch(currency, net.currency)
    share = check_percent(percent, "percent")
    if share == 0:
        raise BillingError("percent must be greater than 0")
    if any(net.minor < 0 for net in nets):
        raise BillingError("nets must not be negative")
    whole = sum(net.minor for net in nets)
    if whole == 0:
        raise BillingError("nets must not all be zero")
    total = Money(round_minor(Decimal(whole) * share / 100, rounding), currency)
    return allocate(total, [net.minor for net in nets])
