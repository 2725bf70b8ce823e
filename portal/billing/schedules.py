"""Recurring schedules: the dates a schedule falls on and the period each date bills for.

A schedule repeats every ``interval_count`` weeks, months, quarters or years. Weekly schedules
fall on the start date's weekday. Monthly and longer ones fall on ``day_of_month`` (the start
date's day when not given); in a month too short for that day they fall on its last day, and the
next month returns to the chosen day (Jan 31, Feb 28, Mar 31), because every date is computed
from the first one, never from the one before. The first date is the first such day on or after
the start date.

A schedule ends after ``end_after_count`` dates or on ``end_date`` (inclusive), whichever comes
first. Nothing here reads a clock: the caller passes today's date in the business's time zone.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import MAXYEAR, date, datetime, timedelta
from enum import StrEnum
from itertools import count, islice, takewhile

from portal.billing.errors import BillingError

__all__ = [
    "MAX_INTERVAL",
    "Frequency",
    "Schedule",
    "next_occurrence",
    "nth_date",
    "occurrences",
    "occurrences_due",
    "period_key",
]

MAX_INTERVAL = 52


class Frequency(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


_MONTHS = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.YEARLY: 12}


def _require_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    frequency: Frequency
    start_date: date
    interval_count: int = 1
    day_of_month: int | None = None
    end_after_count: int | None = None
    end_date: date | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "frequency", Frequency(self.frequency))
        except ValueError:
            raise BillingError("frequency must be weekly, monthly, quarterly or yearly") from None
        for name in ("start_date", "end_date"):
            value = getattr(self, name)
            # A datetime is a date too, but would compare unequal to the dates made from it.
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise TypeError(f"{name} must be a date, not {type(value).__name__}")
        if not 1 <= _require_int(self.interval_count, "interval_count") <= MAX_INTERVAL:
            raise BillingError(f"interval_count must be between 1 and {MAX_INTERVAL}")
        if self.day_of_month is not None:
            if not 1 <= _require_int(self.day_of_month, "day_of_month") <= 31:
                raise BillingError("day_of_month must be between 1 and 31")
            if self.frequency is Frequency.WEEKLY:
                raise BillingError(
                    "day_of_month applies to monthly, quarterly and yearly schedules"
                )
        if self.end_after_count is not None and (
            _require_int(self.end_after_count, "end_after_count") < 1
        ):
            raise BillingError("end_after_count must be at least 1")
        if self.end_date is not None and self.end_date < self.start_date:
            raise BillingError("end_date must not be before start_date")

    @property
    def day(self) -> int:
        """The day of the month a monthly or longer schedule falls on (before clamping)."""
        return self.day_of_month or self.start_date.day

    @property
    def step_months(self) -> int:
        return _MONTHS[self.frequency] * self.interval_count


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _first_month(schedule: Schedule) -> int:
    """The first date's month, counted as ``year * 12 + month - 1``."""
    start = schedule.start_date
    month = start.year * 12 + start.month - 1
    if _clamped(start.year, start.month, schedule.day) < start:
        month += 1
    return month


def nth_date(schedule: Schedule, index: int) -> date | None:
    """The schedule's date number ``index`` (0 is the first), ignoring how it ends; ``None``
    past the end of the calendar."""
    if _require_int(index, "index") < 0:
        raise BillingError("index must not be negative")
    if schedule.frequency is Frequency.WEEKLY:
        try:
            return schedule.start_date + timedelta(weeks=index * schedule.interval_count)
        except OverflowError:
            return None
    year, month0 = divmod(_first_month(schedule) + index * schedule.step_months, 12)
    if year > MAXYEAR:
        return None
    return _clamped(year, month0 + 1, schedule.day)


def _index_on_or_after(schedule: Schedule, on: date) -> int:
    """The index of the first date on or after ``on`` (which may be past the calendar)."""
    if schedule.frequency is Frequency.WEEKLY:
        days = (on - schedule.start_date).days
        period = 7 * schedule.interval_count
        return max(0, -(-days // period))
    months = on.year * 12 + on.month - 1 - _first_month(schedule)
    index = max(0, months // schedule.step_months)
    # The estimate is off by at most one period: a clamped day can fall before ``on``.
    while (found := nth_date(schedule, index)) is not None and found < on:
        index += 1
    return index


def _dates_from(schedule: Schedule, index: int) -> Iterator[date]:
    """Dates from number ``index`` on, stopping at ``end_date`` and the end of the calendar."""
    for i in count(index):
        found = nth_date(schedule, i)
        if found is None or (schedule.end_date is not None and found > schedule.end_date):
            return
        yield found


def occurrences(schedule: Schedule) -> Iterator[date]:
    """Every date of the schedule, in order, as planned (nothing skipped)."""
    return islice(_dates_from(schedule, 0), schedule.end_after_count)


def occurrences_due(
    schedule: Schedule, generated_count: int, today: date, *, next_on: date | None = None
) -> list[date]:
    """The dates up to ``today`` still to invoice, after ``generated_count`` were made.

    Without ``next_on`` the first ``generated_count`` dates count as done. With it (the date the
    schedule is to run next, which moves past dates skipped while the schedule was paused) the
    dates before it are done, and ``generated_count`` only limits how many more
    ``end_after_count`` allows.
    """
    if _require_int(generated_count, "generated_count") < 0:
        raise BillingError("generated_count must not be negative")
    start = generated_count if next_on is None else _index_on_or_after(schedule, next_on)
    left = None
    if schedule.end_after_count is not None:
        left = max(schedule.end_after_count - generated_count, 0)
    due = takewhile(lambda d: d <= today, _dates_from(schedule, start))
    return list(islice(due, left))


def next_occurrence(schedule: Schedule, generated_count: int, on_or_after: date) -> date | None:
    """The first date on or after ``on_or_after`` once ``generated_count`` dates were made;
    ``None`` when the schedule has ended."""
    if schedule.end_after_count is not None and generated_count >= schedule.end_after_count:
        return None
    return next(_dates_from(schedule, _index_on_or_after(schedule, on_or_after)), None)


def period_key(frequency: Frequency | str, on: date) -> str:
    """The period a date bills for: ``2026-W05`` (ISO week), ``2026-03``, ``2026-Q1``, ``2026``.

    Consecutive dates of any schedule fall in different periods, so the key names one invoice.
    """
    try:
        kind = Frequency(frequency)
    except ValueError:
        raise BillingError("frequency must be weekly, monthly, quarterly or yearly") from None
    match kind:
        case Frequency.WEEKLY:
            iso = on.isocalendar()
            return f"{iso.year:04d}-W{iso.week:02d}"
        case Frequency.MONTHLY:
            return f"{on.year:04d}-{on.month:02d}"
        case Frequency.QUARTERLY:
            return f"{on.year:04d}-Q{(on.month - 1) // 3 + 1}"
        case Frequency.YEARLY:
            return f"{on.year:04d}"
