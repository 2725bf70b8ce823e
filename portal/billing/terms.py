"""Payment terms and the due date they give, by plain calendar arithmetic.

The caller passes the issue date as seen in the business's time zone; nothing here reads a clock.
Terms are stored as a short code (``NET30``, ``EOM``, ``EOM10``, ``RECEIPT``) so a setting or a
client default round-trips through the database as a string.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from portal.billing.errors import BillingError

__all__ = ["PaymentTerms", "TermsKind", "due_date"]

MAX_DAYS = 3650
_CODE = re.compile(r"(?P<kind>RECEIPT|NET|EOM)(?P<days>\d{1,4})?")


class TermsKind(StrEnum):
    ON_RECEIPT = "RECEIPT"
    NET = "NET"
    END_OF_MONTH = "EOM"


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    """``NET`` N days after issue; ``END_OF_MONTH`` is the last day of the issue month plus N
    days (``EOM10`` falls on the 10th of the next month); ``ON_RECEIPT`` is the issue date."""

    kind: TermsKind
    days: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.days, bool) or not isinstance(self.days, int):
            raise TypeError(f"days must be an int, not {type(self.days).__name__}")
        if not 0 <= self.days <= MAX_DAYS:
            raise BillingError(f"days must be between 0 and {MAX_DAYS}")
        if self.kind is TermsKind.ON_RECEIPT and self.days:
            raise BillingError("days must be 0 for terms due on receipt")

    @classmethod
    def net(cls, days: int) -> PaymentTerms:
        return cls(TermsKind.NET, days)

    @classmethod
    def end_of_month(cls, days: int = 0) -> PaymentTerms:
        return cls(TermsKind.END_OF_MONTH, days)

    @classmethod
    def on_receipt(cls) -> PaymentTerms:
        return cls(TermsKind.ON_RECEIPT)

    @classmethod
    def parse(cls, code: str) -> PaymentTerms:
        """Read a stored code such as ``NET30``, ``EOM``, ``EOM10`` or ``RECEIPT``."""
        match = _CODE.fullmatch(code.strip().upper())
        if match is None:
            raise BillingError(f"unknown payment terms {code!r}")
        kind = TermsKind(match["kind"])
        if kind is TermsKind.NET and match["days"] is None:
            raise BillingError(f"payment terms {code!r} need a number of days")
        return cls(kind, int(match["days"] or 0))

    @property
    def code(self) -> str:
        """The storable code; ``PaymentTerms.parse(terms.code) == terms``."""
        if self.kind is TermsKind.NET or (self.kind is TermsKind.END_OF_MONTH and self.days):
            return f"{self.kind.value}{self.days}"
        return self.kind.value


def due_date(issued_on: date, terms: PaymentTerms) -> date:
    """The date payment is due for a document issued on ``issued_on``."""
    if terms.kind is TermsKind.ON_RECEIPT:
        return issued_on
    if terms.kind is TermsKind.NET:
        return issued_on + timedelta(days=terms.days)
    last_day = calendar.monthrange(issued_on.year, issued_on.month)[1]
    return issued_on.replace(day=last_day) + timedelta(days=terms.days)
