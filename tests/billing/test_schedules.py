import calendar
import re
from datetime import date, timedelta
from itertools import islice, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.billing.errors import BillingError
from portal.billing.schedules import (
    Frequency,
    Schedule,
    next_occurrence,
    nth_date,
    occurrences,
    occurrences_due,
    period_key,
)

D = date


def monthly(start: date, **kw: object) -> Schedule:
    return Schedule(frequency=Frequency.MONTHLY, start_date=start, **kw)  # type: ignore[arg-type]


def first(schedule: Schedule, n: int) -> list[date]:
    return list(islice(occurrences(schedule), n))


@pytest.mark.parametrize(
    ("schedule", "dates"),
    [
        (
            monthly(D(2026, 1, 31)),
            [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31), D(2026, 4, 30), D(2026, 5, 31)],
        ),
        (
            monthly(D(2028, 1, 31)),
            [D(2028, 1, 31), D(2028, 2, 29), D(2028, 3, 31), D(2028, 4, 30), D(2028, 5, 31)],
        ),
        (
            monthly(D(2026, 1, 30)),
            [D(2026, 1, 30), D(2026, 2, 28), D(2026, 3, 30), D(2026, 4, 30), D(2026, 5, 30)],
        ),
        (
            monthly(D(2026, 1, 10), day_of_month=29),
            [D(2026, 1, 29), D(2026, 2, 28), D(2026, 3, 29), D(2026, 4, 29), D(2026, 5, 29)],
        ),
        # The day has passed in the start month: the first date is next month's.
        (
            monthly(D(2026, 1, 15), day_of_month=1, interval_count=2),
            [D(2026, 2, 1), D(2026, 4, 1), D(2026, 6, 1), D(2026, 8, 1), D(2026, 10, 1)],
        ),
        # Day 31 from a short month's last day: that day already counts.
        (
            monthly(D(2026, 2, 28), day_of_month=31),
            [D(2026, 2, 28), D(2026, 3, 31), D(2026, 4, 30), D(2026, 5, 31), D(2026, 6, 30)],
        ),
        (
            Schedule(frequency=Frequency.QUARTERLY, start_date=D(2025, 11, 30)),
            [D(2025, 11, 30), D(2026, 2, 28), D(2026, 5, 30), D(2026, 8, 30), D(2026, 11, 30)],
        ),
        (
            Schedule(frequency=Frequency.YEARLY, start_date=D(2024, 2, 29)),
            [D(2024, 2, 29), D(2025, 2, 28), D(2026, 2, 28), D(2027, 2, 28), D(2028, 2, 29)],
        ),
        (
            Schedule(frequency=Frequency.WEEKLY, start_date=D(2026, 1, 26), interval_count=2),
            [D(2026, 1, 26), D(2026, 2, 9), D(2026, 2, 23), D(2026, 3, 9), D(2026, 3, 23)],
        ),
    ],
)
def test_dates(schedule: Schedule, dates: list[date]) -> None:
    assert first(schedule, 5) == dates


def test_a_schedule_ends_after_a_count_or_on_a_date_whichever_comes_first() -> None:
    assert list(occurrences(monthly(D(2026, 1, 31), end_after_count=3))) == [
        D(2026, 1, 31),
        D(2026, 2, 28),
        D(2026, 3, 31),
    ]
    # The end date is inclusive.
    assert list(occurrences(monthly(D(2026, 1, 31), end_date=D(2026, 3, 31)))) == [
        D(2026, 1, 31),
        D(2026, 2, 28),
        D(2026, 3, 31),
    ]
    both = monthly(D(2026, 1, 31), end_after_count=12, end_date=D(2026, 2, 28))
    assert list(occurrences(both)) == [D(2026, 1, 31), D(2026, 2, 28)]


def test_dates_due_up_to_today_after_those_made() -> None:
    schedule = monthly(D(2026, 1, 31), end_after_count=4)
    assert occurrences_due(schedule, 0, D(2026, 1, 30)) == []
    assert occurrences_due(schedule, 0, D(2026, 3, 31)) == [
        D(2026, 1, 31),
        D(2026, 2, 28),
        D(2026, 3, 31),
    ]
    assert occurrences_due(schedule, 2, D(2026, 3, 31)) == [D(2026, 3, 31)]
    assert occurrences_due(schedule, 3, D(2027, 1, 1)) == [D(2026, 4, 30)]
    assert occurrences_due(schedule, 4, D(2027, 1, 1)) == []


def test_after_a_pause_the_dates_before_next_on_are_skipped_and_the_count_still_holds() -> None:
    schedule = monthly(D(2026, 1, 31), end_after_count=3)
    # One made in January; paused, then resumed in May: next_on is May 31.
    assert occurrences_due(schedule, 1, D(2026, 12, 31), next_on=D(2026, 5, 31)) == [
        D(2026, 5, 31),
        D(2026, 6, 30),
    ]
    assert next_occurrence(schedule, 1, D(2026, 5, 1)) == D(2026, 5, 31)
    assert next_occurrence(schedule, 3, D(2026, 5, 1)) is None


def test_next_occurrence_stops_at_the_end_date() -> None:
    schedule = monthly(D(2026, 1, 31), end_date=D(2026, 3, 30))
    assert next_occurrence(schedule, 0, D(2026, 2, 1)) == D(2026, 2, 28)
    assert next_occurrence(schedule, 2, D(2026, 3, 1)) is None


@pytest.mark.parametrize(
    ("frequency", "on", "key"),
    [
        (Frequency.WEEKLY, D(2026, 1, 26), "2026-W05"),
        # ISO weeks: 2027-01-01 (a Friday) is in the last week of 2026.
        (Frequency.WEEKLY, D(2027, 1, 1), "2026-W53"),
        (Frequency.WEEKLY, D(2024, 12, 30), "2025-W01"),
        (Frequency.MONTHLY, D(2026, 3, 31), "2026-03"),
        (Frequency.QUARTERLY, D(2026, 3, 31), "2026-Q1"),
        (Frequency.QUARTERLY, D(2026, 4, 1), "2026-Q2"),
        (Frequency.YEARLY, D(2026, 12, 31), "2026"),
        ("monthly", D(2026, 11, 2), "2026-11"),
    ],
)
def test_period_key(frequency: Frequency, on: date, key: str) -> None:
    assert period_key(frequency, on) == key


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"frequency": "daily"}, "frequency must be weekly, monthly, quarterly or yearly"),
        ({"interval_count": 0}, "interval_count must be between 1 and 52"),
        ({"interval_count": 53}, "interval_count must be between 1 and 52"),
        ({"day_of_month": 32}, "day_of_month must be between 1 and 31"),
        (
            {"frequency": "weekly", "day_of_month": 1},
            "day_of_month applies to monthly, quarterly and yearly schedules",
        ),
        ({"end_after_count": 0}, "end_after_count must be at least 1"),
        ({"end_date": D(2026, 1, 30)}, "end_date must not be before start_date"),
    ],
)
def test_bad_schedules_are_refused(kw: dict[str, object], message: str) -> None:
    params: dict[str, object] = {"frequency": "monthly", "start_date": D(2026, 1, 31), **kw}
    with pytest.raises(BillingError, match=re.escape(message)):
        Schedule(**params)  # type: ignore[arg-type]


def test_types_are_checked() -> None:
    with pytest.raises(TypeError, match=re.escape("interval_count must be an int, not str")):
        monthly(D(2026, 1, 1), interval_count="1")
    with pytest.raises(TypeError, match=re.escape("end_date must be a date, not str")):
        monthly(D(2026, 1, 1), end_date="2026-02-01")
    with pytest.raises(BillingError, match=re.escape("generated_count must not be negative")):
        occurrences_due(monthly(D(2026, 1, 1)), -1, D(2026, 1, 1))


def test_the_calendar_ends_in_9999() -> None:
    schedule = Schedule(frequency=Frequency.YEARLY, start_date=D(9998, 6, 1))
    assert list(occurrences(schedule)) == [D(9998, 6, 1), D(9999, 6, 1)]
    weekly = Schedule(frequency=Frequency.WEEKLY, start_date=D(9999, 12, 20))
    assert list(occurrences(weekly)) == [D(9999, 12, 20), D(9999, 12, 27)]


schedules = st.builds(
    Schedule,
    frequency=st.sampled_from(list(Frequency)),
    start_date=st.dates(D(1990, 1, 1), D(2100, 12, 31)),
    interval_count=st.integers(1, 12),
    end_after_count=st.none() | st.integers(1, 40),
)
days = st.none() | st.integers(1, 31)


def _with_day(schedule: Schedule, day: int | None, end_days: int | None) -> Schedule:
    return Schedule(
        frequency=schedule.frequency,
        start_date=schedule.start_date,
        interval_count=schedule.interval_count,
        day_of_month=None if schedule.frequency is Frequency.WEEKLY else day,
        end_after_count=schedule.end_after_count,
        end_date=None if end_days is None else schedule.start_date + timedelta(days=end_days),
    )


@settings(max_examples=300, deadline=None)
@given(schedules, days, st.none() | st.integers(0, 3000))
def test_properties_of_the_dates(base: Schedule, day: int | None, end_days: int | None) -> None:
    schedule = _with_day(base, day, end_days)
    dates = first(schedule, 60)
    if schedule.end_after_count is not None:
        assert len(dates) <= schedule.end_after_count
    if schedule.end_date is None and schedule.end_after_count is not None:
        assert len(dates) == schedule.end_after_count
    assert all(a < b for a, b in pairwise(dates))
    assert all(d >= schedule.start_date for d in dates)
    if schedule.end_date is not None:
        assert all(d <= schedule.end_date for d in dates)
    # Every date bills a different period: one invoice per key.
    keys = [period_key(schedule.frequency, d) for d in dates]
    assert len(set(keys)) == len(keys)
    if schedule.frequency is Frequency.WEEKLY:
        assert all((b - a).days == 7 * schedule.interval_count for a, b in pairwise(dates))
        return
    wanted = schedule.day_of_month or schedule.start_date.day
    for d in dates:
        # Month-end clamping: the chosen day, or the month's last day when it is shorter.
        assert d.day == min(wanted, calendar.monthrange(d.year, d.month)[1])
    step = schedule.step_months
    months = [d.year * 12 + d.month for d in dates]
    assert all(b - a == step for a, b in pairwise(months))
    if dates:
        # The first date is the first fitting day on or after the start: within one month.
        assert months[0] - (schedule.start_date.year * 12 + schedule.start_date.month) in (0, 1)


@settings(max_examples=200, deadline=None)
@given(
    schedules,
    days,
    st.dates(D(1990, 1, 1), D(2110, 12, 31)),
    st.dates(D(1990, 1, 1), D(2110, 12, 31)),
)
def test_running_in_two_steps_makes_the_same_dates_as_one(
    base: Schedule, day: int | None, a: date, b: date
) -> None:
    schedule = _with_day(base, day, None)
    early, late = sorted((a, b))
    once = occurrences_due(schedule, 0, late)
    step1 = occurrences_due(schedule, 0, early)
    step2 = occurrences_due(schedule, len(step1), late)
    assert step1 + step2 == once
    # The same through next_on, as the service stores it.
    if step1 and len(step1) != schedule.end_after_count:
        after = next_occurrence(schedule, len(step1), step1[-1] + timedelta(days=1))
        assert after is not None
        assert occurrences_due(schedule, len(step1), late, next_on=after) == step2
    assert all(d <= late for d in once)
    if schedule.end_after_count is not None:
        assert len(once) <= schedule.end_after_count


@given(schedules, days, st.integers(0, 200))
def test_nth_date_is_the_nth_occurrence(base: Schedule, day: int | None, n: int) -> None:
    schedule = _with_day(base, day, None)
    plain = Schedule(
        frequency=schedule.frequency,
        start_date=schedule.start_date,
        interval_count=schedule.interval_count,
        day_of_month=schedule.day_of_month,
    )
    assert nth_date(plain, n) == list(islice(occurrences(plain), n + 1))[-1]
