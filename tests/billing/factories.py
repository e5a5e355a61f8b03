"""Billing test data, built through the billing services where a rule applies."""

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

from billing import services
from billing.models import BillingCustomer, UsageRecord
from tests import factories

TAIPEI = ZoneInfo("Asia/Taipei")
_names = itertools.count(1)


def taipei(*args) -> datetime:
    return datetime(*args, tzinfo=TAIPEI)


def customer(**fields) -> BillingCustomer:
    defaults = dict(
        name=f"客戶 {next(_names)}",
        country="TW",
        payment_method=BillingCustomer.PaymentMethod.CREDIT_CARD,
        invoice_title="熊大股份有限公司",
        invoice_email="bill@company.example",
        business_number=factories.next_business_number(),
    )
    defaults.update(fields)
    return BillingCustomer.objects.create(**defaults)


def subscription(
    *, plan="high", actor, account=None, customer_obj=None, started_on=date(2025, 1, 1), **kwargs
):
    account = account or factories.AccountFactory()
    customer_obj = customer_obj or customer()
    return services.subscription_create(
        account_id=account.pk,
        customer_id=customer_obj.pk,
        plan_code=plan,
        actor=actor,
        started_on=started_on,
        **kwargs,
    )


def send(
    account_id: int,
    recipients: int,
    sent_at: datetime,
    kind: str = UsageRecord.Kind.BROADCAST,
    **kwargs,
) -> UsageRecord:
    return services.usage_record(
        account_id=account_id, kind=kind, recipients=recipients, sent_at=sent_at, **kwargs
    )


def government_contract(*, actor, approver=None, **kwargs):
    """A government contract proposed by ``actor`` and approved by a second account manager
    (docs/billing.md#two-person-approvals): in effect, as the tests of billing need it."""
    contract = services.government_contract_propose(actor=actor, **kwargs)
    services.second_approval_approve(
        approval_id=contract.approval_id, actor=approver or factories.account_manager()
    )
    contract.refresh_from_db()
    return contract
