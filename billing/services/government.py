"""Government contracts: blocks, listed accounts, renewals and closing a term.

Rules: docs/billing.md.
"""

from collections.abc import Iterable
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import workdays

from .. import periods
from ..exceptions import (
    BillingError,
)
from ..models import (
    BillingCustomer,
    GovernmentAccount,
    GovernmentBlock,
    GovernmentContract,
    GovernmentRenewal,
    Plan,
    PlanChange,
    SecondApproval,
    Subscription,
)
from . import approvals
from ._base import _record, _require
from .subscriptions import subscription_create

# --- Government contracts ---------------------------------------------------------------------


@transaction.atomic
def government_contract_propose(
    *,
    customer_id: int,
    plan_code: str,
    main_account_id: int,
    starts_on: date,
    ends_on: date,
    actor,
    reason: str = "",
) -> GovernmentContract:
    """Propose a government main-plan contract (docs/billing.md#two-person-approvals). It is
    written now but takes effect only when another staff member approves it
    (``second_approval_approve``): then its main account goes onto the plan at its start, and
    month-end billing charges the term by whole years (one at least) in the month it starts.
    Until then no block, listed account, renewal or subscription may use it."""
    _require(actor, "add_governmentcontract")
    plan = Plan.objects.get(code=plan_code)
    if plan.code not in Plan.GOVERNMENT_MAIN_PLANS:
        raise BillingError(_("A government contract is on plan A or plan B."), field="plan")
    if ends_on <= starts_on:
        raise BillingError(_("The term must end after it starts."), field="ends_on")
    if (plan.sold_from and starts_on < plan.sold_from) or (
        plan.sold_until and starts_on > plan.sold_until
    ):
        raise BillingError(
            _("This plan is for contracts starting from %(start)s to %(end)s.")
            % {"start": plan.sold_from, "end": plan.sold_until},
            field="starts_on",
        )
    customer = BillingCustomer.objects.get(pk=customer_id)
    approval = approvals.approval_propose(
        kind=SecondApproval.Kind.GOVERNMENT_CONTRACT,
        actor=actor,
        reason=reason,
        summary=f"{customer} {plan} {starts_on}–{ends_on}",
    )
    contract = GovernmentContract(
        customer=customer,
        plan=plan,
        main_account_id=main_account_id,
        starts_on=starts_on,
        ends_on=ends_on,
        approval=approval,
    )
    _record(contract, actor=actor, reason=reason or _("Contract signed"))
    contract.save()
    return contract


def _contract_approved(approval: SecondApproval, *, actor) -> None:
    """The contract takes effect: its main account goes onto the plan at the term's start."""
    contract = (
        GovernmentContract.objects.select_for_update().select_related("plan").get(approval=approval)
    )
    plan = contract.plan
    reason = approval.decision_reason or _("Government contract approved")
    customer_id, main_account_id = contract.customer_id, contract.main_account_id
    starts_on = contract.starts_on
    subscription = (
        Subscription.objects.select_for_update().filter(account_id=main_account_id).first()
    )
    if subscription is None:
        subscription_create(
            account_id=main_account_id,
            customer_id=customer_id,
            plan_code=plan.code,
            contract_id=contract.pk,
            started_on=starts_on,
            actor=actor,
            reason=reason,
        )
    else:
        previous = subscription.plan
        subscription.plan, subscription.contract = plan, contract
        subscription.customer_id = customer_id
        subscription.chat_advanced, subscription.premium_id_since = False, None
        subscription.scheduled_plan = subscription.scheduled_from = None
        _record(subscription, actor=actor, reason=reason)
        subscription.save()
        # A downgrade scheduled under the old plan never takes effect now.
        subscription.changes.filter(
            kind=PlanChange.Kind.DOWNGRADE, period__gte=periods.period_of(starts_on)
        ).delete()
        PlanChange.objects.create(
            subscription=subscription,
            kind=PlanChange.Kind.START,
            from_plan=previous,
            to_plan=plan,
            period=periods.period_of(starts_on),
            created_by=actor,
            reason=reason,
        )


@transaction.atomic
def government_block_add(
    *, contract_id: int, kind: str, accounts: int, purchased_on: date, actor
) -> GovernmentBlock:
    """Buy sub-account or civil-servant accounts: billed by blocks of 10 for a full year in the
    month of purchase, ending with the main term."""
    _require(actor, "add_governmentblock")
    contract = GovernmentContract.objects.select_for_update().get(pk=contract_id)
    approvals.require_in_effect(contract)
    if kind not in GovernmentBlock.Kind.values:
        raise BillingError(_("Unknown kind of block."), field="kind")
    if kind == GovernmentBlock.Kind.CIVIL_SERVANTS:
        raise BillingError(
            _(
                "Civil-servant blocks are counted from the accounts that ever "
                "completed verification, not entered by hand: add the accounts "
                "to the contract (civil-servant plan) and record their "
                "verification."
            ),
            field="kind",
        )
    if accounts < 1:
        raise BillingError(_("A block purchase needs at least one account."), field="accounts")
    if not contract.starts_on <= purchased_on <= contract.ends_on:
        raise BillingError(
            _("Blocks can be added only during the main contract's term."), field="purchased_on"
        )
    block = GovernmentBlock(
        contract=contract, kind=kind, accounts=accounts, purchased_on=purchased_on
    )
    _record(block, actor=actor, reason=_("Blocks purchased"))
    block.save()
    return block


@transaction.atomic
def government_account_verify(
    *, listed_account_id: int, verified_at: datetime, actor, reason: str = ""
) -> GovernmentAccount:
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
def subscription_suspend(
    *, subscription_id: int, actor, reason: str, at: datetime | None = None
) -> Subscription:
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
def government_renewal_submit(
    *,
    contract_id: int,
    kept_account_ids: Iterable[int],
    submitted_on: date,
    actor,
    next_contract_id: int | None = None,
    reason: str = "",
) -> GovernmentRenewal:
    """Record the renewal list of a contract term: the listed accounts (``lbm.Account`` ids)
    kept for the next term. Every other listed account is flagged to be deleted by the agency
    within the deletion window (``selectors.deletion_window``). The list may be resubmitted
    until the term ends.

    With ``next_contract_id`` (the next term of the same customer and main account), the kept
    accounts are listed on it, with their first verification, and their subscriptions move to
    it. Raises ``BillingError``."""
    _require(actor, "add_governmentrenewal")
    contract = GovernmentContract.objects.select_for_update().get(pk=contract_id)
    approvals.require_in_effect(contract)
    if submitted_on > contract.ends_on:
        raise BillingError(
            _("The renewal list must be submitted before the term ends (%(end)s).")
            % {"end": contract.ends_on}
        )
    listed = {
        row.account_id: row
        for row in GovernmentAccount.objects.select_for_update().filter(contract=contract)
    }
    kept = set(kept_account_ids)
    unknown = kept - set(listed)
    if unknown:
        raise BillingError(
            _("Only accounts listed on this term can be renewed; not listed: %(ids)s.")
            % {"ids": ", ".join(str(i) for i in sorted(unknown))}
        )
    next_contract = None
    if next_contract_id is not None:
        next_contract = GovernmentContract.objects.select_for_update().get(pk=next_contract_id)
        approvals.require_in_effect(next_contract)
        if (next_contract.customer_id, next_contract.main_account_id) != (
            contract.customer_id,
            contract.main_account_id,
        ) or next_contract.starts_on <= contract.ends_on:
            raise BillingError(
                _("The next term must be a later contract of the same agency and main account.")
            )
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
            _record(
                row,
                actor=actor,
                reason=reason
                or (_("Kept on the renewal list") if keep else _("Not renewed: to be deleted")),
            )
            row.save(update_fields=["kept_on_renewal"])
    if next_contract is not None:
        already = set(
            GovernmentAccount.objects.filter(contract=next_contract).values_list(
                "account_id", flat=True
            )
        )
        for account_id in sorted(kept - already):
            row = listed[account_id]
            copy = GovernmentAccount(
                contract=next_contract,
                account_id=account_id,
                kind=row.kind,
                first_verified_at=row.first_verified_at,
            )
            _record(copy, actor=actor, reason=reason or _("Renewed"))
            copy.save()
        for subscription in Subscription.objects.select_for_update().filter(
            account_id__in=kept, contract=contract
        ):
            subscription.contract = next_contract
            _record(subscription, actor=actor, reason=reason or _("Renewed"))
            subscription.save(update_fields=["contract", "updated_at"])
    return renewal


@transaction.atomic
def government_account_mark_deleted(
    *, listed_account_id: int, deleted_on: date, actor, reason: str = ""
) -> GovernmentAccount:
    """Record that the agency deleted a listed account it did not renew (reported by the
    reseller). A kept account is not deleted; a repeated call changes nothing."""
    _require(actor, "change_governmentaccount")
    listed = (
        GovernmentAccount.objects.select_for_update()
        .select_related("contract")
        .get(pk=listed_account_id)
    )
    if listed.deleted_on is not None:
        return listed
    if listed.kept_on_renewal:
        raise BillingError(_("This account is on the renewal list; it is not to be deleted."))
    listed.deleted_on = deleted_on
    _record(listed, actor=actor, reason=reason or _("Deleted by the agency"))
    listed.save(update_fields=["deleted_on"])
    return listed


@transaction.atomic
def government_term_close(
    *,
    contract_id: int,
    actor,
    plan_code: str = Plan.Code.LIGHT,
    suspend: bool = False,
    today: date | None = None,
    reason: str = "",
) -> list[Subscription]:
    """After a term ends, the listed accounts that were not renewed and not deleted leave the
    government plan: from the first billing month after the term's last day they are billed on
    the Official Account plan ``plan_code`` (normal message rates,
    docs/billing.md#government-plans), billed to the same customer, and are suspended too if
    ``suspend``. Returns the subscriptions moved; running it again moves nothing. Raises
    ``BillingError`` before the term has ended."""
    _require(actor, "change_subscription")
    contract = GovernmentContract.objects.select_for_update().get(pk=contract_id)
    approvals.require_in_effect(contract)
    today = today or workdays.taipei_today()
    if today <= contract.ends_on:
        raise BillingError(
            _(
                "The agency may delete accounts until the term ends on %(end)s; "
                "close the term after that day."
            )
            % {"end": contract.ends_on}
        )
    target = Plan.objects.get(code=plan_code)
    if target.is_government:
        raise BillingError(
            _("Accounts leaving a government plan go onto a normal Official Account plan.")
        )
    starts = periods.next_period(periods.period_of(contract.ends_on))
    remaining = (
        GovernmentAccount.objects.filter(contract=contract, deleted_on__isnull=True)
        .exclude(kept_on_renewal=True)
        .values_list("account_id", flat=True)
    )
    moved = []
    for subscription in (
        Subscription.objects.select_for_update()
        .select_related("plan")
        .filter(account_id__in=list(remaining), contract=contract)
        .order_by("pk")
    ):
        previous = subscription.plan
        PlanChange.objects.create(
            subscription=subscription,
            kind=PlanChange.Kind.START,
            from_plan=previous,
            to_plan=target,
            period=starts,
            created_by=actor,
            reason=reason or _("Not renewed and not deleted by the end of the government term"),
        )
        subscription.plan, subscription.contract = target, None
        fields = ["plan", "contract", "updated_at"]
        if suspend and subscription.suspended_at is None:
            subscription.suspended_at = timezone.now()
            fields.append("suspended_at")
        _record(
            subscription,
            actor=actor,
            reason=reason or _("Government term ended: billed on %(plan)s") % {"plan": target},
        )
        subscription.save(update_fields=fields)
        moved.append(subscription)
    return moved
