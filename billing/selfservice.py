"""What an Official Account's own administrators do themselves (docs/billing.md):
grant the right, register e-invoice details and a payment method, preview and change the plan,
enter or register a promotion code. Staff mark invoices paid through the payment gateway.

Rights come from ``lbm.permissions`` (account administrators, never organization roles); the
arithmetic and the ledger are ``billing.services``'.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import invitations, permissions
from lbm.audit import record_change
from lbm.exceptions import NotAllowed

from . import periods, pricing, selectors, services
from .exceptions import BillingError, PlanChangeRefused, PromotionCodeRefused
from .models import (
    AccountAdministrator,
    AccountAdministratorInvitation,
    BillingCustomer,
    Invoice,
    InvoicePayment,
    PaymentMethod,
    PaymentMethodKind,
    Plan,
    PromotionCode,
    Subscription,
)

INVITATION_DAYS = invitations.INVITATION_DAYS


# --- The right -------------------------------------------------------------------------------


@transaction.atomic
def administrator_grant(*, account_id: int, user, actor) -> AccountAdministrator:
    """Make ``user`` an administrator of the account (an account manager or an existing
    administrator of that account may). Granting twice changes nothing."""
    if not permissions.may_grant_account_administrator(actor, account_id):
        raise NotAllowed(
            _(
                "Only an account manager or an administrator of this Official "
                "Account may grant its administrator right."
            )
        )
    grant, created = AccountAdministrator.objects.get_or_create(
        account_id=account_id, user=user, defaults={"granted_by": actor}
    )
    return grant


def invitation_create(*, account_id: int, actor, email: str, now: datetime | None = None) -> str:
    """Invite the person who reads ``email`` to administer the account: a single-use link,
    valid 7 days, sent to that address. Only the token's hash and the address's keyed hash are
    kept; the link works only for a sign-in with that e-mail address (``lbm.invitations``,
    docs/billing.md)."""
    if not permissions.may_grant_account_administrator(actor, account_id):
        raise NotAllowed(
            _(
                "Only an account manager or an administrator of this Official "
                "Account may invite administrators."
            )
        )
    invitation, token = invitations.issue(
        AccountAdministratorInvitation,
        email=email,
        actor=actor,
        now=now,
        error=BillingError,
        account_id=account_id,
    )
    link = settings.SITE_URL + reverse("admin:billing_selfservice_accept", args=[token])
    account = invitation.account
    transaction.on_commit(
        lambda: send_mail(
            subject=_("You are invited to administer the Official Account %(account)s")
            % {"account": account},
            message=_(
                "%(inviter)s invites you to administer the LINE Official Account "
                "%(account)s in LINE Business Manager: its plan, usage and invoices.\n\n"
                "Open this link within %(days)s days and sign in with this e-mail address to "
                "accept (your LINE account manager gives you a sign-in if you have none). "
                "The link works once.\n\n%(link)s\n"
            )
            % {
                "inviter": actor.get_full_name() or actor.get_username(),
                "account": account,
                "days": INVITATION_DAYS,
                "link": link,
            },
            from_email=None,
            recipient_list=[email.strip()],
        )
    )
    return token


@transaction.atomic
def invitation_accept(*, token: str, user, now: datetime | None = None) -> AccountAdministrator:
    invitation = invitations.claim(
        AccountAdministratorInvitation, token=token, user=user, now=now, error=BillingError
    )
    grant, _created = AccountAdministrator.objects.get_or_create(
        account_id=invitation.account_id, user=user, defaults={"granted_by": invitation.created_by}
    )
    return grant


def _subscription(account_id: int, actor, *, lock: bool = False) -> Subscription:
    permissions.require_account_administrator(actor, account_id)
    query = Subscription.objects.select_related("customer", "plan")
    if lock:
        query = query.select_for_update()
    subscription = query.filter(account_id=account_id).first()
    if subscription is None:
        raise BillingError(_("This Official Account has no plan yet."))
    return subscription


# --- E-invoice details and the payment method -------------------------------------------------


@transaction.atomic
def einvoice_details_set(
    *,
    account_id: int,
    actor,
    business_number: str = "",
    name: str = "",
    carrier: str = "",
    donation_code: str = "",
    email: str = "",
) -> BillingCustomer:
    """Register or change the e-invoice buyer of the account's billing customer (company:
    統一編號 and name; person: a mobile barcode carrier or a donation code)."""
    subscription = _subscription(account_id, actor)
    customer = BillingCustomer.objects.select_for_update().get(pk=subscription.customer_id)
    business_number, carrier = business_number.strip(), carrier.strip().upper()
    services.check_buyer(
        business_number=business_number,
        name=name,
        carrier=carrier,
        donation_code=donation_code.strip(),
    )
    if not (business_number or carrier or donation_code.strip()):
        raise BillingError(
            _("Give a business number (company), a mobile barcode carrier or a donation code.")
        )
    customer.business_number, customer.invoice_title = business_number, name.strip()
    customer.invoice_carrier, customer.donation_code = carrier, donation_code.strip()
    if email:
        customer.invoice_email = email.strip()
    record_change(
        customer,
        actor=actor,
        reason=_("E-invoice details registered by the account's administrator"),
    )
    customer.save()
    return customer


class PaymentGateway:
    """What billing needs of a payment gateway. Adapters turn the token the gateway's own page
    returned into a stored method, and charge invoices."""

    name = "abstract"

    def register(self, *, kind: str, token: str, last4: str) -> tuple[str, str]:
        """Returns (gateway token to keep, masked label)."""
        raise NotImplementedError

    def charge(self, *, invoice: Invoice, method: PaymentMethod) -> str:
        """Returns ``InvoicePayment.Status`` after trying to charge."""
        raise NotImplementedError


class ManualGateway(PaymentGateway):
    """The default adapter: nothing is charged automatically; an account manager marks an
    invoice paid when the money arrives."""

    name = "manual"

    def register(self, *, kind: str, token: str, last4: str) -> tuple[str, str]:
        if kind == PaymentMethodKind.CREDIT_CARD:
            if not (len(last4) == 4 and last4.isdigit()):
                raise BillingError(_("Give the card's last four digits only."))
            return token, f"•••• {last4}"
        return token, "LINE Pay"

    def charge(self, *, invoice: Invoice, method: PaymentMethod) -> str:
        return InvoicePayment.Status.UNPAID


def gateway() -> PaymentGateway:
    return ManualGateway()


@transaction.atomic
def payment_method_register(
    *, account_id: int, actor, kind: str, gateway_token: str, last4: str = ""
) -> PaymentMethod:
    """Register the customer's payment method from the gateway's token (credit card or LINE
    Pay). A card number or CVC is refused, never stored."""
    subscription = _subscription(account_id, actor)
    if kind not in PaymentMethodKind.values:
        raise BillingError(_("A payment method is a credit card or LINE Pay."))
    token = (gateway_token or "").strip()
    digits = token.replace(" ", "").replace("-", "")
    if not token or (digits.isdigit() and len(digits) >= 12):
        raise BillingError(_("Give the payment gateway's token, never a card number."))
    kept, label = gateway().register(kind=kind, token=token, last4=(last4 or "").strip())
    customer = BillingCustomer.objects.select_for_update().get(pk=subscription.customer_id)
    PaymentMethod.objects.filter(customer=customer, active=True).update(active=False)
    method = PaymentMethod(
        customer=customer,
        kind=kind,
        gateway=gateway().name,
        gateway_token=kept,
        label=label,
        created_by=actor,
    )
    record_change(method, actor=actor, reason=_("Payment method registered"))
    method.save()
    customer.payment_method = kind
    record_change(customer, actor=actor, reason=_("Payment method registered"))
    customer.save(update_fields=["payment_method"])
    return method


@transaction.atomic
def invoice_payment_set(
    *, invoice_id: int, status: str, actor, reference: str = ""
) -> InvoicePayment:
    """An account manager records an invoice's payment (the manual gateway)."""
    permissions.require_staff(actor, "billing.run_billing")
    if status not in InvoicePayment.Status.values:
        raise BillingError(_("Unknown payment state."))
    payment, _created = InvoicePayment.objects.select_for_update().get_or_create(
        invoice_id=invoice_id
    )
    if payment.status == status and payment.reference == reference:
        return payment
    payment.status, payment.reference, payment.changed_by = status, reference, actor
    record_change(
        payment,
        actor=actor,
        reason=_("Payment state: %(state)s") % {"state": payment.get_status_display()},
    )
    payment.save()
    return payment


# --- Plan changes and promotion codes ---------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """Exactly what a plan change would charge this month, before it is confirmed."""

    effect: str  # "upgrade", "downgrade" or "none"
    current: Plan
    target: Plan
    charge: Decimal  # untaxed, before the code
    deducted: Decimal
    forfeited: Decimal
    untaxed: Decimal  # charge - deducted
    tax: Decimal
    total: Decimal  # rounded once
    quota: int  # free messages this month after the change
    starts: object  # the month it takes effect


@transaction.atomic  # the code is read as the change would read it (locked), then left as is
def plan_change_preview(
    *, account_id: int, plan_code: str, actor, promotion_code: str = "", at: datetime | None = None
) -> Preview:
    """The cost and the quota of a change, with the promotion code's deduction and forfeited
    part. Refuses (with the reason) what the change itself would refuse."""
    subscription = _subscription(account_id, actor)
    at = at or timezone.now()
    period = periods.line_period(at)
    current = selectors.plan_in_effect(account_id=account_id, period=period)
    target = Plan.objects.get(code=plan_code)
    if current is None or current.is_government or target.is_government:
        raise PlanChangeRefused(_("A government plan cannot change during its term."))
    if target.rank > current.rank:
        effect, starts = "upgrade", period
        charge = pricing.upgrade_charge(from_fee=current.monthly_fee, to_fee=target.monthly_fee)
        quota = target.free_messages
    else:
        effect = "none" if target.pk == current.pk else "downgrade"
        starts, charge, quota = periods.next_period(period), Decimal("0"), current.free_messages
    deducted = forfeited = Decimal("0")
    if promotion_code:
        if effect != "upgrade":
            raise PromotionCodeRefused(
                _("A promotion code pays only for an upgrade or a Medium or High renewal.")
            )
        code = services._usable_code(
            code=promotion_code,
            subscription=subscription,
            on=periods.line_day(at),
            registered_ok=True,
        )
        deduction = pricing.promotion_deduction(
            from_plan=current.code, to_plan=target.code, charge=charge, face_value=code.face_value
        )
        if deduction is None:
            raise PromotionCodeRefused(
                _(
                    "A promotion code pays only for an upgrade to Medium "
                    "or High or a Medium or High renewal."
                )
            )
        deducted, forfeited = deduction.deducted, deduction.forfeited
    totals = pricing.invoice_totals([(charge - deducted, False)])
    return Preview(
        effect=effect,
        current=current,
        target=target,
        charge=charge,
        deducted=deducted,
        forfeited=forfeited,
        untaxed=totals.untaxed,
        tax=totals.tax,
        total=totals.total,
        quota=quota,
        starts=starts,
    )


@transaction.atomic
def plan_change(
    *, account_id: int, plan_code: str, actor, promotion_code: str = "", at: datetime | None = None
):
    """Upgrade now or downgrade from next month, as the account's administrator; the same
    ledger and charge as the preview."""
    subscription = _subscription(account_id, actor, lock=True)
    return services._change_plan(
        subscription_id=subscription.pk,
        plan_code=plan_code,
        actor=actor,
        at=at,
        promotion_code=promotion_code,
        reason=_("Changed by the account's administrator"),
    )


@transaction.atomic
def promotion_code_register(*, account_id: int, code: str, actor, on=None) -> PromotionCode:
    """Register a code for the next renewal (Medium or High), as the account's
    administrator."""
    subscription = _subscription(account_id, actor)
    return services._promotion_code_register(
        code=code, subscription_id=subscription.pk, actor=actor, on=on
    )
