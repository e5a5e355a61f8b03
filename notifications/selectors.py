"""Reads of the notifications app: review queues, daily counts, delivery statistics, and
whether an ordinary push may reach a user (``push_check``)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm.models import Account

from .exceptions import NotAFriend
from .models import SETTLE_WINDOW, Application, Notice, TemplateVersion

# LINE started counting notification messages on this day (messaging-api.yml).
STATISTICS_START = date(2018, 3, 31)
PRIVACY_THRESHOLD = 20


def review_queue_applications() -> QuerySet[Application]:
    """Applications waiting for a LINE reviewer (scenario review, contract, testing), the
    longest-waiting first."""
    return (
        Application.objects.filter(stage__in=Application.REVIEW_STAGES)
        .select_related("account", "account__provider")
        .order_by("stage_changed_at", "pk")
    )


def review_queue_templates() -> QuerySet[TemplateVersion]:
    """Template versions pending review, oldest submission first."""
    return (
        TemplateVersion.objects.filter(status=TemplateVersion.Status.PENDING)
        .select_related("template", "template__account")
        .order_by("submitted_at", "pk")
    )


@dataclass(frozen=True)
class DailyCount:
    day: date
    delivered: int
    failed: int
    pending: int

    @property
    def total(self) -> int:
        return self.delivered + self.failed + self.pending


def daily_counts(*, account_id: int, start: date, end: date) -> list[DailyCount]:
    """Notices of one account per LINE day (Japan time, day of acceptance) from ``start`` to
    ``end`` inclusive, every day listed: one query on the stored ``line_day``."""
    rows = (
        Notice.objects.filter(account_id=account_id, line_day__gte=start, line_day__lte=end)
        .values("line_day")
        .annotate(
            delivered=Count("pk", filter=Q(state=Notice.State.DELIVERED)),
            failed=Count("pk", filter=Q(state=Notice.State.FAILED)),
            pending=Count("pk", filter=Q(state=Notice.State.PENDING)),
        )
    )
    found = {row["line_day"]: row for row in rows}
    counts, day = [], start
    while day <= end:
        row = found.get(day, {})
        counts.append(
            DailyCount(day, row.get("delivered", 0), row.get("failed", 0), row.get("pending", 0))
        )
        day += timedelta(days=1)
    return counts


def delivery_statistics(*, account_id: int, day: date, now: datetime | None = None) -> dict:
    """``GET /v2/bot/message/delivery/pnp?date=yyyyMMdd`` (Japan-time day): ``{"status":
    "ready", "success": N}``, ``unready`` until every notice of the day is settled (at the
    latest 24 hours after the day ends), ``unavailable_for_privacy`` under 20 delivered,
    ``out_of_service`` before 2018-03-31."""
    from billing.periods import JAPAN

    now = now or timezone.now()
    if day < STATISTICS_START:
        return {"status": "out_of_service"}
    day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=JAPAN)
    notices = Notice.objects.filter(account_id=account_id, line_day=day)
    if now < day_end or (
        now < day_end + SETTLE_WINDOW and notices.filter(state=Notice.State.PENDING).exists()
    ):
        return {"status": "unready"}
    if notices.filter(state=Notice.State.PENDING).exists():
        return {"status": "unready"}  # the settle task has not run yet
    delivered = notices.filter(state=Notice.State.DELIVERED).count()
    if delivered < PRIVACY_THRESHOLD:
        return {"status": "unavailable_for_privacy"}
    return {"status": "ready", "success": delivered}


# --- Ordinary pushes (docs/notifications.md#ordinary-pushes) ----------------------------------


def push_check(*, account: Account, user_id: str) -> None:
    """Before an ordinary (non-LON) message to one user: only friends who have not blocked the
    account may receive it (docs/notifications.md#ordinary-pushes). Raises ``NotAFriend``."""
    from audiences.models import Friendship

    state = (
        Friendship.objects.filter(account_id=account.pk, line_user__user_id=user_id)
        .values_list("state", flat=True)
        .first()
    )
    if state in Friendship.REACHABLE:
        return
    if state in Friendship.BLOCKING:
        raise NotAFriend(
            _(
                "The user %(user)s blocks this Official Account; only friends may "
                "receive messages other than notification messages."
            )
            % {"user": user_id}
        )
    raise NotAFriend(
        _(
            "The user %(user)s is not a friend of this Official Account; messages "
            "other than notification messages may be sent only to friends."
        )
        % {"user": user_id}
    )
