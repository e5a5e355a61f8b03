"""Settling pending notices: re-judged until delivered or past their 24 hours."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from ..models import Notice
from .charging import _bill_delivered
from .common import SETTLE_CHUNK, _in_locked_chunks
from .rules import judge
from .sending import user_states

# --- Settling pending notices -----------------------------------------------------------------


@dataclass
class SettleResult:
    delivered: int = 0
    failed: int = 0
    still_pending: int = 0


def notices_settle(
    *, now: datetime | None = None, phone_hashes: Iterable[str] | None = None
) -> SettleResult:
    """Re-judge pending notices (all, or those of ``phone_hashes``): a user who consented,
    verified by SMS or unblocked within the 24 hours receives the notice (charged, webhook
    sent); past the 24 hours the notice fails with its reason. Values are cleared once settled.

    Idempotent and safe to run concurrently: only pending rows are read, each chunk is locked
    (``SKIP LOCKED`` on PostgreSQL) and settled in its own transaction."""
    now = now or timezone.now()
    result = SettleResult()
    base = Notice.objects.filter(state=Notice.State.PENDING)
    if phone_hashes is not None:
        base = base.filter(phone_hash__in=list(phone_hashes))
    _in_locked_chunks(
        base.select_related("template_version").only(
            "pk",
            "account_id",
            "phone_hash",
            "state",
            "reason",
            "user_flow",
            "accepted_at",
            "line_day",
            "deadline_at",
            "template_version__exempt",
            "request_id",
        ),
        SETTLE_CHUNK,
        pk_of=lambda notice: notice.pk,
        handle=lambda chunk: _settle_chunk(chunk, now, result),
    )
    return result


def _settle_chunk(chunk: list[Notice], now: datetime, result: SettleResult) -> None:
    by_account: dict[int, list[Notice]] = defaultdict(list)
    for notice in chunk:
        by_account[notice.account_id].append(notice)
    changed, fields = (
        [],
        [
            "state",
            "reason",
            "user_flow",
            "delivered_at",
            "settled_at",
            "values_secret",
            "charged_at",
        ],
    )
    for account_id, notices in by_account.items():
        states = user_states(account_id=account_id, phone_hashes=[n.phone_hash for n in notices])
        delivered = []
        for notice in notices:
            at = min(now, notice.deadline_at)
            state, reason, flow = judge(
                states.get(notice.phone_hash), exempt=notice.template_version.exempt, at=at
            )
            if state == Notice.State.DELIVERED:
                notice.state, notice.reason, notice.user_flow = state, "", ""
                notice.delivered_at = at
                notice.settled_at = now
                notice.values_secret = ""
                notice.charged_at = now
                delivered.append(notice)
                result.delivered += 1
            elif now >= notice.deadline_at or state == Notice.State.FAILED:
                notice.state, notice.reason, notice.user_flow = Notice.State.FAILED, reason, flow
                notice.settled_at = now
                notice.values_secret = ""
                result.failed += 1
            elif (reason, flow) != (notice.reason, notice.user_flow):
                notice.reason, notice.user_flow = reason, flow
                result.still_pending += 1
            else:
                result.still_pending += 1
                continue
            changed.append(notice)
        if delivered:
            _bill_delivered(
                account_id,
                [n.pk for n in delivered],
                [(n.line_day, n.accepted_at) for n in delivered],
                now,
            )
    if changed:
        Notice.objects.bulk_update(changed, fields, batch_size=SETTLE_CHUNK)
