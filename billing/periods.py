"""LINE's billing calendar: days and months on Japan time (UTC+9), docs/billing.md.

A message sent at 23:00 Taiwan time or later counts on the next Japan day, and on the last day of
a month in the next month. Usage rows store the UTC time *and* the Japan day and month computed
here, so that no SQL converts time zones and SQLite and PostgreSQL agree. A period is represented
by the ``date`` of its first day (``2025-02-01`` is February 2025).
"""

import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

JAPAN = ZoneInfo("Asia/Tokyo")
TAIPEI = ZoneInfo("Asia/Taipei")
# Notification-message deliveries are confirmed up to 24 hours after acceptance
# (docs/notifications.md#settling), so a month closes for billing only this long after it ends.
CLOSING_DELAY = timedelta(hours=24)


def _aware(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        raise ValueError("LINE billing needs an aware datetime, got a naive one.")
    return moment


def line_day(moment: datetime) -> date:
    """The Japan-time calendar day on which LINE counts a message sent at ``moment``."""
    return _aware(moment).astimezone(JAPAN).date()


def period_of(day: date) -> date:
    """The period (first day of the month) that contains ``day``."""
    return day.replace(day=1)


def line_period(moment: datetime) -> date:
    """The Japan-time month in which a message sent at ``moment`` counts."""
    return period_of(line_day(moment))


def taipei_date(moment: datetime) -> date:
    """The day shown to people in Taiwan for ``moment`` (not the billing day)."""
    return _aware(moment).astimezone(TAIPEI).date()


def parse_period(value: str) -> date:
    """``"2025-02"`` → ``date(2025, 2, 1)``; raises ``ValueError`` for anything else."""
    try:
        parsed = datetime.strptime(value.strip(), "%Y-%m")
    except (AttributeError, ValueError) as exc:
        raise ValueError(f"A billing period is written YYYY-MM, not {value!r}.") from exc
    return parsed.date()


def period_label(period: date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def next_period(period: date) -> date:
    return (period.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_period(period: date) -> date:
    return (period.replace(day=1) - timedelta(days=1)).replace(day=1)


def period_days(period: date) -> list[date]:
    """Every Japan day of the period, in order."""
    days = calendar.monthrange(period.year, period.month)[1]
    return [period.replace(day=d) for d in range(1, days + 1)]


def period_start(period: date) -> datetime:
    """The aware moment the period begins: 00:00 Japan time on its first day."""
    return datetime.combine(period, time.min, tzinfo=JAPAN)


def period_end(period: date) -> datetime:
    """The aware moment the period ends (exclusive): the start of the next period."""
    return period_start(next_period(period))


def period_closes_at(period: date) -> datetime:
    """When the period may be billed: 24 hours after it ends (late LON delivery confirmations)."""
    return period_end(period) + CLOSING_DELAY


def is_closed(period: date, *, now: datetime | None = None) -> bool:
    return (now or timezone.now()) >= period_closes_at(period)


def last_closed_period(*, now: datetime | None = None) -> date:
    """The most recent period that can be billed at ``now``.

    The periodic task works its period out from here instead of trusting beat to fire on time:
    fired late, early on the 2nd or twice, it bills the same month."""
    now = now or timezone.now()
    period = previous_period(line_period(now))
    while not is_closed(period, now=now):
        period = previous_period(period)
    return period
