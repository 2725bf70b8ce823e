import re
from datetime import date

import pytest

from portal.billing.numbering import (
    NumberPatternError,
    Reset,
    period_key,
    render_number,
    validate_pattern,
)

MARCH = date(2026, 3, 9)


@pytest.mark.parametrize(
    ("pattern", "sequence", "number"),
    [
        ("INV-{YYYY}-{SEQ:5}", 42, "INV-2026-00042"),
        ("{YY}{MM}-{SEQ:3}", 7, "2603-007"),
        ("Q{SEQ}", 1234, "Q1234"),
        ("INV-{SEQ:2}", 12345, "INV-12345"),  # never cut
        ("{SEQ:4}/{YYYY}", 1, "0001/2026"),
    ],
)
def test_render(pattern: str, sequence: int, number: str) -> None:
    assert render_number(pattern, sequence, MARCH) == number


@pytest.mark.parametrize(
    ("pattern", "reset", "message"),
    [
        ("INV-{DD}-{SEQ}", Reset.NEVER, "unknown token {DD} in number pattern"),
        ("INV-{seq}", Reset.NEVER, "unknown token {seq} in number pattern"),
        ("INV-{YYYY}", Reset.NEVER, "number pattern must contain {SEQ} exactly once"),
        ("{SEQ}-{SEQ}", Reset.NEVER, "number pattern must contain {SEQ} exactly once"),
        ("INV-{SEQ:0}", Reset.NEVER, "{SEQ:0}: width must be between 1 and 12"),
        ("INV-{SEQ:5", Reset.NEVER, "number pattern has an unmatched brace"),
        ("INV}-{SEQ}", Reset.NEVER, "number pattern has an unmatched brace"),
        ("", Reset.NEVER, "number pattern must not be empty"),
        ("X" * 65 + "{SEQ}", Reset.NEVER, "number pattern is longer than 64 characters"),
        ("INV-{SEQ:5}", Reset.YEARLY, "a yearly reset needs {YYYY} or {YY} in the pattern"),
        ("INV-{YYYY}-{SEQ}", Reset.MONTHLY, "a monthly reset needs {MM} in the pattern"),
    ],
)
def test_bad_patterns_are_refused(pattern: str, reset: Reset, message: str) -> None:
    with pytest.raises(NumberPatternError, match=re.escape(message)):
        validate_pattern(pattern, reset)


def test_sequence_must_be_positive() -> None:
    with pytest.raises(NumberPatternError, match=re.escape("sequence must be at least 1")):
        render_number("{SEQ}", 0, MARCH)


def test_valid_patterns_pass() -> None:
    validate_pattern("INV-{YYYY}-{SEQ:5}", Reset.YEARLY)
    validate_pattern("{YY}{MM}{SEQ:4}", Reset.MONTHLY)


def test_period_key_says_when_the_sequence_restarts() -> None:
    assert period_key(Reset.NEVER, MARCH) == ""
    assert period_key(Reset.YEARLY, MARCH) == "2026"
    assert period_key(Reset.MONTHLY, MARCH) == "2026-03"
    new_year, old_year = date(2027, 1, 1), date(2026, 12, 31)
    assert period_key(Reset.YEARLY, new_year) != period_key(Reset.YEARLY, old_year)
    assert period_key(Reset.YEARLY, MARCH) == period_key(Reset.YEARLY, old_year)
    assert period_key(Reset.NEVER, new_year) == period_key(Reset.NEVER, old_year)
