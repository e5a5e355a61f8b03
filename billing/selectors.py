"""Reads for billing: price tables, plans in effect, quota and consumption, daily usage.

``message_quota`` and ``message_consumption`` answer like the Messaging API's
``GET /v2/bot/message/quota`` (``{"type": "limited", "value": N}`` or ``{"type": "none"}``) and
``GET /v2/bot/message/quota/consumption`` (``{"totalUsage": N}``), for the current LINE month.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from lbm import workdays

from . import periods, pricing
from .exceptions import BillingError
from .models import (
    AddOnPrice,
    CreditNote,
    GovernmentAccount,
    GovernmentContract,
    Invoice,
    InvoiceLine,
    Plan,
    PlanChange,
    PriceTier,
    UsageRecord,
    in_effect,
)

DELETION_WINDOW_WORKING_DAYS = 7  # docs/billing.md#government-plans: 原合約結束前7個工作天內


def tier_tables(*, period: date) -> dict[int, tuple[pricing.Tier, ...]]:
    """Each plan's graduated table in effect on ``period`` (the latest ``effective_from`` not
    after it), by plan id. Two queries."""
    latest = (
        PriceTier.objects.filter(effective_from__lte=period)
        .values("plan_id")
        .annotate(latest=Max("effective_from"))
    )
    wanted = Q(pk__in=[])
    for row in latest:
        wanted |= Q(plan_id=row["plan_id"], effective_from=row["latest"])
    rows = defaultdict(list)
    for plan_id, first, price in PriceTier.objects.filter(wanted).values_list(
        "plan_id", "first_message", "unit_price"
    ):
        rows[plan_id].append((first, price))
    return {plan_id: pricing.tiers_from_rows(r) for plan_id, r in rows.items()}


def add_on_prices(*, period: date) -> dict[str, Decimal]:
    """The price of each add-on in effect on ``period`` (the latest ``effective_from`` not after
    it), by add-on code. Raises ``BillingError`` when an add-on has no price yet: billing must
    not silently give it away. One query."""
    prices = {}
    for code, price in (
        AddOnPrice.objects.filter(effective_from__lte=period)
        .order_by("code", "effective_from")
        .values_list("code", "price")
    ):
        prices[code] = price  # ascending dates: the last row per code wins
    missing = set(AddOnPrice.Code.values) - set(prices)
    if missing:
        raise BillingError(
            gettext("No price of %(add_ons)s is in effect on %(period)s.")
            % {"add_ons": ", ".join(sorted(missing)), "period": periods.period_label(period)}
        )
    return prices


def plan_in_effect(*, account_id: int, period: date) -> Plan | None:
    """The plan that governs ``period``'s quota for the account: the last change of its plan
    ledger counting from that month or before (upgrades at once, downgrades from their month).
    ``None`` when the account has no subscription then."""
    change = (
        PlanChange.objects.filter(subscription__account_id=account_id, period__lte=period)
        .select_related("to_plan")
        .order_by("-period", "-pk")
        .first()
    )
    return change.to_plan if change else None


def plans_in_effect(*, account_ids: list[int], period: date) -> dict[int, Plan]:
    """``plan_in_effect`` for several accounts in one query: account id → plan (accounts with
    no subscription then are left out)."""
    changes = (
        PlanChange.objects.filter(subscription__account_id__in=account_ids, period__lte=period)
        .select_related("to_plan")
        .annotate(account_id=F("subscription__account_id"))
        .order_by("-period", "-pk")
    )
    plans: dict[int, Plan] = {}
    for change in changes:
        plans.setdefault(change.account_id, change.to_plan)
    return plans


@dataclass(frozen=True)
class MonthUsage:
    messages: int  # counted against a per-recipient quota
    sends: int  # broadcast and segmented sends (government quotas)
    notifications: int  # delivered LON notices


def month_usage(
    *, account_id: int, period: date, recorded_until: datetime | None = None
) -> MonthUsage:
    """The account's usage in a LINE month (one aggregate query on the stored Japan month);
    with ``recorded_until``, only the rows recorded by then (late-usage notes)."""
    rows = UsageRecord.objects.filter(account_id=account_id, period=period)
    if recorded_until is not None:
        rows = rows.filter(created_at__lte=recorded_until)
    totals = rows.aggregate(
        messages=Sum("recipients", filter=Q(kind__in=UsageRecord.QUOTA_KINDS)),
        sends=Sum("sends", filter=Q(kind__in=UsageRecord.SEND_KINDS)),
        notifications=Sum("recipients", filter=Q(kind=UsageRecord.Kind.NOTIFICATION)),
    )
    return MonthUsage(**{key: value or 0 for key, value in totals.items()})


def counted(plan: Plan, usage: MonthUsage) -> int:
    """What counts against ``plan``'s quota: sends for government plans, else recipients."""
    return usage.sends if plan.counting == Plan.Counting.SENDS else usage.messages


@dataclass(frozen=True)
class Quota:
    plan: Plan | None
    limit: int | None  # None: no upper limit (extra messages are charged)
    used: int
    suspended: bool = False  # a suspended account cannot send at all

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


def quota(*, account_id: int, at: datetime | None = None) -> Quota:
    """The account's limit and usage for the LINE month of ``at`` (default: now).

    The limit is the free quota of a plan that cannot buy extra messages, lowered by the
    sender's own monthly limit if set; plans with extra messages have no limit unless the sender
    set one."""
    from .models import Subscription

    period = periods.line_period(at or timezone.now())
    plan = plan_in_effect(account_id=account_id, period=period)
    if plan is None:
        return Quota(plan=None, limit=0, used=0)
    limit = plan.free_messages if plan.overage == Plan.Overage.NONE else None
    own_limit, suspended_at = Subscription.objects.filter(account_id=account_id).values_list(
        "monthly_limit", "suspended_at"
    ).first() or (None, None)
    if own_limit is not None:
        limit = own_limit if limit is None else min(limit, own_limit)
    return Quota(
        plan=plan,
        limit=limit,
        used=counted(plan, month_usage(account_id=account_id, period=period)),
        suspended=suspended_at is not None,
    )


def message_quota(*, account_id: int, at: datetime | None = None) -> dict:
    """``{"type": "limited", "value": N}`` or ``{"type": "none"}`` (Messaging API shape)."""
    current = quota(account_id=account_id, at=at)
    if current.limit is None:
        return {"type": "none"}
    return {"type": "limited", "value": current.limit}


def message_consumption(*, account_id: int, at: datetime | None = None) -> dict:
    """``{"totalUsage": N}``: the messages of the current LINE month that count (Messaging API
    shape)."""
    return {"totalUsage": quota(account_id=account_id, at=at).used}


def daily_usage(*, account_id: int, period: date) -> list[tuple[date, int]]:
    """Messages counted on each Japan day of ``period`` (zeros included), for the chart."""
    rows = dict(
        UsageRecord.objects.filter(
            account_id=account_id, period=period, kind__in=UsageRecord.QUOTA_KINDS
        )
        .values("line_day")
        .annotate(total=Sum("recipients"))
        .values_list("line_day", "total")
    )
    return [(day, rows.get(day, 0)) for day in periods.period_days(period)]


def invoice_balance(*, invoice: Invoice) -> "dict[str, object]":
    """The invoice total with its credit and debit notes in effect (one query): a note waiting
    for its second approval is not counted (docs/billing.md#two-person-approvals)."""
    notes = CreditNote.objects.filter(in_effect(), invoice=invoice).aggregate(
        credits=Sum("amount", filter=Q(kind=CreditNote.Kind.CREDIT)),
        debits=Sum("amount", filter=Q(kind=CreditNote.Kind.DEBIT)),
    )
    credits, debits = notes["credits"] or 0, notes["debits"] or 0
    return {
        "total": invoice.total,
        "credits": credits,
        "debits": debits,
        "balance": invoice.total - credits + debits,
    }


def invoices_for_export(*, period: date) -> list[dict]:
    """The period's invoices with their lines, as JSON-ready dicts (amounts as strings). Two
    queries whatever the number of invoices."""
    from .models import InvoiceLine

    lines = defaultdict(list)
    for line in (
        InvoiceLine.objects.filter(invoice__period=period)
        .select_related("account")
        .order_by("invoice_id", "pk")
    ):
        lines[line.invoice_id].append(
            {
                "account": line.account.display_id if line.account else None,
                "kind": line.kind,
                "description": line.description,
                "quantity": line.quantity,
                "amount": str(line.amount),
                "tax_included": line.tax_included,
            }
        )
    return [
        {
            "number": invoice.number,
            "customer": invoice.customer.name,
            "period": periods.period_label(invoice.period),
            "untaxed": str(invoice.untaxed),
            "tax": str(invoice.tax),
            "tax_included": str(invoice.tax_included),
            "rounding": str(invoice.rounding),
            "total": str(invoice.total),
            "rounding_rule": str(pricing.ROUNDING_RULE),
            "lines": lines[invoice.pk],
        }
        for invoice in Invoice.objects.filter(period=period)
        .select_related("customer")
        .order_by("number")
    ]


@dataclass(frozen=True)
class PlanChangePreview:
    subscription: object
    current: Plan | None
    target: Plan
    effect: str
    charge: object  # Decimal charged this month, or None
    quota: int | None  # free messages this month after the change


def plan_change_preview(
    *, subscription, plan_code: str, at: datetime | None = None
) -> PlanChangePreview:
    """What ``services.subscription_change_plan`` would do, without doing it (for the admin's
    confirmation page)."""
    from django.utils.translation import gettext as _

    period = periods.line_period(at or timezone.now())
    current = plan_in_effect(account_id=subscription.account_id, period=period)
    target = Plan.objects.get(code=plan_code)
    if current is None or current.is_government or target.is_government:
        return PlanChangePreview(
            subscription,
            current,
            target,
            _("Refused: a government plan cannot change during its term.")
            if current
            else _("Refused: not started."),
            None,
            None,
        )
    if target.pk == current.pk:
        return PlanChangePreview(
            subscription, current, target, _("No change."), None, current.free_messages
        )
    if target.rank > current.rank:
        return PlanChangePreview(
            subscription,
            current,
            target,
            _("Upgrade now, in %(month)s") % {"month": periods.period_label(period)},
            pricing.upgrade_charge(from_fee=current.monthly_fee, to_fee=target.monthly_fee),
            target.free_messages,
        )
    return PlanChangePreview(
        subscription,
        current,
        target,
        _("Downgrade from %(month)s")
        % {"month": periods.period_label(periods.next_period(period))},
        0,
        current.free_messages,
    )


# --- Government lists: ever-verified counts and the deletion window ----------------------------


def civil_servants_verified(*, contract_id: int, before: datetime | None = None) -> int:
    """Civil-servant accounts of a contract term that ever completed verification (before
    ``before``, default: ever). Suspension does not remove them
    (docs/billing.md#government-plans)."""
    rows = GovernmentAccount.objects.filter(
        contract_id=contract_id,
        kind=GovernmentAccount.Kind.CIVIL_SERVANTS,
        first_verified_at__isnull=False,
    )
    if before is not None:
        rows = rows.filter(first_verified_at__lt=before)
    return rows.count()


def civil_servant_blocks_due(*, verified: int) -> int:
    """Blocks billed for ``verified`` ever-verified accounts: none before the first one, then
    by tens (fewer than 10 → 1 block of 10; 11 → 2 blocks)."""
    return pricing.blocks(verified) if verified else 0


def _working_days_back(day: date, days: int) -> date:
    """The date ``days`` Taiwan working days before ``day`` (``day`` itself not counted): the
    mirror of ``lbm.workdays.add_working_days``."""
    current, remaining = day, days
    while remaining > 0:
        current -= timedelta(days=1)
        if workdays.is_working_day(current):
            remaining -= 1
    return current


def deletion_window(*, ends_on: date) -> tuple[date, date]:
    """The days within which the agency deletes the accounts it did not renew: from the 7th
    Taiwan working day before the term's last day (counting back over weekends and national
    holidays, the last day not counted) to the last day, both inclusive. So
    ``add_working_days(first, 7) == ends_on`` whenever the last day is a working day."""
    return _working_days_back(ends_on, DELETION_WINDOW_WORKING_DAYS), ends_on


@dataclass
class DeletionWindow:
    contract: GovernmentContract
    starts_on: date
    ends_on: date
    status: str  # "upcoming", "open" or "closed" on ``today``
    renewal_submitted: bool
    to_delete: list = field(default_factory=list)  # GovernmentAccount rows still to delete


def deletion_windows(
    *, today: date | None = None, contract_ids=None, include_closed: bool = False
) -> list[DeletionWindow]:
    """Each contract term's deletion window with the listed accounts still to delete: not on
    the submitted renewal list (or no list submitted: none is kept) and not yet deleted. Terms
    whose window closed more than a month ago are left out unless ``include_closed``. Two
    queries whatever the number of contracts."""
    today = today or workdays.taipei_today()
    contracts = GovernmentContract.objects.filter(in_effect()).select_related(
        "customer", "plan", "main_account", "renewal"
    )
    if contract_ids is not None:
        contracts = contracts.filter(pk__in=list(contract_ids))
    elif not include_closed:
        contracts = contracts.filter(ends_on__gte=today - timedelta(days=31))
    contracts = list(contracts.order_by("ends_on", "pk"))
    pending = defaultdict(list)
    for row in (
        GovernmentAccount.objects.filter(contract__in=contracts, deleted_on__isnull=True)
        .exclude(kept_on_renewal=True)
        .select_related("account")
        .order_by("contract_id", "kind", "pk")
    ):
        pending[row.contract_id].append(row)
    windows = []
    for contract in contracts:
        first, last = deletion_window(ends_on=contract.ends_on)
        status = "upcoming" if today < first else "open" if today <= last else "closed"
        windows.append(
            DeletionWindow(
                contract=contract,
                starts_on=first,
                ends_on=last,
                status=status,
                renewal_submitted=hasattr(contract, "renewal"),
                to_delete=pending.get(contract.pk, []),
            )
        )
    return windows


def civil_servant_counts(*, contract_ids) -> dict[int, int]:
    """Ever-verified civil-servant accounts per contract (one grouped query)."""
    return dict(
        GovernmentAccount.objects.filter(
            contract_id__in=list(contract_ids),
            kind=GovernmentAccount.Kind.CIVIL_SERVANTS,
            first_verified_at__isnull=False,
        )
        .values("contract_id")
        .order_by()
        .annotate(n=Count("pk"))
        .values_list("contract_id", "n")
    )


def blocks_billed(*, contract_ids, kind: str) -> dict[int, int]:
    """Blocks of ``kind`` (an ``InvoiceLine.Kind``) already invoiced per contract term."""
    return dict(
        InvoiceLine.objects.filter(contract_id__in=list(contract_ids), kind=kind)
        .values("contract_id")
        .order_by()
        .annotate(n=Sum("quantity"))
        .values_list("contract_id", "n")
    )
