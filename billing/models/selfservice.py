"""Official Account administrators, their invitations and payment methods
(docs/billing.md#official-account-administrators)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from lbm.models import Invitation

from .plans import BillingCustomer


class AccountAdministrator(models.Model):
    """A sign-in that may operate one Official Account's plan and billing (its administrator,
    「管理員權限」). Separate from organization roles: an organization role gives none of this.
    Granted by an account manager or an existing administrator of the same account."""

    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="administrators",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="administered_accounts",
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("granted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("Official Account administrator")
        verbose_name_plural = _("Official Account administrators")
        ordering = ["account", "user"]
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="accountadmin_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account}"


class AccountAdministratorInvitation(Invitation):
    """A single-use invitation to become an account's administrator, valid 7 days. Only a hash
    of its token is stored (``lbm.invitations``)."""

    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta(Invitation.Meta):
        verbose_name = _("administrator invitation")
        verbose_name_plural = _("administrator invitations")

    def __str__(self) -> str:
        return f"{self.account_id} ({self.expires_at:%Y-%m-%d})"


class PaymentMethodKind(models.TextChoices):
    CREDIT_CARD = "credit_card", _("Credit card")
    LINE_PAY = "line_pay", _("LINE Pay")


class PaymentMethod(models.Model):
    """A customer's payment method as the gateway knows it: a kind, the gateway's token and a
    masked label (``•••• 4242``). No card number or CVC is ever stored."""

    customer = models.ForeignKey(
        BillingCustomer,
        verbose_name=_("billing customer"),
        on_delete=models.PROTECT,
        related_name="payment_methods",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=PaymentMethodKind.choices)
    gateway = models.CharField(_("gateway"), max_length=32, default="manual")
    gateway_token = models.CharField(_("gateway token"), max_length=128)
    label = models.CharField(_("label"), max_length=32)
    active = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")
        ordering = ["customer", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["credit_card", "line_pay"]), name="paymentmethod_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["customer"], condition=Q(active=True), name="paymentmethod_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label}"
