"""``billing.services.usage_send``: quota check and record as one locked step, the broadcast
cap applied where usage is recorded, a retried send recorded once."""

import pytest

from billing import services
from billing.exceptions import QuotaExceeded
from billing.models import UsageRecord
from tests.billing.factories import send, subscription, taipei

pytestmark = pytest.mark.django_db


def test_the_cap_is_applied_to_what_is_checked_and_recorded(manager):
    sub = subscription(plan="medium", actor=manager)
    at = taipei(2025, 3, 5, 10)
    send(sub.account_id, 2_950, at)
    record = services.usage_send(
        account_id=sub.account_id,
        kind=UsageRecord.Kind.NARROWCAST,
        recipients=500,
        cap=50,
        sent_at=at,
    )
    assert record.recipients == 50  # capped: fits the 3,000 exactly
    with pytest.raises(QuotaExceeded):
        services.usage_send(
            account_id=sub.account_id,
            kind=UsageRecord.Kind.NARROWCAST,
            recipients=500,
            cap=1,
            sent_at=at,
        )
    assert (
        sum(
            UsageRecord.objects.filter(account_id=sub.account_id).values_list(
                "recipients", flat=True
            )
        )
        == 3_000
    )


def test_a_retried_send_with_the_same_key_is_recorded_once_even_at_the_limit(manager):
    sub = subscription(plan="medium", actor=manager)
    at = taipei(2025, 3, 5, 10)
    send(sub.account_id, 2_900, at)
    first = services.usage_send(
        account_id=sub.account_id,
        kind=UsageRecord.Kind.NARROWCAST,
        recipients=100,
        sent_at=at,
        dedupe_key="retry-1",
    )
    again = services.usage_send(
        account_id=sub.account_id,
        kind=UsageRecord.Kind.NARROWCAST,
        recipients=100,
        sent_at=at,
        dedupe_key="retry-1",
    )
    assert again.pk == first.pk  # not refused as over quota, not recorded twice
    assert UsageRecord.objects.filter(account_id=sub.account_id).count() == 2
