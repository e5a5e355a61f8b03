"""Subscriptions and plan changes, and the records account managers edit in the admin.

Rules: docs/billing.md.
"""

from collections.abc import Iterable
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm.formatting import count as count_text
from lbm.models import Account

from .. import periods, pricing, selectors
from ..exceptions import (
    BillingError,
    PlanChangeRefused,
    PromotionCodeRefused,
)
from ..models import (
    AddOnPrice,
    BillingCustomer,
    GovernmentAccount,
    GovernmentContract,
    Invoice,
    Plan,
    PlanChange,
    PriceTier,
    Subscription,
)
from . import approvals
from ._base import _record, _require
from .einvoices import check_buyer
from .promotions import _promotion_code_redeem

SUB_ACCOUNT_MAX_FRIENDS = 5000


# --- Subscriptions and plan changes -----------------------------------------------------------


@transaction.atomic
def subscription_create(
    *,
    account_id: int,
    customer_id: int,
    plan_code: str,
    actor,
    started_on: date | None = None,
    contract_id: int | None = None,
    chat_advanced: bool = False,
    premium_id_since: date | None = None,
    target_friends: int | None = None,
    reason: str = "",
) -> Subscription:
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
        raise BillingError(
            _("This Official Account already has a subscription; change its plan instead."),
            field="account",
        )
    plan = Plan.objects.get(code=plan_code)
    contract = None
    if plan.is_government:
        if contract_id is None:
            raise BillingError(
                _("A government plan needs its government contract."), field="contract"
            )
        contract = GovernmentContract.objects.select_related("main_account", "approval").get(
            pk=contract_id
        )
        approvals.require_in_effect(contract)
        if plan.code == Plan.Code.GOV_SUB and not account.name.startswith(
            contract.main_account.name
        ):
            raise BillingError(
                _("A sub-account's name must start with the main account's name (“%(main)s”).")
                % {"main": contract.main_account.name},
                field="account",
            )
        if plan.code == Plan.Code.GOV_SUB:
            _check_target_friends(target_friends)
    elif contract_id is not None:
        raise BillingError(
            _("Only government plans belong to a government contract."), field="contract"
        )
    else:
        _require_purchase_details(BillingCustomer.objects.get(pk=customer_id), plan)
    started_on = started_on or periods.line_day(timezone.now())
    subscription = Subscription(
        account=account,
        customer_id=customer_id,
        plan=plan,
        contract=contract,
        started_on=started_on,
        target_friends=target_friends,
        chat_advanced=chat_advanced and not plan.includes_add_ons,
        premium_id_since=None if plan.includes_add_ons else premium_id_since,
    )
    _record(subscription, actor=actor, reason=reason or _("Subscription started"))
    subscription.save()
    PlanChange.objects.create(
        subscription=subscription,
        kind=PlanChange.Kind.START,
        to_plan=plan,
        period=periods.period_of(started_on),
        created_by=actor,
        reason=reason,
    )
    if plan.code in LISTED_PLANS:
        listed = GovernmentAccount(contract=contract, account=account, kind=LISTED_PLANS[plan.code])
        _record(listed, actor=actor, reason=reason or _("Added to the contract's list"))
        listed.save()
    return subscription


# Government plans whose accounts are listed per contract term (renewal lists, civil-servant
# counts).
LISTED_PLANS = {
    Plan.Code.GOV_SUB: GovernmentAccount.Kind.SUB_ACCOUNTS,
    Plan.Code.GOV_CIVIL: GovernmentAccount.Kind.CIVIL_SERVANTS,
}


def _check_target_friends(target_friends: int | None) -> None:
    """A sub-account qualifies with at most 5,000 target friends
    (docs/billing.md#government-plans); the number must be stated to be checked."""
    if target_friends is None:
        raise BillingError(
            _("State the sub-account's number of target friends (at most %(max)s).")
            % {"max": count_text(SUB_ACCOUNT_MAX_FRIENDS)},
            field="target_friends",
        )
    if target_friends > SUB_ACCOUNT_MAX_FRIENDS:
        raise BillingError(
            _("A government sub-account may have at most %(max)s target friends.")
            % {"max": count_text(SUB_ACCOUNT_MAX_FRIENDS)},
            field="target_friends",
        )


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
        raise PlanChangeRefused(
            _("This plan cannot be bought yet."), details=problems, field="customer"
        )


def _roll_forward(subscription: Subscription, period: date, actor) -> None:
    """Apply a scheduled downgrade whose month has come (the ledger already counts it)."""
    if subscription.scheduled_from and subscription.scheduled_from <= period:
        subscription.plan_id = subscription.scheduled_plan_id
        subscription.scheduled_plan = None
        subscription.scheduled_from = None
        _record(subscription, actor=actor, reason=_("Scheduled downgrade took effect"))
        subscription.save(update_fields=["plan", "scheduled_plan", "scheduled_from", "updated_at"])


@transaction.atomic
def subscription_change_plan(
    *,
    subscription_id: int,
    plan_code: str,
    actor,
    at: datetime | None = None,
    promotion_code: str = "",
    reason: str = "",
) -> PlanChange | None:
    """Change an Official Account's plan (docs/billing.md#plans-quotas-and-message-counting).

    Upgrades (Light → Medium or High, Medium → High) take effect at once in the current LINE
    month and cost the difference of the monthly fees (no proration); the new plan's full free
    quota applies. Downgrades take effect on the 1st of next month. A promotion code may pay for
    an upgrade. Government plans never change during their term. Returns the ledger row, or
    ``None`` when the plan already is ``plan_code`` with nothing scheduled."""
    _require(actor, "change_subscription")
    return _change_plan(
        subscription_id=subscription_id,
        plan_code=plan_code,
        actor=actor,
        at=at,
        promotion_code=promotion_code,
        reason=reason,
    )


def _change_plan(
    *,
    subscription_id: int,
    plan_code: str,
    actor,
    at: datetime | None,
    promotion_code: str,
    reason: str,
) -> PlanChange | None:
    """The plan change itself, for a caller that has checked the actor's right (staff here,
    an account's administrator in ``billing.selfservice``); runs in the caller's
    transaction."""
    at = at or timezone.now()
    period = periods.line_period(at)
    subscription = (
        Subscription.objects.select_for_update().select_related("customer").get(pk=subscription_id)
    )
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
        change = PlanChange(
            subscription=subscription,
            kind=PlanChange.Kind.UPGRADE,
            from_plan=current,
            to_plan=target,
            period=period,
            charge=pricing.upgrade_charge(from_fee=current.monthly_fee, to_fee=target.monthly_fee),
            created_by=actor,
            reason=reason,
        )
        if promotion_code:
            code = _promotion_code_redeem(
                code=promotion_code,
                subscription=subscription,
                from_plan=current.code,
                to_plan=target.code,
                charge=change.charge,
                on=periods.line_day(at),
                actor=actor,
            )
            change.promotion_code, change.deducted = code, code.deducted
        scheduled.delete()
        change.save()
        subscription.plan = target
        subscription.scheduled_plan = subscription.scheduled_from = None
        _record(
            subscription, actor=actor, reason=reason or _("Upgraded to %(plan)s") % {"plan": target}
        )
        subscription.save(update_fields=["plan", "scheduled_plan", "scheduled_from", "updated_at"])
        return change
    if promotion_code:
        raise PromotionCodeRefused(
            _("A promotion code pays only for an upgrade or a Medium or High renewal.")
        )
    starts = periods.next_period(period)
    existing = scheduled.filter(period=starts, to_plan=target).first()
    if existing is not None:
        return existing
    scheduled.delete()
    change = PlanChange.objects.create(
        subscription=subscription,
        kind=PlanChange.Kind.DOWNGRADE,
        from_plan=current,
        to_plan=target,
        period=starts,
        created_by=actor,
        reason=reason,
    )
    subscription.scheduled_plan, subscription.scheduled_from = target, starts
    _record(
        subscription,
        actor=actor,
        reason=reason or _("Downgrade to %(plan)s scheduled") % {"plan": target},
    )
    subscription.save(update_fields=["scheduled_plan", "scheduled_from", "updated_at"])
    return change


def _refuse_invoiced_month(subscription: Subscription, period: date) -> None:
    """A plan change dated in a month already invoiced would never be billed: refused, with
    the reason (docs/billing.md)."""
    if Invoice.objects.filter(customer_id=subscription.customer_id, period=period).exists():
        raise PlanChangeRefused(
            _(
                "%(period)s is already invoiced for this customer; a plan change cannot be dated "
                "in it. Change the plan from the current month, or correct the invoice with a "
                "credit or debit note."
            )
            % {"period": periods.period_label(period)}
        )


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
        raise BillingError(
            _("Change a plan through a plan change, not by editing it."), field="plan"
        )
    if model is BillingCustomer and (
        adding
        or {"business_number", "invoice_title", "invoice_carrier", "donation_code"} & set(changed)
    ):
        check_buyer(
            business_number=obj.business_number,
            name=obj.invoice_title,
            carrier=obj.invoice_carrier,
            donation_code=obj.donation_code,
        )
    if model is Subscription and "suspended_at" in changed:
        raise BillingError(
            _("Suspend an account through its suspension, with a reason."), field="suspended_at"
        )
    if model is Subscription and "target_friends" in changed and obj.plan.code == Plan.Code.GOV_SUB:
        _check_target_friends(obj.target_friends)
    if not adding and not changed:
        return obj
    _record(
        obj,
        actor=actor,
        reason=reason
        or (_("Created") if adding else _("Edited: %(fields)s") % {"fields": ", ".join(changed)}),
    )
    obj.save()
    return obj
