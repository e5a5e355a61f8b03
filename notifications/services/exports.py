"""Retention and export: purging settled notices' personal data, the failed-notice export
(SMS fallback)."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from lbm import permissions
from lbm.permissions import Action

from .. import crypto
from ..models import RETENTION, FailedNoticeExport, Notice, WebhookDelivery


@transaction.atomic
def notices_purge(*, now: datetime | None = None) -> int:
    """Clear the encrypted personal data of notices settled more than ``RETENTION`` ago whose
    webhook is done (sent or given up). Returns how many were purged. Idempotent."""
    now = now or timezone.now()
    busy = WebhookDelivery.objects.filter(
        state__in=[WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING]
    ).values("notice_id")
    return (
        Notice.objects.filter(settled_at__lt=now - RETENTION, purged_at__isnull=True)
        .exclude(pk__in=busy)
        .update(line_hash_secret="", values_secret="", purged_at=now)
    )


# --- Export of failed notices (SMS fallback) --------------------------------------------------


@transaction.atomic
def failed_notices_export(
    *, actor, account_ids: list[int] | None = None, notice_ids: list[int] | None = None
) -> list[dict]:
    """The failed notices the actor may export (Admins of the organization the account is
    linked to), as ``{"hash", "tag", "reason", "accepted_at", "account_id"}``; each export is
    recorded (who, when, which accounts, how many). Purged notices have no hash any more."""
    if not permissions.can(actor, Action.EXPORT_NOTICES):
        permissions.require(actor, Action.EXPORT_NOTICES)
    queryset = permissions.visible(
        actor,
        Notice.objects.filter(state=Notice.State.FAILED),
        Action.EXPORT_NOTICES,
        account_path="account",
    )
    if account_ids is not None:
        queryset = queryset.filter(account_id__in=account_ids)
    if notice_ids is not None:
        queryset = queryset.filter(pk__in=notice_ids)
    rows = []
    accounts = set()
    for notice in queryset.order_by("accepted_at", "pk").iterator(chunk_size=5000):
        accounts.add(notice.account_id)
        rows.append(
            {
                "hash": crypto.decrypt(notice.line_hash_secret),
                "tag": notice.delivery_tag,
                "reason": notice.reason,
                "accepted_at": notice.accepted_at.isoformat(),
                "account_id": notice.account_id,
            }
        )
    FailedNoticeExport.objects.create(
        exported_by=actor,
        exported_at=timezone.now(),
        account_ids=sorted(accounts),
        notice_count=len(rows),
    )
    return rows
