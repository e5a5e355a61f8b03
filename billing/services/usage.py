"""Usage and quota: the check before a send and the ledger row after it.

Rules: docs/billing.md.
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import periods, selectors
from ..exceptions import (
    AccountSuspended,
    BillingError,
    QuotaExceeded,
)
from ..models import (
    Plan,
    Subscription,
    UsageRecord,
)

# --- Usage and quota --------------------------------------------------------------------------


def quota_check(
    *,
    account_id: int,
    recipients: int,
    sent_at: datetime,
    kind: str = UsageRecord.Kind.BROADCAST,
    cap: int | None = None,
) -> selectors.Quota:
    """Refuse a send that would pass the account's limit this LINE month (see the module
    docstring). Returns the quota before the send."""
    if recipients < 0:
        raise BillingError(_("A send cannot have a negative number of messages."))
    current = selectors.quota(account_id=account_id, at=sent_at)
    if current.plan is None:
        raise BillingError(_("This Official Account has no plan; it cannot send messages."))
    if current.suspended:
        raise AccountSuspended(_("This Official Account is suspended; it cannot send messages."))
    if kind not in UsageRecord.QUOTA_KINDS:
        return current  # notification and reviewed-feature messages are billed separately
    if current.plan.counting == Plan.Counting.SENDS:
        if kind not in UsageRecord.SEND_KINDS:
            return current  # government plans: Messaging API messages are unlimited
        requested = 1
    else:
        requested = recipients if cap is None else min(recipients, cap)
    if current.limit is not None and current.used + requested > current.limit:
        raise QuotaExceeded(quota=current.limit, used=current.used, requested=requested)
    return current


def usage_record(
    *,
    account_id: int,
    kind: str,
    recipients: int,
    sent_at: datetime,
    sends: int = 1,
    bubbles: int = 1,
    dedupe_key: str | None = None,
) -> UsageRecord:
    """Write one send to the usage ledger (see the module docstring for the contract)."""
    if kind not in UsageRecord.Kind.values:
        raise BillingError(_("Unknown kind of message: %(kind)s.") % {"kind": kind})
    if recipients < 0 or sends < 0:
        raise BillingError(_("A send cannot have a negative number of messages."))
    if not 1 <= bubbles <= 3:
        raise BillingError(_("A message holds 1 to 3 bubbles."))
    if not Subscription.objects.filter(account_id=account_id).exists():
        raise BillingError(_("This Official Account has no plan; it cannot send messages."))
    if kind == UsageRecord.Kind.DISASTER_RELIEF:
        plan = selectors.plan_in_effect(account_id=account_id, period=periods.line_period(sent_at))
        if plan is None or plan.code not in Plan.GOVERNMENT_MAIN_PLANS:
            raise BillingError(
                _(
                    "Only a government main account may send free disaster-relief "
                    "messages, with LINE's approval."
                )
            )
    if dedupe_key:
        found = UsageRecord.objects.filter(account_id=account_id, dedupe_key=dedupe_key).first()
        if found is not None:
            return found
    day = periods.line_day(sent_at)
    record = UsageRecord(
        account_id=account_id,
        kind=kind,
        recipients=recipients,
        sends=sends,
        bubbles=bubbles,
        sent_at=sent_at,
        line_day=day,
        period=periods.period_of(day),
        dedupe_key=dedupe_key or None,
    )
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        if not dedupe_key:
            raise
        return UsageRecord.objects.get(account_id=account_id, dedupe_key=dedupe_key)
    return record


def usage_send(
    *,
    account_id: int,
    kind: str,
    recipients: int,
    sent_at: datetime,
    cap: int | None = None,
    bubbles: int = 1,
    dedupe_key: str | None = None,
) -> UsageRecord:
    """Check the quota and record the send as one step, locked per account: the account's
    subscription row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises
    writers anyway), so concurrent sends at the quota's edge never record past it. ``cap`` (a
    broadcast's ``limit.max``) is applied here, to what is recorded. A retry with the same
    ``dedupe_key`` returns the send already recorded (docs/reliability.md)."""
    with transaction.atomic():
        if not Subscription.objects.select_for_update().filter(account_id=account_id).exists():
            raise BillingError(_("This Official Account has no plan; it cannot send messages."))
        if dedupe_key:
            found = UsageRecord.objects.filter(account_id=account_id, dedupe_key=dedupe_key).first()
            if found is not None:
                return found
        quota_check(
            account_id=account_id, recipients=recipients, sent_at=sent_at, kind=kind, cap=cap
        )
        return usage_record(
            account_id=account_id,
            kind=kind,
            recipients=recipients if cap is None else min(recipients, cap),
            sent_at=sent_at,
            bubbles=bubbles,
            dedupe_key=dedupe_key,
        )
