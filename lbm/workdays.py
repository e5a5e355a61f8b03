"""Taiwan working days, for review due dates (docs/organizations.md#review-due-dates)."""

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

TAIPEI = ZoneInfo("Asia/Taipei")
REVIEW_WORKING_DAYS = 5


@lru_cache(maxsize=16)
def _taiwan_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("TW", years=year)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a national holiday of Taiwan (``holidays`` package)."""
    return day.weekday() < 5 and day not in _taiwan_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself is not counted)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def taipei_date(moment: datetime) -> date:
    return moment.astimezone(TAIPEI).date()


def review_due_date(submitted_at: datetime) -> date:
    """Submission (Taipei date) plus 5 Taiwan working days."""
    return add_working_days(taipei_date(submitted_at), REVIEW_WORKING_DAYS)


def taipei_today() -> date:
    from django.utils import timezone

    return taipei_date(timezone.now())
