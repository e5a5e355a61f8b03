"""Every write of billing: subscriptions and plan changes, usage, promotion codes, government
contracts, month-end invoices and credit notes.

Services for other apps (stable signatures; keyword-only arguments):

``usage_record(*, account_id: int, kind: str, recipients: int, sent_at: datetime,
sends: int = 1, bubbles: int = 1, dedupe_key: str | None = None) -> UsageRecord``
    Record one send in the usage ledger. ``kind`` is a ``UsageRecord.Kind`` value; LINE
    notification messages (LON) use ``UsageRecord.Kind.NOTIFICATION`` ("notification") with
    ``recipients`` = the number of *delivered* notices, billed 0.2 each and not counted against
    the plan's quota. ``sent_at`` must be aware (stored UTC; the Japan-time day and month are
    derived). With a ``dedupe_key`` (e.g. the LINE request id) a repeated call returns the row
    already recorded instead of counting twice. ``bubbles`` (1–3) count as one message.
    ``"disaster_relief"`` (free, outside the quota) is for government main accounts whose sends
    LINE approved. Raises ``BillingError`` for an account without a subscription or a bad kind.

``quota_check(*, account_id: int, recipients: int, sent_at: datetime, kind: str = "broadcast",
cap: int | None = None) -> selectors.Quota``
    Call before a broadcast, narrowcast or push. Raises ``QuotaExceeded`` (a ``DomainError``
    whose message says the limit, what was used and what is left) when the send would pass the
    plan's free quota on a plan without extra messages, or the sender's monthly limit. ``cap`` is
    the sender's cap on this broadcast: at most that many messages are counted and sent.

Reads for the HTTP API are ``selectors.message_quota`` and ``selectors.message_consumption``.

Each write locks what it changes, returns early when nothing changes, checks the actor's
global billing permission, and records who and why in the history.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import permissions, workdays
from lbm.audit import record_change
from lbm.formatting import count as count_text
from lbm.formatting import money
from lbm.models import Account

from . import einvoice, periods, pricing, selectors
from .exceptions import (
    AccountSuspended,
    BillingError,
    PeriodNotClosed,
    PlanChangeRefused,
    PromotionCodeRefused,
    QuotaExceeded,
)
from .models import (
    AddOnPrice,
    BillingCustomer,
    BillingRun,
    CreditNote,
    EInvoiceAction,
    EInvoiceTrack,
    GovernmentAccount,
    GovernmentBlock,
    GovernmentContract,
    GovernmentRenewal,
    Invoice,
    InvoiceLine,
    Plan,
    PlanChange,
    PriceTier,
    PromotionCode,
    Subscription,
    UsageRecord,
)
from .signals import before_billing

logger = logging.getLogger(__name__)

INVOICE_BATCH = 2000
SUB_ACCOUNT_MAX_FRIENDS = 5000


def _require(actor, codename: str) -> None:
    """Staff-global billing rights (held by the LINE account managers group)."""
    permissions.require_staff(actor, f"billing.{codename}")


_record = record_change  # lbm.audit: who and why for the history row


# --- Subscriptions and plan changes -----------------------------------------------------------


@transaction.atomic
def subscription_create(*, account_id: int, customer_id: int, plan_code: str, actor,
                        started_on: date | None = None, contract_id: int | None = None,
                        chat_advanced: bool = False, premium_id_since: date | None = None,
                        target_friends: int | None = None, reason: str = "") -> Subscription:
    """Put an Official Account on a plan, billed to ``customer_id``. One subscription per OA.

    Government plans need their contract; a sub-account's name must start with the main
    account's name and it may have at most 5,000 target friends. A paid plan is a purchase: the
    customer's payment method and e-invoice information must be registered. Raises
    ``BillingError``."""
    _require(actor, "add_subscription")
    account = Account.objects.select_for_update().get(pk=account_id)
    if account.kind != Account.Kind.OFFICIAL_ACCOUNT:
        raise BillingError(_("Only LINE Official Accounts have a plan."), field="account")
    existing = Subscription.objects.filter(account=account).first()
    if existing is not None:
        if existing.customer_id == customer_id and existing.plan.code == plan_code:
            return existing
        raise BillingError(_("This Official Account already has a subscription; change its "
                             "plan instead."), field="account")
    plan = Plan.objects.get(code=plan_code)
    contract = None
    if plan.is_government:
        if contract_id is None:
            raise BillingError(_("A government plan needs its government contract."),
                               field="contract")
        contract = GovernmentContract.objects.select_related("main_account").get(pk=contract_id)
        if plan.code == Plan.Code.GOV_SUB and not account.name.startswith(
                contract.main_account.name):
            raise BillingError(
                _("A sub-account's name must start with the main account's name "
                  "(“%(main)s”).") % {"main": contract.main_account.name}, field="account")
        if plan.code == Plan.Code.GOV_SUB:
            _check_target_friends(target_friends)
    elif contract_id is not None:
        raise BillingError(_("Only government plans belong to a government contract."),
                           field="contract")
    else:
        _require_purchase_details(BillingCustomer.objects.get(pk=customer_id), plan)
    started_on = started_on or periods.line_day(timezone.now())
    subscription = Subscription(account=account, customer_id=customer_id, plan=plan,
                                contract=contract, started_on=started_on,
                                target_friends=target_friends,
                                chat_advanced=chat_advanced and not plan.includes_add_ons,
                                premium_id_since=None if plan.includes_add_ons
                                else premium_id_since)
    _record(subscription, actor=actor, reason=reason or _("Subscription started"))
    subscription.save()
    PlanChange.objects.create(subscription=subscription, kind=PlanChange.Kind.START,
                              to_plan=plan, period=periods.period_of(started_on),
                              created_by=actor, reason=reason)
    if plan.code in LISTED_PLANS:
        listed = GovernmentAccount(contract=contract, account=account,
                                   kind=LISTED_PLANS[plan.code])
        _record(listed, actor=actor, reason=reason or _("Added to the contract's list"))
        listed.save()
    return subscription


# Government plans whose accounts are listed per contract term (renewal lists, civil-servant
# counts).
LISTED_PLANS = {Plan.Code.GOV_SUB: GovernmentAccount.Kind.SUB_ACCOUNTS,
                Plan.Code.GOV_CIVIL: GovernmentAccount.Kind.CIVIL_SERVANTS}


def _check_target_friends(target_friends: int | None) -> None:
    """A sub-account qualifies with at most 5,000 target friends (docs/billing.md#government-plans); the number must be
    stated to be checked."""
    if target_friends is None:
        raise BillingError(_("State the sub-account's number of target friends (at most "
                             "%(max)s).") % {"max": count_text(SUB_ACCOUNT_MAX_FRIENDS)},
                           field="target_friends")
    if target_friends > SUB_ACCOUNT_MAX_FRIENDS:
        raise BillingError(_("A government sub-account may have at most %(max)s target "
                             "friends.") % {"max": count_text(SUB_ACCOUNT_MAX_FRIENDS)},
                           field="target_friends")


def _require_purchase_details(customer: BillingCustomer, plan: Plan) -> None:
    """A paid Official Account plan is bought by card or LINE Pay with e-invoice details."""
    if plan.is_government or not plan.monthly_fee:
        return
    problems = []
    if not customer.has_payment_method:
        problems.append(_("Register a credit card or LINE Pay as the payment method first."))
    if not customer.has_invoice_info:
        problems.append(_("Register the e-invoice information first."))
    if problems:
        raise PlanChangeRefused(_("This plan cannot be bought yet."), details=problems,
                                field="customer")


def _roll_forward(subscription: Subscription, period: date, actor) -> None:
    """Apply a scheduled downgrade whose month has come (the ledger already counts it)."""
    if subscription.scheduled_from and subscription.scheduled_from <= period:
        subscription.plan_id = subscription.scheduled_plan_id
        subscription.scheduled_plan = None
        subscription.scheduled_from = None
        _record(subscription, actor=actor, reason=_("Scheduled downgrade took effect"))
        subscription.save(update_fields=["plan", "scheduled_plan", "scheduled_from",
                                         "updated_at"])


@transaction.atomic
def subscription_change_plan(*, subscription_id: int, plan_code: str, actor,
                             at: datetime | None = None, promotion_code: str = "",
                             reason: str = "") -> PlanChange | None:
    """Change an Official Account's plan (docs/billing.md#plans-quotas-and-message-counting).

    Upgrades (Light → Medium or High, Medium → High) take effect at once in the current LINE
    month and cost the difference of the monthly fees (no proration); the new plan's full free
    quota applies. Downgrades take effect on the 1st of next month. A promotion code may pay for
    an upgrade. Government plans never change during their term. Returns the ledger row, or
    ``None`` when the plan already is ``plan_code`` with nothing scheduled."""
    _require(actor, "change_subscription")
    return _change_plan(subscription_id=subscription_id, plan_code=plan_code, actor=actor,
                        at=at, promotion_code=promotion_code, reason=reason)


def _change_plan(*, subscription_id: int, plan_code: str, actor, at: datetime | None,
                 promotion_code: str, reason: str) -> PlanChange | None:
    """The plan change itself, for a caller that has checked the actor's right (staff here,
    an account's administrator in ``billing.selfservice``); runs in the caller's
    transaction."""
    at = at or timezone.now()
    period = periods.line_period(at)
    subscription = (Subscription.objects.select_for_update().select_related("customer")
                    .get(pk=subscription_id))
    _refuse_invoiced_month(subscription, period)
    _roll_forward(subscription, period, actor)
    target = Plan.objects.get(code=plan_code)
    current = selectors.plan_in_effect(account_id=subscription.account_id, period=period)
    if current is None:
        raise PlanChangeRefused(_("This subscription has not started yet."))
    if current.is_government or target.is_government:
        raise PlanChangeRefused(_("A government plan cannot change during its term."))
    scheduled = subscription.changes.filter(kind=PlanChange.Kind.DOWNGRADE, period__gt=period)
    if target.pk == current.pk:
        if not scheduled.exists():
            return None
        scheduled.delete()  # keeping the current plan cancels a downgrade not yet in effect
        subscription.scheduled_plan = subscription.scheduled_from = None
        _record(subscription, actor=actor, reason=reason or _("Scheduled downgrade cancelled"))
        subscription.save(update_fields=["scheduled_plan", "scheduled_from", "updated_at"])
        return None
    if target.rank > current.rank:
        _require_purchase_details(subscription.customer, target)
        change = PlanChange(subscription=subscription, kind=PlanChange.Kind.UPGRADE,
                            from_plan=current, to_plan=target, period=period,
                            charge=pricing.upgrade_charge(from_fee=current.monthly_fee,
                                                          to_fee=target.monthly_fee),
                            created_by=actor, reason=reason)
        if promotion_code:
            code = _promotion_code_redeem(code=promotion_code, subscription=subscription,
                                          from_plan=current.code, to_plan=target.code,
                                          charge=change.charge, on=periods.line_day(at),
                                          actor=actor)
            change.promotion_code, change.deducted = code, code.deducted
        scheduled.delete()
        change.save()
        subscription.plan = target
        subscription.scheduled_plan = subscription.scheduled_from = None
        _record(subscription, actor=actor, reason=reason or _("Upgraded to %(plan)s")
                % {"plan": target})
        subscription.save(update_fields=["plan", "scheduled_plan", "scheduled_from",
                                         "updated_at"])
        return change
    if promotion_code:
        raise PromotionCodeRefused(_("A promotion code pays only for an upgrade or a Medium or "
                                     "High renewal."))
    starts = periods.next_period(period)
    existing = scheduled.filter(period=starts, to_plan=target).first()
    if existing is not None:
        return existing
    scheduled.delete()
    change = PlanChange.objects.create(subscription=subscription,
                                       kind=PlanChange.Kind.DOWNGRADE, from_plan=current,
                                       to_plan=target, period=starts, created_by=actor,
                                       reason=reason)
    subscription.scheduled_plan, subscription.scheduled_from = target, starts
    _record(subscription, actor=actor, reason=reason or _("Downgrade to %(plan)s scheduled")
            % {"plan": target})
    subscription.save(update_fields=["scheduled_plan", "scheduled_from", "updated_at"])
    return change


def _refuse_invoiced_month(subscription: Subscription, period: date) -> None:
    """A plan change dated in a month already invoiced would never be billed: refused, with
    the reason (docs/billing.md)."""
    if Invoice.objects.filter(customer_id=subscription.customer_id, period=period).exists():
        raise PlanChangeRefused(
            _("%(period)s is already invoiced for this customer; a plan change cannot be dated "
              "in it. Change the plan from the current month, or correct the invoice with a "
              "credit or debit note.") % {"period": periods.period_label(period)})


# --- Usage and quota --------------------------------------------------------------------------


def quota_check(*, account_id: int, recipients: int, sent_at: datetime,
                kind: str = UsageRecord.Kind.BROADCAST,
                cap: int | None = None) -> selectors.Quota:
    """Refuse a send that would pass the account's limit this LINE month (see the module
    docstring). Returns the quota before the send."""
    if recipients < 0:
        raise BillingError(_("A send cannot have a negative number of messages."))
    current = selectors.quota(account_id=account_id, at=sent_at)
    if current.plan is None:
        raise BillingError(_("This Official Account has no plan; it cannot send messages."))
    if current.suspended:
        raise AccountSuspended(_("This Official Account is suspended; it cannot send "
                                 "messages."))
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


def usage_record(*, account_id: int, kind: str, recipients: int, sent_at: datetime,
                 sends: int = 1, bubbles: int = 1, dedupe_key: str | None = None) -> UsageRecord:
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
        plan = selectors.plan_in_effect(account_id=account_id,
                                        period=periods.line_period(sent_at))
        if plan is None or plan.code not in Plan.GOVERNMENT_MAIN_PLANS:
            raise BillingError(_("Only a government main account may send free disaster-relief "
                                 "messages, with LINE's approval."))
    if dedupe_key:
        found = UsageRecord.objects.filter(account_id=account_id, dedupe_key=dedupe_key).first()
        if found is not None:
            return found
    day = periods.line_day(sent_at)
    record = UsageRecord(account_id=account_id, kind=kind, recipients=recipients, sends=sends,
                         bubbles=bubbles, sent_at=sent_at, line_day=day,
                         period=periods.period_of(day),
                         dedupe_key=dedupe_key or None)
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        if not dedupe_key:
            raise
        return UsageRecord.objects.get(account_id=account_id, dedupe_key=dedupe_key)
    return record


def usage_send(*, account_id: int, kind: str, recipients: int, sent_at: datetime,
               cap: int | None = None, bubbles: int = 1,
               dedupe_key: str | None = None) -> UsageRecord:
    """Check the quota and record the send as one step, locked per account: the account's
    subscription row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises
    writers anyway), so concurrent sends at the quota's edge never record past it. ``cap`` (a
    broadcast's ``limit.max``) is applied here, to what is recorded. A retry with the same
    ``dedupe_key`` returns the send already recorded (docs/reliability.md)."""
    with transaction.atomic():
        if not Subscription.objects.select_for_update().filter(account_id=account_id).exists():
            raise BillingError(_("This Official Account has no plan; it cannot send messages."))
        if dedupe_key:
            found = UsageRecord.objects.filter(account_id=account_id,
                                               dedupe_key=dedupe_key).first()
            if found is not None:
                return found
        quota_check(account_id=account_id, recipients=recipients, sent_at=sent_at, kind=kind,
                    cap=cap)
        return usage_record(account_id=account_id, kind=kind,
                            recipients=recipients if cap is None else min(recipients, cap),
                            sent_at=sent_at, bubbles=bubbles, dedupe_key=dedupe_key)


# --- Promotion codes --------------------------------------------------------------------------


def promotion_code_create(*, code: str, valid_from: date, valid_until: date, actor,
                          face_value: Decimal = pricing.PROMOTION_FACE_VALUE) -> PromotionCode:
    _require(actor, "add_promotioncode")
    code = code.strip().upper()
    if not code:
        raise PromotionCodeRefused(_("A promotion code needs a code."), field="code")
    if valid_until < valid_from:
        raise PromotionCodeRefused(_("A promotion code cannot expire before it is valid."),
                                   field="valid_until")
    obj = PromotionCode(code=code, valid_from=valid_from, valid_until=valid_until,
                        face_value=face_value)
    _record(obj, actor=actor, reason=_("Created"))
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise PromotionCodeRefused(_("This promotion code already exists."),
                                   field="code") from exc
    return obj


CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by hand


def promotion_code_batch_create(*, count: int, valid_from: date, valid_until: date, actor,
                                prefix: str = "") -> list[PromotionCode]:
    """Create ``count`` random one-use codes (face value 1,200) in one insert, with history."""
    import secrets

    from simple_history.utils import bulk_create_with_history

    _require(actor, "add_promotioncode")
    if not 1 <= count <= 10_000:
        raise PromotionCodeRefused(_("A batch holds 1 to 10,000 codes."), field="count")
    if valid_until < valid_from:
        raise PromotionCodeRefused(_("A promotion code cannot expire before it is valid."),
                                   field="valid_until")
    prefix = prefix.strip().upper()[:12]
    codes = set()
    while len(codes) < count:
        codes.add(prefix + "".join(secrets.choice(CODE_ALPHABET) for _i in range(12)))
    objs = [PromotionCode(code=code, valid_from=valid_from, valid_until=valid_until)
            for code in sorted(codes)]
    with transaction.atomic():
        return bulk_create_with_history(objs, PromotionCode, default_user=actor,
                                        default_change_reason=_("Created in a batch"))


def _customer_problems(customer: BillingCustomer) -> list[str]:
    problems = []
    if customer.country != "TW":
        problems.append(_("Promotion codes are for Taiwan brand owners."))
    if not customer.has_payment_method:
        problems.append(_("Register a credit card or LINE Pay as the payment method first."))
    if not customer.has_invoice_info:
        problems.append(_("Register the e-invoice information first."))
    return problems


def _usable_code(*, code: str, subscription: Subscription, on: date,
                 registered_ok: bool = False) -> PromotionCode:
    obj = PromotionCode.objects.select_for_update().filter(code=code.strip().upper()).first()
    if obj is None:
        raise PromotionCodeRefused(_("This promotion code does not exist."),
                                   field="promotion_code")
    usable = {PromotionCode.Status.AVAILABLE}
    if registered_ok:
        usable.add(PromotionCode.Status.REGISTERED)
    if obj.status not in usable or (obj.subscription_id not in (None, subscription.pk)):
        raise PromotionCodeRefused(_("This promotion code has already been used."),
                                   field="promotion_code")
    if not obj.valid_from <= on <= obj.valid_until:
        raise PromotionCodeRefused(_("This promotion code is not valid on %(day)s.")
                                   % {"day": on}, field="promotion_code")
    problems = _customer_problems(subscription.customer)
    if problems:
        raise PromotionCodeRefused(_("This promotion code cannot be used."), details=problems,
                                   field="promotion_code")
    return obj


def _promotion_code_redeem(*, code: str, subscription: Subscription, from_plan: str | None,
                           to_plan: str, charge: Decimal, on: date, actor) -> PromotionCode:
    obj = _usable_code(code=code, subscription=subscription, on=on, registered_ok=True)
    deduction = pricing.promotion_deduction(from_plan=from_plan, to_plan=to_plan, charge=charge,
                                            face_value=obj.face_value)
    if deduction is None:
        raise PromotionCodeRefused(_("A promotion code pays only for an upgrade to Medium or "
                                     "High or a Medium or High renewal."))
    obj.status = PromotionCode.Status.REDEEMED
    obj.subscription = subscription
    obj.redeemed_at = timezone.now()
    obj.redeemed_for = f"{from_plan or 'renewal'}→{to_plan}"
    obj.deducted, obj.forfeited = deduction.deducted, deduction.forfeited
    _record(obj, actor=actor, reason=_("Redeemed"))
    obj.save()
    return obj


@transaction.atomic
def promotion_code_register(*, code: str, subscription_id: int, actor,
                            on: date | None = None) -> PromotionCode:
    """Register a code for the subscription's next automatic renewal charge (Medium or High);
    month-end billing deducts it (Medium 800, 400 forfeited; High 1,200)."""
    _require(actor, "change_promotioncode")
    return _promotion_code_register(code=code, subscription_id=subscription_id, actor=actor,
                                    on=on)


def _promotion_code_register(*, code: str, subscription_id: int, actor,
                             on: date | None) -> PromotionCode:
    subscription = Subscription.objects.select_related("customer", "plan").get(
        pk=subscription_id)
    on = on or periods.line_day(timezone.now())
    plan = selectors.plan_in_effect(account_id=subscription.account_id,
                                    period=periods.period_of(on))
    obj = _usable_code(code=code, subscription=subscription, on=on)
    if plan is None or (None, plan.code) not in pricing.PROMOTION_CASES:
        raise PromotionCodeRefused(_("A promotion code pays only for an upgrade to Medium or "
                                     "High or a Medium or High renewal."))
    if obj.status == PromotionCode.Status.REGISTERED:
        return obj
    obj.status, obj.subscription = PromotionCode.Status.REGISTERED, subscription
    _record(obj, actor=actor, reason=_("Registered for the next renewal"))
    obj.save()
    return obj


# --- Government contracts ---------------------------------------------------------------------


@transaction.atomic
def government_contract_create(*, customer_id: int, plan_code: str, main_account_id: int,
                               starts_on: date, ends_on: date, actor,
                               reason: str = "") -> GovernmentContract:
    """A government main-plan contract; its main account goes onto the plan at its start.

    The term is charged by whole years (one at least) in the month it starts."""
    _require(actor, "add_governmentcontract")
    plan = Plan.objects.get(code=plan_code)
    if plan.code not in Plan.GOVERNMENT_MAIN_PLANS:
        raise BillingError(_("A government contract is on plan A or plan B."), field="plan")
    if ends_on <= starts_on:
        raise BillingError(_("The term must end after it starts."), field="ends_on")
    if (plan.sold_from and starts_on < plan.sold_from) or (plan.sold_until
                                                           and starts_on > plan.sold_until):
        raise BillingError(_("This plan is for contracts starting from %(start)s to %(end)s.")
                           % {"start": plan.sold_from, "end": plan.sold_until},
                           field="starts_on")
    contract = GovernmentContract(customer_id=customer_id, plan=plan,
                                  main_account_id=main_account_id, starts_on=starts_on,
                                  ends_on=ends_on)
    _record(contract, actor=actor, reason=reason or _("Contract signed"))
    contract.save()
    subscription = Subscription.objects.select_for_update().filter(
        account_id=main_account_id).first()
    if subscription is None:
        subscription_create(account_id=main_account_id, customer_id=customer_id,
                            plan_code=plan.code, contract_id=contract.pk, started_on=starts_on,
                            actor=actor, reason=reason)
    else:
        previous = subscription.plan
        subscription.plan, subscription.contract = plan, contract
        subscription.customer_id = customer_id
        subscription.chat_advanced, subscription.premium_id_since = False, None
        subscription.scheduled_plan = subscription.scheduled_from = None
        _record(subscription, actor=actor, reason=reason or _("Government contract"))
        subscription.save()
        # A downgrade scheduled under the old plan never takes effect now.
        subscription.changes.filter(kind=PlanChange.Kind.DOWNGRADE,
                                    period__gte=periods.period_of(starts_on)).delete()
        PlanChange.objects.create(subscription=subscription, kind=PlanChange.Kind.START,
                                  from_plan=previous, to_plan=plan,
                                  period=periods.period_of(starts_on), created_by=actor,
                                  reason=reason)
    return contract


@transaction.atomic
def government_block_add(*, contract_id: int, kind: str, accounts: int, purchased_on: date,
                         actor) -> GovernmentBlock:
    """Buy sub-account or civil-servant accounts: billed by blocks of 10 for a full year in the
    month of purchase, ending with the main term."""
    _require(actor, "add_governmentblock")
    contract = GovernmentContract.objects.select_for_update().get(pk=contract_id)
    if kind not in GovernmentBlock.Kind.values:
        raise BillingError(_("Unknown kind of block."), field="kind")
    if kind == GovernmentBlock.Kind.CIVIL_SERVANTS:
        raise BillingError(_("Civil-servant blocks are counted from the accounts that ever "
                             "completed verification, not entered by hand: add the accounts "
                             "to the contract (civil-servant plan) and record their "
                             "verification."), field="kind")
    if accounts < 1:
        raise BillingError(_("A block purchase needs at least one account."), field="accounts")
    if not contract.starts_on <= purchased_on <= contract.ends_on:
        raise BillingError(_("Blocks can be added only during the main contract's term."),
                           field="purchased_on")
    block = GovernmentBlock(contract=contract, kind=kind, accounts=accounts,
                            purchased_on=purchased_on)
    _record(block, actor=actor, reason=_("Blocks purchased"))
    block.save()
    return block


@transaction.atomic
def government_account_verify(*, listed_account_id: int, verified_at: datetime, actor,
                              reason: str = "") -> GovernmentAccount:
    """Record that a listed account completed verification. Only the first time counts and it
    is never cleared (suspension or leaving does not undo it): civil-servant blocks are billed
    from these accounts. A repeated call changes nothing."""
    _require(actor, "change_governmentaccount")
    listed = GovernmentAccount.objects.select_for_update().get(pk=listed_account_id)
    if listed.first_verified_at is not None:
        return listed
    if timezone.is_naive(verified_at):
        raise BillingError(_("A verification time needs its time zone."))
    listed.first_verified_at = verified_at
    _record(listed, actor=actor, reason=reason or _("Verification completed"))
    listed.save(update_fields=["first_verified_at"])
    return listed


@transaction.atomic
def subscription_suspend(*, subscription_id: int, actor, reason: str,
                         at: datetime | None = None) -> Subscription:
    """Suspend an Official Account (e.g. a civil servant who left, or an account not deleted
    after its government term): it can no longer send. On a government list it still counts.
    A reason is required; suspending twice changes nothing."""
    _require(actor, "change_subscription")
    reason = (reason or "").strip()
    if not reason:
        raise BillingError(_("A suspension needs a reason."))
    subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
    if subscription.suspended_at is not None:
        return subscription
    subscription.suspended_at = at or timezone.now()
    _record(subscription, actor=actor, reason=reason)
    subscription.save(update_fields=["suspended_at", "updated_at"])
    return subscription


@transaction.atomic
def government_renewal_submit(*, contract_id: int, kept_account_ids: Iterable[int],
                              submitted_on: date, actor, next_contract_id: int | None = None,
                              reason: str = "") -> GovernmentRenewal:
    """Record the renewal list of a contract term: the listed accounts (``lbm.Account`` ids)
    kept for the next term. Every other listed account is flagged to be deleted by the agency
    within the deletion window (``selectors.deletion_window``). The list may be resubmitted
    until the term ends.

    With ``next_contract_id`` (the next term of the same customer and main account), the kept
    accounts are listed on it, with their first verification, and their subscriptions move to
    it. Raises ``BillingError``."""
    _require(actor, "add_governmentrenewal")
    contract = GovernmentContract.objects.select_for_update().get(pk=contract_id)
    if submitted_on > contract.ends_on:
        raise BillingError(_("The renewal list must be submitted before the term ends "
                             "(%(end)s).") % {"end": contract.ends_on})
    listed = {row.account_id: row for row in
              GovernmentAccount.objects.select_for_update().filter(contract=contract)}
    kept = set(kept_account_ids)
    unknown = kept - set(listed)
    if unknown:
        raise BillingError(_("Only accounts listed on this term can be renewed; not listed: "
                             "%(ids)s.") % {"ids": ", ".join(str(i) for i in sorted(unknown))})
    next_contract = None
    if next_contract_id is not None:
        next_contract = GovernmentContract.objects.select_for_update().get(pk=next_contract_id)
        if (next_contract.customer_id, next_contract.main_account_id) != (
                contract.customer_id, contract.main_account_id) \
                or next_contract.starts_on <= contract.ends_on:
            raise BillingError(_("The next term must be a later contract of the same agency "
                                 "and main account."))
    renewal = GovernmentRenewal.objects.filter(contract=contract).first()
    if renewal is None:
        renewal = GovernmentRenewal(contract=contract)
    renewal.submitted_on, renewal.next_contract = submitted_on, next_contract
    _record(renewal, actor=actor, reason=reason or _("Renewal list submitted"))
    renewal.save()
    for account_id, row in listed.items():
        keep = account_id in kept
        if row.kept_on_renewal is not keep:
            row.kept_on_renewal = keep
            _record(row, actor=actor, reason=reason or (_("Kept on the renewal list") if keep
                                                        else _("Not renewed: to be deleted")))
            row.save(update_fields=["kept_on_renewal"])
    if next_contract is not None:
        already = set(GovernmentAccount.objects.filter(contract=next_contract)
                      .values_list("account_id", flat=True))
        for account_id in sorted(kept - already):
            row = listed[account_id]
            copy = GovernmentAccount(contract=next_contract, account_id=account_id,
                                     kind=row.kind, first_verified_at=row.first_verified_at)
            _record(copy, actor=actor, reason=reason or _("Renewed"))
            copy.save()
        for subscription in Subscription.objects.select_for_update().filter(
                account_id__in=kept, contract=contract):
            subscription.contract = next_contract
            _record(subscription, actor=actor, reason=reason or _("Renewed"))
            subscription.save(update_fields=["contract", "updated_at"])
    return renewal


@transaction.atomic
def government_account_mark_deleted(*, listed_account_id: int, deleted_on: date, actor,
                                    reason: str = "") -> GovernmentAccount:
    """Record that the agency deleted a listed account it did not renew (reported by the
    reseller). A kept account is not deleted; a repeated call changes nothing."""
    _require(actor, "change_governmentaccount")
    listed = GovernmentAccount.objects.select_for_update().select_related("contract").get(
        pk=listed_account_id)
    if listed.deleted_on is not None:
        return listed
    if listed.kept_on_renewal:
        raise BillingError(_("This account is on the renewal list; it is not to be deleted."))
    listed.deleted_on = deleted_on
    _record(listed, actor=actor, reason=reason or _("Deleted by the agency"))
    listed.save(update_fields=["deleted_on"])
    return listed


@transaction.atomic
def government_term_close(*, contract_id: int, actor, plan_code: str = Plan.Code.LIGHT,
                          suspend: bool = False, today: date | None = None,
                          reason: str = "") -> list[Subscription]:
    """After a term ends, the listed accounts that were not renewed and not deleted leave the
    government plan: from the first billing month after the term's last day they are billed on
    the Official Account plan ``plan_code`` (normal message rates, docs/billing.md#government-plans), billed to the
    same customer, and are suspended too if ``suspend``. Returns the subscriptions moved;
    running it again moves nothing. Raises ``BillingError`` before the term has ended."""
    _require(actor, "change_subscription")
    contract = GovernmentContract.objects.select_for_update().get(pk=contract_id)
    today = today or workdays.taipei_today()
    if today <= contract.ends_on:
        raise BillingError(_("The agency may delete accounts until the term ends on %(end)s; "
                             "close the term after that day.") % {"end": contract.ends_on})
    target = Plan.objects.get(code=plan_code)
    if target.is_government:
        raise BillingError(_("Accounts leaving a government plan go onto a normal Official "
                             "Account plan."))
    starts = periods.next_period(periods.period_of(contract.ends_on))
    remaining = (GovernmentAccount.objects.filter(contract=contract, deleted_on__isnull=True)
                 .exclude(kept_on_renewal=True).values_list("account_id", flat=True))
    moved = []
    for subscription in (Subscription.objects.select_for_update().select_related("plan")
                         .filter(account_id__in=list(remaining), contract=contract)
                         .order_by("pk")):
        previous = subscription.plan
        PlanChange.objects.create(subscription=subscription, kind=PlanChange.Kind.START,
                                  from_plan=previous, to_plan=target, period=starts,
                                  created_by=actor,
                                  reason=reason or _("Not renewed and not deleted by the end "
                                                     "of the government term"))
        subscription.plan, subscription.contract = target, None
        fields = ["plan", "contract", "updated_at"]
        if suspend and subscription.suspended_at is None:
            subscription.suspended_at = timezone.now()
            fields.append("suspended_at")
        _record(subscription, actor=actor, reason=reason or _(
            "Government term ended: billed on %(plan)s") % {"plan": target})
        subscription.save(update_fields=fields)
        moved.append(subscription)
    return moved


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
        return {"period": periods.period_label(self.period),
                "invoices_created": self.invoices_created,
                "invoices_existing": self.invoices_existing,
                "amount_invoiced": str(self.amount_invoiced), "seconds": round(self.seconds, 3),
                "run_id": self.run_id}


def bill_month(*, period: date, actor=None, triggered_by: str = "",
               now: datetime | None = None) -> BillingResult:
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
            _("%(period)s can be billed from %(when)s (Japan time), 24 hours after the month "
              "ends.") % {"period": periods.period_label(period),
                          "when": periods.period_closes_at(period).strftime("%Y-%m-%d %H:%M")})
    before_billing.send(sender=bill_month, period=period)
    started = time.monotonic()
    run = BillingRun.objects.create(period=period, started_at=now,
                                    triggered_by=triggered_by or (str(actor) if actor else ""))
    try:
        drafts = _drafts(period)
        _check_numbers(drafts)
        created, existing, amount = _issue(drafts, period=period, run=run)
        late_usage_bill(before=period)
    except Exception as exc:
        BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.FAILED,
                                                    finished_at=timezone.now(),
                                                    error=repr(exc)[:2000])
        raise
    BillingRun.objects.filter(pk=run.pk).update(
        status=BillingRun.Status.DONE, finished_at=timezone.now(), invoices_created=created,
        invoices_existing=existing)
    return BillingResult(period=period, invoices_created=created, invoices_existing=existing,
                         amount_invoiced=amount, seconds=time.monotonic() - started,
                         run_id=run.pk)


def _check_numbers(drafts: dict[int, Draft]) -> None:
    """Stop the run before anything is issued when the tracks cannot number every invoice."""
    needed = sum(1 for d in drafts.values() if _totals(d).total > 0)
    bimonth = einvoice.bimonth_of_moment(timezone.now())
    left = einvoice.available(bimonth=bimonth)
    if needed > left:
        raise einvoice.NumbersExhausted(einvoice.exhausted_message(bimonth=bimonth,
                                                                   needed=needed, left=left))


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
    subscriptions = list(Subscription.objects.filter(started_on__lt=following)
                         .exclude(customer_id__in=invoiced).values_list(
                             "pk", "account_id", "customer_id", "chat_advanced",
                             "premium_id_since"))
    # The plan ledger up to the period: opening plan, the period's upgrades, closing plan.
    ledger = defaultdict(list)
    for row in (PlanChange.objects.filter(period__lte=period)
                .exclude(subscription__customer_id__in=invoiced)
                .order_by("subscription_id", "period", "pk")
                .values_list("subscription_id", "kind", "from_plan_id", "to_plan_id", "period",
                             "charge", "deducted", "promotion_code_id",
                             "promotion_code__code")):
        ledger[row[0]].append(row[1:])
    usage = {row[0]: row[1:] for row in UsageRecord.objects.filter(period=period)
             .exclude(account__subscription__customer_id__in=invoiced)
             .values("account_id").order_by()
             .annotate(messages=Sum("recipients", filter=Q(kind__in=UsageRecord.QUOTA_KINDS)),
                       sends=Sum("sends", filter=Q(kind__in=UsageRecord.SEND_KINDS)),
                       notices=Sum("recipients",
                                   filter=Q(kind=UsageRecord.Kind.NOTIFICATION)))
             .values_list("account_id", "messages", "sends", "notices")}
    renewal_codes = {}
    eligible = BillingCustomer.objects.filter(
        country="TW", payment_method__in=[BillingCustomer.PaymentMethod.CREDIT_CARD,
                                          BillingCustomer.PaymentMethod.LINE_PAY],
    ).exclude(invoice_title="").filter(~Q(business_number="") | ~Q(invoice_carrier="")
                                       | ~Q(donation_code=""))
    # A renewal is charged for the month when it closes: the code must be valid on the
    # month's last day (the day of the charge), not merely on its first (docs/billing.md).
    charge_day = periods.period_days(period)[-1]
    for code in PromotionCode.objects.filter(
            status=PromotionCode.Status.REGISTERED, valid_from__lte=charge_day,
            valid_until__gte=charge_day, subscription__customer__in=eligible).order_by("pk"):
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
            plan = plans[opening]
            if plan.monthly_fee:
                d.add(account_id=account_id, kind=InvoiceLine.Kind.MONTHLY_FEE,
                      description=_("Monthly fee, %(plan)s") % {"plan": plan},
                      amount=plan.monthly_fee, tax_included=plan.tax_included)
                code = renewal_codes.get(sub_id)
                deduction = code and pricing.promotion_deduction(
                    from_plan=None, to_plan=plan.code, charge=plan.monthly_fee,
                    face_value=code.face_value)
                if deduction:
                    d.add(account_id=account_id, kind=InvoiceLine.Kind.PROMOTION,
                          description=_("Promotion code %(code)s (renewal; %(forfeited)s "
                                        "forfeited)") % {"code": code.code,
                                                         "forfeited": deduction.forfeited},
                          amount=-deduction.deducted, promotion_code_id=code.pk)
                    d.renewal_codes.append((code.pk, deduction))
        for from_id, to_id, charge, deducted, code_id, code in upgrades:
            d.add(account_id=account_id, kind=InvoiceLine.Kind.UPGRADE,
                  description=_("Upgrade %(from)s → %(to)s") % {"from": plans[from_id],
                                                                "to": plans[to_id]},
                  amount=charge)
            if deducted:
                d.add(account_id=account_id, kind=InvoiceLine.Kind.PROMOTION,
                      description=_("Promotion code %(code)s") % {"code": code},
                      amount=-deducted, promotion_code_id=code_id)
        plan = plans[closing]
        messages, sends, notices = usage.get(account_id, (0, 0, 0))
        used = (sends or 0) if plan.counting == Plan.Counting.SENDS else (messages or 0)
        extra = pricing.overage_charge(messages=used, free=plan.free_messages,
                                       rule=plan.overage, tiers=tiers.get(plan.pk, ()),
                                       unit_price=plan.overage_unit_price)
        if extra:
            d.add(account_id=account_id,
                  kind=(InvoiceLine.Kind.GOVERNMENT_EXTRA if plan.is_government
                        else InvoiceLine.Kind.EXTRA_MESSAGES),
                  description=_("%(count)s messages on %(plan)s, %(free)s free")
                  % {"count": used, "plan": plan, "free": plan.free_messages},
                  quantity=used, amount=extra, tax_included=plan.tax_included)
        if notices:
            d.add(account_id=account_id, kind=InvoiceLine.Kind.NOTIFICATIONS,
                  description=_("%(count)s delivered notification messages × %(price)s")
                  % {"count": notices, "price": pricing.NOTIFICATION_UNIT_PRICE},
                  quantity=notices, amount=notices * pricing.NOTIFICATION_UNIT_PRICE)
        if not plan.includes_add_ons:
            if chat_advanced:
                d.add(account_id=account_id, kind=InvoiceLine.Kind.CHAT_ADVANCED,
                      description=_("Chat advanced plan"), amount=add_on_price("chat_advanced"))
            if premium_since and premium_since.month == period.month and \
                    periods.period_of(premium_since) <= period:
                d.add(account_id=account_id, kind=InvoiceLine.Kind.PREMIUM_ID,
                      description=_("Premium ID, one year"), amount=add_on_price("premium_id"))

    for contract in GovernmentContract.objects.filter(
            starts_on__gte=period, starts_on__lt=following).exclude(
            customer_id__in=invoiced).select_related("plan"):
        years = pricing.contract_years(contract.starts_on, contract.ends_on)
        draft(contract.customer_id).add(
            account_id=contract.main_account_id, kind=InvoiceLine.Kind.GOVERNMENT_PLAN,
            description=_("%(plan)s, %(start)s to %(end)s (%(years)s year(s))")
            % {"plan": contract.plan, "start": contract.starts_on, "end": contract.ends_on,
               "years": years},
            quantity=years, amount=contract.plan.yearly_fee * years, tax_included=True,
            contract_id=contract.pk)
    by_code = {plan.code: plan for plan in plans.values()}
    # Sub-account blocks: bought by hand, billed in the month of purchase for the whole years
    # left until the main term ends (a mid-term purchase pays the full block price).
    sub_plan = by_code.get(Plan.Code.GOV_SUB)
    for block in GovernmentBlock.objects.filter(
            kind=GovernmentBlock.Kind.SUB_ACCOUNTS, purchased_on__gte=period,
            purchased_on__lt=following).exclude(
            contract__customer_id__in=invoiced).select_related("contract"):
        count = pricing.blocks(block.accounts)
        years = pricing.contract_years(block.purchased_on, block.contract.ends_on)
        draft(block.contract.customer_id).add(
            account_id=None, kind=InvoiceLine.Kind.GOVERNMENT_BLOCKS,
            description=_("%(kind)s: %(accounts)s accounts billed as %(blocks)s block(s) of 10, "
                          "until %(end)s") % {"kind": block.get_kind_display(),
                                              "accounts": block.accounts, "blocks": count,
                                              "end": block.contract.ends_on},
            quantity=count, amount=sub_plan.yearly_fee * count * years,
            tax_included=sub_plan.tax_included, contract_id=block.contract_id)
    _civil_servant_blocks(period, plan=by_code.get(Plan.Code.GOV_CIVIL), invoiced=invoiced,
                          draft=draft)
    return {cid: d for cid, d in drafts.items() if any(line.amount for line in d.lines)}


def _civil_servant_blocks(period: date, *, plan: Plan, invoiced, draft) -> None:
    """Civil-servant blocks of every contract term running in ``period``, derived from the
    accounts that ever completed verification by the period's end (suspended ones included):
    blocks due (by tens, fewer than 10 → 10) less blocks already invoiced for the term. Each
    increase pays the full yearly block price for the whole years left until the main term
    ends, on the untaxed 5,714 per block so that tax is added once on the customer's sum (seed
    004). Three queries whatever the number of contracts."""
    following = periods.next_period(period)
    ends = periods.period_end(period)
    contracts = {c.pk: c for c in GovernmentContract.objects.filter(
        starts_on__lt=following, ends_on__gte=period).exclude(customer_id__in=invoiced)}
    if not contracts:
        return
    verified = dict(GovernmentAccount.objects.filter(
        contract_id__in=list(contracts), kind=GovernmentAccount.Kind.CIVIL_SERVANTS,
        first_verified_at__lt=ends).values("contract_id").order_by()
        .annotate(n=Count("pk")).values_list("contract_id", "n"))
    billed = selectors.blocks_billed(contract_ids=list(verified),
                                     kind=InvoiceLine.Kind.CIVIL_SERVANT_BLOCKS)
    for contract_id, count in sorted(verified.items()):
        contract = contracts[contract_id]
        due = selectors.civil_servant_blocks_due(verified=count)
        new = due - billed.get(contract_id, 0)
        if new <= 0:
            continue
        years = pricing.contract_years(max(period, contract.starts_on), contract.ends_on)
        draft(contract.customer_id).add(
            account_id=None, kind=InvoiceLine.Kind.CIVIL_SERVANT_BLOCKS,
            description=_("Civil-servant accounts: %(count)s ever verified, billed as %(due)s "
                          "block(s) of 10 (%(new)s new) at the untaxed %(price)s, until %(end)s")
            % {"count": count, "due": due, "new": new, "price": plan.yearly_fee,
               "end": contract.ends_on},
            quantity=new, amount=plan.yearly_fee * new * years, tax_included=plan.tax_included,
            contract_id=contract_id)


def _issue(drafts: dict[int, Draft], *, period: date, run: BillingRun
           ) -> tuple[int, int, Decimal]:
    """Write the invoices of ``drafts`` in batches; returns (created, already there, amount)."""
    # ``drafts`` leaves out customers invoiced before this run started; a concurrent run may
    # still issue some of them meanwhile (handled per batch below).
    pending = sorted(drafts)
    created, amount = 0, Decimal("0")
    for start in range(0, len(pending), INVOICE_BATCH):
        batch = pending[start:start + INVOICE_BATCH]
        for _attempt in range(3):
            try:
                n, total = _issue_batch([drafts[cid] for cid in batch], period=period, run=run)
            except IntegrityError:
                # Another run issued some of these invoices meanwhile: leave those out.
                done = set(Invoice.objects.filter(period=period, customer_id__in=batch)
                           .values_list("customer_id", flat=True))
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
def _issue_batch(drafts: Iterable[Draft], *, period: date, run: BillingRun
                 ) -> tuple[int, Decimal]:
    drafts = list(drafts)
    if not drafts:
        return 0, Decimal("0")
    now = timezone.now()
    invoices = []
    customers = BillingCustomer.objects.in_bulk([d.customer_id for d in drafts])
    totals_of = [_totals(d) for d in drafts]
    # Locks the period's tracks: concurrent runs number their batches one after the other, and
    # a batch rolled back gives its numbers back (no gap).
    numbers = iter(einvoice.allocate(bimonth=einvoice.bimonth_of_moment(now),
                                     count=sum(1 for t in totals_of if t.total > 0)))
    for d, totals in zip(drafts, totals_of, strict=True):
        buyer = customers[d.customer_id]
        invoices.append(Invoice(
            customer_id=d.customer_id, period=period, issued_at=now, run=run,
            number=f"INV-{period:%Y%m}-{d.customer_id:08d}", untaxed=totals.untaxed,
            tax=totals.tax, tax_included=totals.tax_included, rounding=totals.rounding,
            total=totals.total, einvoice_number=next(numbers) if totals.total > 0 else None,
            buyer_id=buyer.business_number or einvoice.PERSON_BUYER_ID,
            buyer_name=buyer.invoice_title or buyer.name,
            carrier="" if buyer.business_number else buyer.invoice_carrier,
            donation_code="" if buyer.business_number else buyer.donation_code))
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
            pk__in=code_ids, status=PromotionCode.Status.REGISTERED).update(
            status=PromotionCode.Status.REDEEMED, redeemed_at=now, redeemed_for="renewal",
            deducted=deducted, forfeited=forfeited)
        if changed != len(code_ids):
            raise IntegrityError("a registered promotion code was used meanwhile")
    return len(invoices), sum((i.total for i in invoices), Decimal("0"))


# --- Corrections ------------------------------------------------------------------------------


@transaction.atomic
def credit_note_create(*, invoice_id: int, kind: str, amount: Decimal, reason: str,
                       actor, einvoice_action: str = "") -> CreditNote:
    """Correct an issued invoice with a credit (refund) or debit (extra charge) note. A credit
    cannot exceed what the invoice still bills. Amounts are whole TWD, tax included.

    A credit on an invoice with an e-invoice number is an allowance (折讓) or a void (作廢) of
    that e-invoice (``einvoice_action``; an allowance when not given). A void cancels the whole
    e-invoice: only for the full total, with no earlier credit."""
    _require(actor, "add_creditnote")
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    reason = (reason or "").strip()
    if not reason:
        raise BillingError(_("A credit or debit note needs a reason."), field="reason")
    if kind not in CreditNote.Kind.values:
        raise BillingError(_("Unknown kind of note."), field="kind")
    amount = Decimal(amount)
    if amount <= 0 or amount != amount.to_integral_value():
        raise BillingError(_("The amount must be a positive whole number of TWD."),
                           field="amount")
    figures = selectors.invoice_balance(invoice=invoice)
    balance = figures["balance"]
    if einvoice_action and (kind != CreditNote.Kind.CREDIT or not invoice.einvoice_number):
        raise BillingError(_("Only a credit on an invoice with an e-invoice number is an "
                             "allowance or a void."), field="einvoice_action")
    if kind == CreditNote.Kind.CREDIT and invoice.einvoice_number:
        einvoice_action = einvoice_action or EInvoiceAction.ALLOWANCE
        if einvoice_action not in EInvoiceAction.values:
            raise BillingError(_("An e-invoice is corrected by an allowance or a void."))
        if CreditNote.objects.filter(invoice=invoice,
                                     einvoice_action=EInvoiceAction.VOID).exists():
            raise BillingError(_("This e-invoice is void; it cannot be corrected again."))
        if einvoice_action == EInvoiceAction.VOID and (amount != invoice.total
                                                       or figures["credits"]):
            raise BillingError(_("A void cancels the whole e-invoice: its amount is the "
                                 "invoice total, %(total)s, and no allowance may precede it.")
                               % {"total": invoice.total})
    if kind == CreditNote.Kind.CREDIT and amount > balance:
        raise BillingError(_("A credit of %(amount)s is more than the %(balance)s this invoice "
                             "still bills.") % {"amount": money(amount), "balance": money(balance)},
                           field="amount")
    sequence = CreditNote.objects.filter(invoice=invoice).count() + 1
    prefix = "CN" if kind == CreditNote.Kind.CREDIT else "DN"
    return CreditNote.objects.create(invoice=invoice, kind=kind, amount=amount, reason=reason,
                                     created_by=actor, einvoice_action=einvoice_action,
                                     number=f"{prefix}-{invoice.number[4:]}-{sequence:02d}")


# --- Records that account managers edit in the admin ------------------------------------------


@transaction.atomic
def record_save(*, obj, actor, changed: Iterable[str] = (), reason: str = ""):
    """Save a plan, price tier, add-on price, billing customer or subscription setting edited
    by an account manager, with who and why in its history. Plans of a subscription change only
    through ``subscription_change_plan``; issued documents never. A sub-account keeps at most
    5,000 target friends."""
    model = type(obj)
    if model not in (Plan, PriceTier, AddOnPrice, BillingCustomer, Subscription):
        raise BillingError(_("This record is not edited directly."))
    adding = obj._state.adding
    _require(actor, f"{'add' if adding else 'change'}_{model._meta.model_name}")
    changed = sorted(set(changed))
    if model is Subscription and {"plan", "account", "customer", "contract"} & set(changed):
        raise BillingError(_("Change a plan through a plan change, not by editing it."),
                           field="plan")
    if model is BillingCustomer and (adding or {"business_number", "invoice_title",
                                                 "invoice_carrier", "donation_code"}
                                     & set(changed)):
        check_buyer(business_number=obj.business_number, name=obj.invoice_title,
                    carrier=obj.invoice_carrier, donation_code=obj.donation_code)
    if model is Subscription and "suspended_at" in changed:
        raise BillingError(_("Suspend an account through its suspension, with a reason."),
                           field="suspended_at")
    if model is Subscription and "target_friends" in changed and obj.plan.code == Plan.Code.GOV_SUB:
        _check_target_friends(obj.target_friends)
    if not adding and not changed:
        return obj
    _record(obj, actor=actor, reason=reason or (
        _("Created") if adding else _("Edited: %(fields)s") % {"fields": ", ".join(changed)}))
    obj.save()
    return obj


# --- Usage recorded after its month was invoiced ----------------------------------------------


def late_usage_bill(*, before: date) -> list[CreditNote]:
    """Bill usage recorded after its month's invoice was issued on a debit note of that invoice
    (docs/billing.md): per invoice, the extra messages and notification messages of the usage
    rows recorded after the invoice (or after the last such note), priced as if they had been
    there at issue — the graduated table applies to the month's whole count — plus 5% tax, the
    total rounded once. Run by ``bill_month`` for every month before ``before``; running it
    again bills nothing twice."""
    notes = []
    invoices = "account__subscription__customer__invoices"
    candidates = (UsageRecord.objects.filter(
        period__lt=before, **{f"{invoices}__period": F("period"),
                              f"{invoices}__issued_at__lt": F("created_at")})
        .values_list("account__subscription__customer_id", "period").distinct())
    for customer_id, period in sorted(set(candidates)):
        note = _late_usage_note(customer_id=customer_id, period=period)
        if note is not None:
            notes.append(note)
    return notes


@transaction.atomic
def _late_usage_note(*, customer_id: int, period: date) -> CreditNote | None:
    invoice = Invoice.objects.select_for_update().get(customer_id=customer_id, period=period)
    last = (CreditNote.objects.filter(invoice=invoice, usage_through__isnull=False)
            .order_by("-usage_through").values_list("usage_through", flat=True).first())
    cutoff = last or invoice.issued_at
    rows = UsageRecord.objects.filter(account__subscription__customer_id=customer_id,
                                      period=period)
    late = rows.filter(created_at__gt=cutoff)
    through = late.order_by("-created_at").values_list("created_at", flat=True).first()
    if through is None:
        return None
    tiers = selectors.tier_tables(period=period)
    untaxed = included = Decimal("0")
    parts = []
    for account_id in sorted(set(late.values_list("account_id", flat=True))):
        plan = selectors.plan_in_effect(account_id=account_id, period=period)
        if plan is None:
            continue
        billed, now = (selectors.month_usage(account_id=account_id, period=period,
                                             recorded_until=moment)
                       for moment in (cutoff, through))

        def extra(usage, plan=plan):
            return pricing.overage_charge(messages=selectors.counted(plan, usage),
                                          free=plan.free_messages, rule=plan.overage,
                                          tiers=tiers.get(plan.pk, ()),
                                          unit_price=plan.overage_unit_price)

        messages = extra(now) - extra(billed)
        notices = (now.notifications - billed.notifications) * pricing.NOTIFICATION_UNIT_PRICE
        if plan.tax_included:
            included += messages
        else:
            untaxed += messages
        untaxed += notices
        if messages or notices:
            parts.append(f"{account_id}: {messages + notices}")
    total = pricing.round_twd(untaxed * (1 + pricing.TAX_RATE) + included)
    if total <= 0:
        return None
    sequence = CreditNote.objects.filter(invoice=invoice).count() + 1
    return CreditNote.objects.create(
        invoice=invoice, kind=CreditNote.Kind.DEBIT, amount=total, usage_through=through,
        number=f"DN-{invoice.number[4:]}-{sequence:02d}",
        reason=_("Usage of %(period)s recorded after the invoice was issued (untaxed "
                 "%(untaxed)s, tax-included %(included)s; %(rule)s)")
        % {"period": periods.period_label(period), "untaxed": untaxed, "included": included,
           "rule": pricing.ROUNDING_RULE})


# --- Taiwan e-invoice details and number tracks -----------------------------------------------


@transaction.atomic
def einvoice_track_create(*, period: date, prefix: str, first_number: int, last_number: int,
                          actor) -> EInvoiceTrack:
    """Enter a number track (字軌) for a two-month period: two upper-case letters and a range
    of eight-digit numbers, not overlapping another track of the period."""
    _require(actor, "add_einvoicetrack")
    prefix = (prefix or "").strip().upper()
    if not einvoice.PREFIX_RE.fullmatch(prefix):
        raise BillingError(_("A number track starts with two letters A–Z."), field="prefix")
    if period != einvoice.bimonth_of(period):
        raise BillingError(_("A two-month period starts on the first day of January, March, "
                             "May, July, September or November."), field="period")
    if not 0 <= first_number <= last_number <= 99_999_999:
        raise BillingError(_("The numbers are eight digits and the range must not be empty."),
                           field="last_number")
    if EInvoiceTrack.objects.filter(period=period, prefix=prefix, first_number__lte=last_number,
                                    last_number__gte=first_number).exists():
        raise BillingError(_("This range overlaps a number track already entered."),
                           field="first_number")
    track = EInvoiceTrack(period=period, prefix=prefix, first_number=first_number,
                          last_number=last_number, next_number=first_number, created_by=actor)
    _record(track, actor=actor, reason=_("Number track entered"))
    track.save()
    return track


def check_buyer(*, business_number: str, name: str, carrier: str, donation_code: str,
                form=None) -> None:
    """Validate the e-invoice buyer when any of its details is given (``einvoice``). With a
    ``form`` the problems go onto its fields; otherwise ``BillingError`` names each."""
    from django.core.exceptions import ValidationError

    if not (business_number or carrier or donation_code):
        return  # nothing registered yet: a paid plan then asks for it
    try:
        einvoice.validate_buyer(business_number=business_number, name=name, carrier=carrier,
                                donation_code=donation_code)
    except ValidationError as exc:
        if form is not None:
            for field_name, problems in exc.message_dict.items():
                form.add_error(field_name if field_name in form.fields else None, problems)
            return
        raise BillingError(_("The e-invoice details are not valid."),
                           details=[m for ms in exc.message_dict.values() for m in ms],
                           errors=exc.message_dict) from exc
