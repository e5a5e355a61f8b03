"""Charging delivered notices in the billing ledger, and ``notices_finish`` for pushes left
uncharged by the fast path."""

import hashlib
import time
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lbm import outbox
from lbm.exceptions import DomainError

from ..models import Notice
from .common import _in_filter, _in_locked_chunks, logger
from .webhooks import _queue_webhooks

FINISH_DELAY = 1.0  # seconds: pushes delivered within this window are charged together
FINISH_CHUNK = 5_000


_finish_sent_at = -FINISH_DELAY


def finish_soon() -> None:
    """Have ``notices_finish`` run shortly: at once when tasks run eagerly, else at most one
    task per worker process every ``FINISH_DELAY`` seconds, whatever the number of pushes
    (the beat sweep catches anything a lost task would have left). The delivered, uncharged
    notice is its own outbox row: this trigger needs none (``lbm.outbox.publish_now``). Raises
    ``lbm.outbox.QueueUnreachable`` when the broker refuses it."""
    global _finish_sent_at
    from ..tasks import finish_notices

    if settings.CELERY_TASK_ALWAYS_EAGER:
        notices_finish()
        return
    now = time.monotonic()
    if now - _finish_sent_at < FINISH_DELAY:
        return  # this worker's task is already on its way
    outbox.publish_now(finish_notices, countdown=FINISH_DELAY)
    _finish_sent_at = now


def notices_finish() -> int:
    """Charge delivered notices not charged yet and queue their webhooks, in chunks; returns
    how many. Idempotent and safe to run concurrently (``SKIP LOCKED``): a notice is charged
    in the same transaction that marks it. An account billing refuses (no subscription) is
    logged and left for the next run; it does not hold up the others."""
    done = 0

    def finish(chunk: list[tuple]) -> None:
        nonlocal done
        now = timezone.now()
        by_account: dict[int, list] = defaultdict(list)
        for row in chunk:
            by_account[row[1]].append(row)
        charged = []
        for account_id, rows in by_account.items():
            ids = [row[0] for row in rows]
            try:
                with transaction.atomic():
                    _bill_delivered(account_id, ids, [(row[2], row[3]) for row in rows], now)
            except DomainError as exc:
                logger.error("notices of account %s left uncharged: %s", account_id, exc)
                continue
            charged.extend(ids)
        Notice.objects.filter(_in_filter(Notice, "id", charged)).update(charged_at=now)
        done += len(charged)

    _in_locked_chunks(
        Notice.objects.filter(state=Notice.State.DELIVERED, charged_at__isnull=True).values_list(
            "pk", "account_id", "line_day", "accepted_at"
        ),
        FINISH_CHUNK,
        pk_of=lambda row: row[0],
        handle=finish,
    )
    return done


def _bill_delivered(
    account_id: int, ids: list[int], deliveries: list[tuple], now: datetime
) -> None:
    """Charge delivered notices ``ids`` (``deliveries``: their ``(line_day, accepted_at)``) and
    queue their webhooks; the ledger row's dedupe key is derived from the ids."""
    digest = hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:40]
    _charge(account_id, deliveries, dedupe=f"lon:{digest}")
    _queue_webhooks(account_id, ids, now)


def _charge(account_id: int, deliveries: list[tuple], *, dedupe: str) -> None:
    """Record delivered notices in the billing ledger: 0.2 each, counted in the Japan-time month
    of their acceptance. ``deliveries`` is ``[(line_day, accepted_at), ...]``; one ledger row per
    LINE day, idempotent through its dedupe key."""
    from billing import services as billing
    from billing.models import UsageRecord

    by_day: dict = defaultdict(list)
    for day, accepted_at in deliveries:
        by_day[day].append(accepted_at)
    for day, moments in sorted(by_day.items()):
        key = f"{dedupe}:{day:%Y%m%d}"
        if len(key) > 64:
            key = "lon:" + hashlib.sha1(key.encode()).hexdigest()
        billing.usage_record(
            account_id=account_id,
            kind=UsageRecord.Kind.NOTIFICATION,
            recipients=len(moments),
            sent_at=min(moments),
            dedupe_key=key,
        )
