"""Month-end billing: ``bill_month`` builds one draft per customer and issues the invoices.

Rules: docs/billing.md.
"""

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import einvoice, periods, pricing, selectors
from ..exceptions import (
    BillingError,
    PeriodNotClosed,
)
from ..models import (
    BillingCustomer,
    BillingRun,
    GovernmentAccount,
    GovernmentBlock,
    GovernmentContract,
    Invoice,
    InvoiceLine,
    Plan,
    PlanChange,
    PromotionCode,
    Subscription,
    UsageRecord,
    in_effect,
)
from ..signals import before_billing
from ._base import _require
from .corrections import late_usage_bill

INVOICE_BATCH = 2000


# --- Month-end billing ------------------------------------------------------------------------


@dataclass
class Draft:
    customer_id: int
    lines: list[InvoiceLine] = field(default_factory=list)
    renewal_codes: list[tuple[int, pricing.Deduction]] = field(default_factory=list)

    def add(self, **kwargs) -> None:
        self.lines.append(InvoiceLine(**kwargs))


@dataclass
class BillingResult:
    period: date
    invoices_created: int
    invoices_existing: int
    amount_invoiced: Decimal
    seconds: float
    run_id: int

    def as_dict(self) -> dict:
        return {
            "period": periods.period_label(self.period),
            "invoices_created": self.invoices_created,
            "invoices_existing": self.invoices_existing,
            "amount_invoiced": str(self.amount_invoiced),
            "seconds": round(self.seconds, 3),
            "run_id": self.run_id,
        }


def bill_month(
    *, period: date, actor=None, triggered_by: str = "", now: datetime | None = None
) -> BillingResult:
    """Issue every billing customer's invoice for ``period`` (idempotent, set-based).

    The period must be closed: 24 hours after it ends on Japan time, once every notification
    delivery is known. Invoices are written in batches, each batch in one transaction with its
    lines and promotion-code redemptions, so a crash leaves no half invoice. A customer who
    already has the period's invoice is skipped; if another run inserts it at the same moment,
    the unique constraint on (customer, period) refuses the second one, the batch is rolled back
    and retried without it. ``actor=None`` is the system (the periodic task)."""
    if actor is not None:
        _require(actor, "run_billing")
    now = now or timezone.now()
    period = periods.period_of(period)
    if not periods.is_closed(period, now=now):
        raise PeriodNotClosed(
            _("%(period)s can be billed from %(when)s (Japan time), 24 hours after the month ends.")
            % {
                "period": periods.period_label(period),
                "when": periods.period_closes_at(period).strftime("%Y-%m-%d %H:%M"),
            }
        )
    before_billing.send(sender=bill_month, period=period)
    started = time.monotonic()
    run = BillingRun.objects.create(
        period=period, started_at=now, triggered_by=triggered_by or (str(actor) if actor else "")
    )
    try:
        drafts = _drafts(period)
        _check_numbers(drafts)
        created, existing, amount = _issue(drafts, period=period, run=run)
        late_usage_bill(before=period)
    except Exception as exc:
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRun.Status.FAILED, finished_at=timezone.now(), error=repr(exc)[:2000]
        )
        raise
    BillingRun.objects.filter(pk=run.pk).update(
        status=BillingRun.Status.DONE,
        finished_at=timezone.now(),
        invoices_created=created,
        invoices_existing=existing,
    )
    return BillingResult(
        period=period,
        invoices_created=created,
        invoices_existing=existing,
        amount_invoiced=amount,
        seconds=time.monotonic() - started,
        run_id=run.pk,
    )


def _check_numbers(drafts: dict[int, Draft]) -> None:
    """Stop the run before anything is issued when the tracks cannot number every invoice."""
    needed = sum(1 for d in drafts.values() if _totals(d).total > 0)
    bimonth = einvoice.bimonth_of_moment(timezone.now())
    left = einvoice.available(bimonth=bimonth)
    if needed > left:
        raise einvoice.NumbersExhausted(
            einvoice.exhausted_message(bimonth=bimonth, needed=needed, left=left)
        )


def _totals(d: Draft) -> pricing.Totals:
    return pricing.invoice_totals((line.amount, line.tax_included) for line in d.lines)


def _drafts(period: date) -> dict[int, Draft]:
    """The lines of every customer's invoice for ``period``, computed from a handful of
    set-based queries (no query per account)."""
    following = periods.next_period(period)
    plans = {plan.pk: plan for plan in Plan.objects.all()}
    tiers = selectors.tier_tables(period=period)
    add_on_prices: dict[str, Decimal] | None = None

    def add_on_price(code: str) -> Decimal:
        nonlocal add_on_prices
        if add_on_prices is None:  # read once, and only when an account has an add-on
            add_on_prices = selectors.add_on_prices(period=period)
        return add_on_prices[code]

    # Customers already invoiced for the period are left out from the start (a rerun is cheap).
    invoiced = Invoice.objects.filter(period=period).values("customer_id")
    subscriptions = list(
        Subscription.objects.filter(started_on__lt=following)
        .exclude(customer_id__in=invoiced)
        .values_list("pk", "account_id", "customer_id", "chat_advanced", "premium_id_since")
    )
    # The plan ledger up to the period: opening plan, the period's upgrades, closing plan.
    ledger = defaultdict(list)
    for row in (
        PlanChange.objects.filter(period__lte=period)
        .exclude(subscription__customer_id__in=invoiced)
        .order_by("subscription_id", "period", "pk")
        .values_list(
            "subscription_id",
            "kind",
            "from_plan_id",
            "to_plan_id",
            "period",
            "charge",
            "deducted",
            "promotion_code_id",
            "promotion_code__code",
        )
    ):
        ledger[row[0]].append(row[1:])
    usage = {
        row[0]: row[1:]
        for row in UsageRecord.objects.filter(period=period)
        .exclude(account__subscription__customer_id__in=invoiced)
        .values("account_id")
        .order_by()
        .annotate(
            messages=Sum("recipients", filter=Q(kind__in=UsageRecord.QUOTA_KINDS)),
            sends=Sum("sends", filter=Q(kind__in=UsageRecord.SEND_KINDS)),
            notices=Sum("recipients", filter=Q(kind=UsageRecord.Kind.NOTIFICATION)),
        )
        .values_list("account_id", "messages", "sends", "notices")
    }
    renewal_codes = {}
    eligible = (
        BillingCustomer.objects.filter(
            country="TW",
            payment_method__in=[
                BillingCustomer.PaymentMethod.CREDIT_CARD,
                BillingCustomer.PaymentMethod.LINE_PAY,
            ],
        )
        .exclude(invoice_title="")
        .filter(~Q(business_number="") | ~Q(invoice_carrier="") | ~Q(donation_code=""))
    )
    # A renewal is charged for the month when it closes: the code must be valid on the
    # month's last day (the day of the charge), not merely on its first (docs/billing.md).
    charge_day = periods.period_days(period)[-1]
    for code in PromotionCode.objects.filter(
        status=PromotionCode.Status.REGISTERED,
        valid_from__lte=charge_day,
        valid_until__gte=charge_day,
        subscription__customer__in=eligible,
    ).order_by("pk"):
        renewal_codes.setdefault(code.subscription_id, code)

    drafts: dict[int, Draft] = {}

    def draft(customer_id: int) -> Draft:
        if customer_id not in drafts:
            drafts[customer_id] = Draft(customer_id=customer_id)
        return drafts[customer_id]

    for sub_id, account_id, customer_id, chat_advanced, premium_since in subscriptions:
        rows = ledger.get(sub_id)
        if not rows:
            continue
        opening = closing = None
        upgrades = []
        for kind, _from, to_plan_id, change_period, charge, deducted, code_id, code in rows:
            if change_period < period or kind != PlanChange.Kind.UPGRADE:
                opening = to_plan_id
            else:
                upgrades.append((_from, to_plan_id, charge, deducted, code_id, code))
            closing = to_plan_id
        d = draft(customer_id)
        if opening is not None:
            _monthly_fee_lines(
                d, account_id=account_id, plan=plans[opening], code=renewal_codes.get(sub_id)
            )
        _upgrade_lines(d, account_id=account_id, upgrades=upgrades, plans=plans)
        plan = plans[closing]
        _usage_lines(
            d, account_id=account_id, plan=plan, usage=usage.get(account_id, (0, 0, 0)), tiers=tiers
        )
        _add_on_lines(
            d,
            account_id=account_id,
            plan=plan,
            period=period,
            chat_advanced=chat_advanced,
            premium_since=premium_since,
            add_on_price=add_on_price,
        )

    by_code = {plan.code: plan for plan in plans.values()}
    _government_lines(
        period, sub_plan=by_code.get(Plan.Code.GOV_SUB), invoiced=invoiced, draft=draft
    )
    _civil_servant_blocks(
        period, plan=by_code.get(Plan.Code.GOV_CIVIL), invoiced=invoiced, draft=draft
    )
    return {cid: d for cid, d in drafts.items() if any(line.amount for line in d.lines)}


# One builder per line kind; each adds its lines to a customer's draft, in the order the
# invoice lists them (per account: monthly fee, upgrades, usage, add-ons; then the
# government plans and blocks, then the civil-servant blocks).


def _monthly_fee_lines(
    d: Draft, *, account_id: int, plan: Plan, code: PromotionCode | None
) -> None:
    """The opening plan's monthly fee, less a registered renewal promotion code."""
    if plan.monthly_fee:
        d.add(
            account_id=account_id,
            kind=InvoiceLine.Kind.MONTHLY_FEE,
            description=_("Monthly fee, %(plan)s") % {"plan": plan},
            amount=plan.monthly_fee,
            tax_included=plan.tax_included,
        )
        deduction = code and pricing.promotion_deduction(
            from_plan=None, to_plan=plan.code, charge=plan.monthly_fee, face_value=code.face_value
        )
        if deduction:
            d.add(
                account_id=account_id,
                kind=InvoiceLine.Kind.PROMOTION,
                description=_("Promotion code %(code)s (renewal; %(forfeited)s forfeited)")
                % {"code": code.code, "forfeited": deduction.forfeited},
                amount=-deduction.deducted,
                promotion_code_id=code.pk,
            )
            d.renewal_codes.append((code.pk, deduction))


def _upgrade_lines(d: Draft, *, account_id: int, upgrades, plans: dict[int, Plan]) -> None:
    """The period's upgrades (the charge fixed at the change), each less its promotion code."""
    for from_id, to_id, charge, deducted, code_id, code in upgrades:
        d.add(
            account_id=account_id,
            kind=InvoiceLine.Kind.UPGRADE,
            description=_("Upgrade %(from)s → %(to)s")
            % {"from": plans[from_id], "to": plans[to_id]},
            amount=charge,
        )
        if deducted:
            d.add(
                account_id=account_id,
                kind=InvoiceLine.Kind.PROMOTION,
                description=_("Promotion code %(code)s") % {"code": code},
                amount=-deducted,
                promotion_code_id=code_id,
            )


def _usage_lines(d: Draft, *, account_id: int, plan: Plan, usage, tiers) -> None:
    """Messages past the closing plan's free quota, and delivered notification messages."""
    messages, sends, notices = usage
    used = (sends or 0) if plan.counting == Plan.Counting.SENDS else (messages or 0)
    extra = pricing.overage_charge(
        messages=used,
        free=plan.free_messages,
        rule=plan.overage,
        tiers=tiers.get(plan.pk, ()),
        unit_price=plan.overage_unit_price,
    )
    if extra:
        d.add(
            account_id=account_id,
            kind=(
                InvoiceLine.Kind.GOVERNMENT_EXTRA
                if plan.is_government
                else InvoiceLine.Kind.EXTRA_MESSAGES
            ),
            description=_("%(count)s messages on %(plan)s, %(free)s free")
            % {"count": used, "plan": plan, "free": plan.free_messages},
            quantity=used,
            amount=extra,
            tax_included=plan.tax_included,
        )
    if notices:
        d.add(
            account_id=account_id,
            kind=InvoiceLine.Kind.NOTIFICATIONS,
            description=_("%(count)s delivered notification messages × %(price)s")
            % {"count": notices, "price": pricing.NOTIFICATION_UNIT_PRICE},
            quantity=notices,
            amount=notices * pricing.NOTIFICATION_UNIT_PRICE,
        )


def _add_on_lines(
    d: Draft,
    *,
    account_id: int,
    plan: Plan,
    period: date,
    chat_advanced,
    premium_since,
    add_on_price,
) -> None:
    """Chat advanced every month, the premium ID in its anniversary month (plans that do not
    include the add-ons)."""
    if not plan.includes_add_ons:
        if chat_advanced:
            d.add(
                account_id=account_id,
                kind=InvoiceLine.Kind.CHAT_ADVANCED,
                description=_("Chat advanced plan"),
                amount=add_on_price("chat_advanced"),
            )
        if (
            premium_since
            and premium_since.month == period.month
            and periods.period_of(premium_since) <= period
        ):
            d.add(
                account_id=account_id,
                kind=InvoiceLine.Kind.PREMIUM_ID,
                description=_("Premium ID, one year"),
                amount=add_on_price("premium_id"),
            )


def _government_lines(period: date, *, sub_plan: Plan | None, invoiced, draft) -> None:
    """Government plans of the contracts starting in ``period``, and the sub-account blocks
    bought in it; a contract waiting for its second approval is not billed
    (docs/billing.md#two-person-approvals)."""
    following = periods.next_period(period)
    for contract in (
        GovernmentContract.objects.filter(
            in_effect(), starts_on__gte=period, starts_on__lt=following
        )
        .exclude(customer_id__in=invoiced)
        .select_related("plan")
    ):
        years = pricing.contract_years(contract.starts_on, contract.ends_on)
        draft(contract.customer_id).add(
            account_id=contract.main_account_id,
            kind=InvoiceLine.Kind.GOVERNMENT_PLAN,
            description=_("%(plan)s, %(start)s to %(end)s (%(years)s year(s))")
            % {
                "plan": contract.plan,
                "start": contract.starts_on,
                "end": contract.ends_on,
                "years": years,
            },
            quantity=years,
            amount=contract.plan.yearly_fee * years,
            tax_included=True,
            contract_id=contract.pk,
        )
    # Sub-account blocks: bought by hand, billed in the month of purchase for the whole years
    # left until the main term ends (a mid-term purchase pays the full block price).
    for block in (
        GovernmentBlock.objects.filter(
            in_effect("contract__"),
            kind=GovernmentBlock.Kind.SUB_ACCOUNTS,
            purchased_on__gte=period,
            purchased_on__lt=following,
        )
        .exclude(contract__customer_id__in=invoiced)
        .select_related("contract")
    ):
        count = pricing.blocks(block.accounts)
        years = pricing.contract_years(block.purchased_on, block.contract.ends_on)
        draft(block.contract.customer_id).add(
            account_id=None,
            kind=InvoiceLine.Kind.GOVERNMENT_BLOCKS,
            description=_(
                "%(kind)s: %(accounts)s accounts billed as %(blocks)s block(s) of 10, until %(end)s"
            )
            % {
                "kind": block.get_kind_display(),
                "accounts": block.accounts,
                "blocks": count,
                "end": block.contract.ends_on,
            },
            quantity=count,
            amount=sub_plan.yearly_fee * count * years,
            tax_included=sub_plan.tax_included,
            contract_id=block.contract_id,
        )


def _civil_servant_blocks(period: date, *, plan: Plan, invoiced, draft) -> None:
    """Civil-servant blocks of every contract term running in ``period``, derived from the
    accounts that ever completed verification by the period's end (suspended ones included):
    blocks due (by tens, fewer than 10 → 10) less blocks already invoiced for the term. Each
    increase pays the full yearly block price for the whole years left until the main term
    ends, on the untaxed 5,714 per block so that tax is added once on the customer's sum
    (docs/billing.md). Three queries whatever the number of contracts."""
    following = periods.next_period(period)
    ends = periods.period_end(period)
    contracts = {
        c.pk: c
        for c in GovernmentContract.objects.filter(
            in_effect(), starts_on__lt=following, ends_on__gte=period
        ).exclude(customer_id__in=invoiced)
    }
    if not contracts:
        return
    verified = dict(
        GovernmentAccount.objects.filter(
            contract_id__in=list(contracts),
            kind=GovernmentAccount.Kind.CIVIL_SERVANTS,
            first_verified_at__lt=ends,
        )
        .values("contract_id")
        .order_by()
        .annotate(n=Count("pk"))
        .values_list("contract_id", "n")
    )
    billed = selectors.blocks_billed(
        contract_ids=list(verified), kind=InvoiceLine.Kind.CIVIL_SERVANT_BLOCKS
    )
    for contract_id, count in sorted(verified.items()):
        contract = contracts[contract_id]
        due = selectors.civil_servant_blocks_due(verified=count)
        new = due - billed.get(contract_id, 0)
        if new <= 0:
            continue
        years = pricing.contract_years(max(period, contract.starts_on), contract.ends_on)
        draft(contract.customer_id).add(
            account_id=None,
            kind=InvoiceLine.Kind.CIVIL_SERVANT_BLOCKS,
            description=_(
                "Civil-servant accounts: %(count)s ever verified, billed as %(due)s "
                "block(s) of 10 (%(new)s new) at the untaxed %(price)s, until %(end)s"
            )
            % {
                "count": count,
                "due": due,
                "new": new,
                "price": plan.yearly_fee,
                "end": contract.ends_on,
            },
            quantity=new,
            amount=plan.yearly_fee * new * years,
            tax_included=plan.tax_included,
            contract_id=contract_id,
        )


def _issue(drafts: dict[int, Draft], *, period: date, run: BillingRun) -> tuple[int, int, Decimal]:
    """Write the invoices of ``drafts`` in batches; returns (created, already there, amount)."""
    # ``drafts`` leaves out customers invoiced before this run started; a concurrent run may
    # still issue some of them meanwhile (handled per batch below).
    pending = sorted(drafts)
    created, amount = 0, Decimal("0")
    for start in range(0, len(pending), INVOICE_BATCH):
        batch = pending[start : start + INVOICE_BATCH]
        for _attempt in range(3):
            try:
                n, total = _issue_batch([drafts[cid] for cid in batch], period=period, run=run)
            except IntegrityError:
                # Another run issued some of these invoices meanwhile: leave those out.
                done = set(
                    Invoice.objects.filter(period=period, customer_id__in=batch).values_list(
                        "customer_id", flat=True
                    )
                )
                batch = [cid for cid in batch if cid not in done]
                continue
            created += n
            amount += total
            break
        else:
            raise BillingError(_("Billing kept colliding with another run; run it again."))
    existing = Invoice.objects.filter(period=period).exclude(run=run).count()
    return created, existing, amount


@transaction.atomic
def _issue_batch(drafts: Iterable[Draft], *, period: date, run: BillingRun) -> tuple[int, Decimal]:
    drafts = list(drafts)
    if not drafts:
        return 0, Decimal("0")
    now = timezone.now()
    invoices = []
    customers = BillingCustomer.objects.in_bulk([d.customer_id for d in drafts])
    totals_of = [_totals(d) for d in drafts]
    # Locks the period's tracks: concurrent runs number their batches one after the other, and
    # a batch rolled back gives its numbers back (no gap).
    numbers = iter(
        einvoice.allocate(
            bimonth=einvoice.bimonth_of_moment(now), count=sum(1 for t in totals_of if t.total > 0)
        )
    )
    for d, totals in zip(drafts, totals_of, strict=True):
        buyer = customers[d.customer_id]
        invoices.append(
            Invoice(
                customer_id=d.customer_id,
                period=period,
                issued_at=now,
                run=run,
                number=f"INV-{period:%Y%m}-{d.customer_id:08d}",
                untaxed=totals.untaxed,
                tax=totals.tax,
                tax_included=totals.tax_included,
                rounding=totals.rounding,
                total=totals.total,
                einvoice_number=next(numbers) if totals.total > 0 else None,
                buyer_id=buyer.business_number or einvoice.PERSON_BUYER_ID,
                buyer_name=buyer.invoice_title or buyer.name,
                carrier="" if buyer.business_number else buyer.invoice_carrier,
                donation_code="" if buyer.business_number else buyer.donation_code,
            )
        )
    Invoice.objects.bulk_create(invoices)
    lines = []
    redemptions = defaultdict(list)
    for invoice, d in zip(invoices, drafts, strict=True):
        for line in d.lines:
            line.invoice_id = invoice.pk
            lines.append(line)
        for code_id, deduction in d.renewal_codes:
            redemptions[(deduction.deducted, deduction.forfeited)].append(code_id)
    InvoiceLine.objects.bulk_create(lines, batch_size=5000)
    for (deducted, forfeited), code_ids in redemptions.items():
        # Set-based in the invoice's transaction; the invoice line names the code (audit).
        changed = PromotionCode.objects.filter(
            pk__in=code_ids, status=PromotionCode.Status.REGISTERED
        ).update(
            status=PromotionCode.Status.REDEEMED,
            redeemed_at=now,
            redeemed_for="renewal",
            deducted=deducted,
            forfeited=forfeited,
        )
        if changed != len(code_ids):
            raise IntegrityError("a registered promotion code was used meanwhile")
    return len(invoices), sum((i.total for i in invoices), Decimal("0"))
