from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from billing import periods

TAIPEI = ZoneInfo("Asia/Taipei")
JAPAN = ZoneInfo("Asia/Tokyo")


def test_2330_taipei_on_31_january_counts_in_february_but_shows_as_31_january():
    moment = datetime(2025, 1, 31, 23, 30, tzinfo=TAIPEI)
    assert periods.line_day(moment) == date(2025, 2, 1)
    assert periods.line_period(moment) == date(2025, 2, 1)
    assert periods.taipei_date(moment) == date(2025, 1, 31)


def test_2300_taipei_is_the_next_japan_day_and_2259_is_not():
    assert periods.line_day(datetime(2025, 3, 10, 23, 0, tzinfo=TAIPEI)) == date(2025, 3, 11)
    assert periods.line_day(datetime(2025, 3, 10, 22, 59, tzinfo=TAIPEI)) == date(2025, 3, 10)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        periods.line_day(datetime(2025, 1, 31, 23, 30))


def test_period_helpers():
    assert periods.parse_period("2025-02") == date(2025, 2, 1)
    assert periods.period_label(date(2025, 2, 1)) == "2025-02"
    assert periods.next_period(date(2025, 12, 1)) == date(2026, 1, 1)
    assert periods.previous_period(date(2025, 1, 1)) == date(2024, 12, 1)
    assert len(periods.period_days(date(2024, 2, 1))) == 29
    assert periods.period_start(date(2025, 2, 1)) == datetime(2025, 2, 1, tzinfo=JAPAN)
    for bad in ("2025-13", "2025/02", "", "Feb"):
        with pytest.raises(ValueError):
            periods.parse_period(bad)


def test_a_month_closes_24_hours_after_it_ends_on_japan_time():
    january = date(2025, 1, 1)
    assert periods.period_closes_at(january) == datetime(2025, 2, 2, 0, 0, tzinfo=JAPAN)
    assert not periods.is_closed(january, now=datetime(2025, 2, 1, 23, 59, tzinfo=JAPAN))
    assert periods.is_closed(january, now=datetime(2025, 2, 2, 0, 0, tzinfo=JAPAN))


def test_last_closed_period_is_worked_out_from_the_clock():
    assert periods.last_closed_period(now=datetime(2025, 2, 1, 12, 0, tzinfo=JAPAN)) == date(
        2024, 12, 1
    )
    assert periods.last_closed_period(now=datetime(2025, 2, 2, 3, 0, tzinfo=JAPAN)) == date(
        2025, 1, 1
    )
    assert periods.last_closed_period(now=datetime(2025, 2, 27, 3, 0, tzinfo=JAPAN)) == date(
        2025, 1, 1
    )
