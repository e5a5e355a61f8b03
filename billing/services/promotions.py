"""Promotion codes: creation, batches and registration on a subscription.

Rules: docs/billing.md.
"""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import periods, pricing, selectors
from ..exceptions import (
    PromotionCodeRefused,
)
from ..models import (
    BillingCustomer,
    PromotionCode,
    SecondApproval,
    Subscription,
)
from . import approvals
from ._base import _record, _require

# --- Promotion codes --------------------------------------------------------------------------


def promotion_code_create(
    *,
    code: str,
    valid_from: date,
    valid_until: date,
    actor,
    face_value: Decimal = pricing.PROMOTION_FACE_VALUE,
) -> PromotionCode:
    _require(actor, "add_promotioncode")
    code = code.strip().upper()
    if not code:
        raise PromotionCodeRefused(_("A promotion code needs a code."), field="code")
    if valid_until < valid_from:
        raise PromotionCodeRefused(
            _("A promotion code cannot expire before it is valid."), field="valid_until"
        )
    obj = PromotionCode(
        code=code, valid_from=valid_from, valid_until=valid_until, face_value=face_value
    )
    _record(obj, actor=actor, reason=_("Created"))
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise PromotionCodeRefused(_("This promotion code already exists."), field="code") from exc
    return obj


CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by hand


def promotion_code_batch_propose(
    *, count: int, valid_from: date, valid_until: date, actor, prefix: str = ""
) -> list[PromotionCode]:
    """Propose ``count`` random one-use codes (face value 1,200), written in one insert with
    history. They can be used only once another staff member approves the batch
    (docs/billing.md#two-person-approvals)."""
    import secrets

    from simple_history.utils import bulk_create_with_history

    _require(actor, "add_promotioncode")
    if not 1 <= count <= 10_000:
        raise PromotionCodeRefused(_("A batch holds 1 to 10,000 codes."), field="count")
    if valid_until < valid_from:
        raise PromotionCodeRefused(
            _("A promotion code cannot expire before it is valid."), field="valid_until"
        )
    prefix = prefix.strip().upper()[:12]
    codes = set()
    while len(codes) < count:
        codes.add(prefix + "".join(secrets.choice(CODE_ALPHABET) for _i in range(12)))
    with transaction.atomic():
        approval = approvals.approval_propose(
            kind=SecondApproval.Kind.PROMOTION_BATCH,
            actor=actor,
            summary=_("%(count)s codes %(prefix)s…, valid %(start)s to %(end)s")
            % {"count": count, "prefix": prefix, "start": valid_from, "end": valid_until},
        )
        objs = [
            PromotionCode(
                code=code, valid_from=valid_from, valid_until=valid_until, approval=approval
            )
            for code in sorted(codes)
        ]
        return bulk_create_with_history(
            objs, PromotionCode, default_user=actor, default_change_reason=_("Proposed in a batch")
        )


def _customer_problems(customer: BillingCustomer) -> list[str]:
    problems = []
    if customer.country != "TW":
        problems.append(_("Promotion codes are for Taiwan brand owners."))
    if not customer.has_payment_method:
        problems.append(_("Register a credit card or LINE Pay as the payment method first."))
    if not customer.has_invoice_info:
        problems.append(_("Register the e-invoice information first."))
    return problems


def _usable_code(
    *, code: str, subscription: Subscription, on: date, registered_ok: bool = False
) -> PromotionCode:
    obj = PromotionCode.objects.select_for_update().filter(code=code.strip().upper()).first()
    if obj is None:
        raise PromotionCodeRefused(_("This promotion code does not exist."), field="promotion_code")
    if obj.approval_id is not None and obj.approval.status != SecondApproval.Status.APPROVED:
        raise PromotionCodeRefused(approvals.waiting_message(obj.approval), field="promotion_code")
    usable = {PromotionCode.Status.AVAILABLE}
    if registered_ok:
        usable.add(PromotionCode.Status.REGISTERED)
    if obj.status not in usable or (obj.subscription_id not in (None, subscription.pk)):
        raise PromotionCodeRefused(
            _("This promotion code has already been used."), field="promotion_code"
        )
    if not obj.valid_from <= on <= obj.valid_until:
        raise PromotionCodeRefused(
            _("This promotion code is not valid on %(day)s.") % {"day": on}, field="promotion_code"
        )
    problems = _customer_problems(subscription.customer)
    if problems:
        raise PromotionCodeRefused(
            _("This promotion code cannot be used."), details=problems, field="promotion_code"
        )
    return obj


def _promotion_code_redeem(
    *,
    code: str,
    subscription: Subscription,
    from_plan: str | None,
    to_plan: str,
    charge: Decimal,
    on: date,
    actor,
) -> PromotionCode:
    obj = _usable_code(code=code, subscription=subscription, on=on, registered_ok=True)
    deduction = pricing.promotion_deduction(
        from_plan=from_plan, to_plan=to_plan, charge=charge, face_value=obj.face_value
    )
    if deduction is None:
        raise PromotionCodeRefused(
            _(
                "A promotion code pays only for an upgrade to Medium or "
                "High or a Medium or High renewal."
            )
        )
    obj.status = PromotionCode.Status.REDEEMED
    obj.subscription = subscription
    obj.redeemed_at = timezone.now()
    obj.redeemed_for = f"{from_plan or 'renewal'}→{to_plan}"
    obj.deducted, obj.forfeited = deduction.deducted, deduction.forfeited
    _record(obj, actor=actor, reason=_("Redeemed"))
    obj.save()
    return obj


@transaction.atomic
def promotion_code_register(
    *, code: str, subscription_id: int, actor, on: date | None = None
) -> PromotionCode:
    """Register a code for the subscription's next automatic renewal charge (Medium or High);
    month-end billing deducts it (Medium 800, 400 forfeited; High 1,200)."""
    _require(actor, "change_promotioncode")
    return _promotion_code_register(code=code, subscription_id=subscription_id, actor=actor, on=on)


def _promotion_code_register(
    *, code: str, subscription_id: int, actor, on: date | None
) -> PromotionCode:
    subscription = Subscription.objects.select_related("customer", "plan").get(pk=subscription_id)
    on = on or periods.line_day(timezone.now())
    plan = selectors.plan_in_effect(
        account_id=subscription.account_id, period=periods.period_of(on)
    )
    obj = _usable_code(code=code, subscription=subscription, on=on)
    if plan is None or (None, plan.code) not in pricing.PROMOTION_CASES:
        raise PromotionCodeRefused(
            _(
                "A promotion code pays only for an upgrade to Medium or "
                "High or a Medium or High renewal."
            )
        )
    if obj.status == PromotionCode.Status.REGISTERED:
        return obj
    obj.status, obj.subscription = PromotionCode.Status.REGISTERED, subscription
    _record(obj, actor=actor, reason=_("Registered for the next renewal"))
    obj.save()
    return obj
