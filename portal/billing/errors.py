"""Exceptions raised for bad billing input.

They subclass ``ValueError`` so callers that only care about "the input was wrong" can catch that,
while forms and the API can catch ``BillingError`` and show the message beside the field it names.
"""


class BillingError(ValueError):
    """Input that the billing rules cannot accept; the message names the offending field."""


class CurrencyMismatch(BillingError):
    """Two amounts in different currencies were combined."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"currency mismatch: {left} and {right}")
        self.left = left
        self.right = right
