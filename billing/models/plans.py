"""Plans, their price tiers and add-on prices (dated rows), and the billing customers
(docs/billing.md#plans-quotas-and-message-counting)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

MONEY = {"max_digits": 14, "decimal_places": 4}
EXACT = {"max_digits": 18, "decimal_places": 6}


class PlanCode(models.TextChoices):
    LIGHT = "light", _("Light (輕用量)")
    MEDIUM = "medium", _("Medium (中用量)")
    HIGH = "high", _("High (高用量)")
    GOV_A = "gov_a", _("Government main account, plan A")
    GOV_B = "gov_b", _("Government main account, plan B")
    GOV_SUB = "gov_sub", _("Government sub-account")
    GOV_CIVIL = "gov_civil", _("Civil-servant account")


class Plan(models.Model):
    """A price plan. Official Account plans are charged monthly (untaxed prices); government
    plans yearly by contract (tax-included prices)."""

    Code = PlanCode

    class Counting(models.TextChoices):
        RECIPIENTS = "recipients", _("per recipient")
        SENDS = "sends", _("per send (broadcast or segmented message)")

    class Overage(models.TextChoices):
        NONE = "none", _("not allowed")
        GRADUATED = "graduated", _("graduated price table")
        FLAT = "flat", _("flat price per message")

    OFFICIAL_ACCOUNT_PLANS = (Code.LIGHT, Code.MEDIUM, Code.HIGH)
    GOVERNMENT_PLANS = (Code.GOV_A, Code.GOV_B, Code.GOV_SUB, Code.GOV_CIVIL)
    GOVERNMENT_MAIN_PLANS = (Code.GOV_A, Code.GOV_B)

    code = models.CharField(_("code"), max_length=16, choices=Code.choices, unique=True)
    # Order of the Official Account plans (Light 0 < Medium 1 < High 2): a higher rank is an
    # upgrade (at once), a lower one a downgrade (from the next month).
    rank = models.PositiveSmallIntegerField(_("rank"), default=0)
    monthly_fee = models.DecimalField(_("monthly fee (TWD)"), **MONEY, default=0)
    yearly_fee = models.DecimalField(
        _("yearly fee (TWD)"),
        **MONEY,
        null=True,
        blank=True,
        help_text=_("Government plans: per contract year, or per block of 10 accounts."),
    )
    free_messages = models.PositiveIntegerField(_("free messages per month"))
    counting = models.CharField(
        _("messages counted"), max_length=16, choices=Counting.choices, default=Counting.RECIPIENTS
    )
    overage = models.CharField(
        _("extra messages"), max_length=16, choices=Overage.choices, default=Overage.NONE
    )
    overage_unit_price = models.DecimalField(
        _("price per extra message (TWD)"), **MONEY, null=True, blank=True
    )
    tax_included = models.BooleanField(_("prices include tax"), default=False)
    includes_add_ons = models.BooleanField(
        _("premium ID and chat advanced plan included"), default=False
    )
    sold_from = models.DateField(_("contracts starting from"), null=True, blank=True)
    sold_until = models.DateField(_("contracts starting until"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["rank", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__in=PlanCode.values), name="plan_code_valid"),
            models.CheckConstraint(
                condition=Q(overage__in=["none", "graduated", "flat"]), name="plan_overage_valid"
            ),
            models.CheckConstraint(
                condition=~Q(overage="flat") | Q(overage_unit_price__isnull=False),
                name="plan_flat_overage_has_price",
            ),
            models.CheckConstraint(condition=Q(monthly_fee__gte=0), name="plan_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return self.get_code_display()

    @property
    def is_government(self) -> bool:
        return self.code in self.GOVERNMENT_PLANS


class PriceTier(models.Model):
    """One row of a graduated price table (the High plan's), valid from ``effective_from``.

    A table is all the rows of a plan with the same ``effective_from``; a tier runs from its
    ``first_message`` to the next tier's first message less one."""

    plan = models.ForeignKey(
        Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="tiers"
    )
    effective_from = models.DateField(_("effective from"))
    first_message = models.PositiveIntegerField(
        _("from message number"), help_text=_("Counted over the month's total messages.")
    )
    unit_price = models.DecimalField(_("price per message (TWD)"), max_digits=10, decimal_places=4)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("price tier")
        verbose_name_plural = _("price tiers")
        ordering = ["plan", "-effective_from", "first_message"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "effective_from", "first_message"], name="pricetier_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(first_message__gte=1), name="pricetier_first_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="pricetier_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        from lbm.formatting import count, money

        return (
            f"{self.plan} ≥{count(self.first_message)}: {money(self.unit_price)} "
            f"({self.effective_from})"
        )


class AddOn(models.TextChoices):
    PREMIUM_ID = "premium_id", _("Premium ID (專屬ID)")
    CHAT_ADVANCED = "chat_advanced", _("Chat advanced plan (聊天進階方案)")


class AddOnPrice(models.Model):
    """The price of an add-on from ``effective_from`` (docs/billing.md): a new price sheet is a new
    row, and billing reads the row in effect for the period. Untaxed, like the OA plans."""

    Code = AddOn

    class Per(models.TextChoices):
        YEAR = "year", _("per year")
        MONTH = "month", _("per month")

    code = models.CharField(_("add-on"), max_length=16, choices=AddOn.choices)
    effective_from = models.DateField(_("effective from"))
    price = models.DecimalField(_("price (TWD, untaxed)"), **MONEY)
    per = models.CharField(_("charged"), max_length=8, choices=Per.choices)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("add-on price")
        verbose_name_plural = _("add-on prices")
        ordering = ["code", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "effective_from"], name="addonprice_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(code__in=AddOn.values), name="addonprice_code_valid"
            ),
            models.CheckConstraint(
                condition=Q(per__in=["year", "month"]), name="addonprice_per_valid"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="addonprice_not_negative"),
        ]

    def __str__(self) -> str:
        from lbm.formatting import money

        return (
            f"{self.get_code_display()} {money(self.price)} {self.get_per_display()} "
            f"({self.effective_from})"
        )


class BillingCustomer(models.Model):
    """The billing unit (請款單位) that receives one invoice per period for all its accounts."""

    class PaymentMethod(models.TextChoices):
        NONE = "none", _("Not registered")
        CREDIT_CARD = "credit_card", _("Credit card")
        LINE_PAY = "line_pay", _("LINE Pay")
        TRANSFER = "transfer", _("Bank transfer (reseller / contract)")

    name = models.CharField(_("name"), max_length=150)
    organization = models.ForeignKey(
        "lbm.Organization",
        verbose_name=_("organization"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="billing_customers",
    )
    business_number = models.CharField(_("business number (統一編號)"), max_length=8, blank=True)
    country = models.CharField(_("country"), max_length=2, default="TW")
    payment_method = models.CharField(
        _("payment method"),
        max_length=16,
        choices=PaymentMethod.choices,
        default=PaymentMethod.NONE,
    )
    invoice_title = models.CharField(_("e-invoice buyer name"), max_length=150, blank=True)
    invoice_carrier = models.CharField(
        _("e-invoice carrier"),
        max_length=64,
        blank=True,
        help_text=_("e.g. a mobile barcode (手機條碼)."),
    )
    donation_code = models.CharField(_("e-invoice donation code"), max_length=7, blank=True)
    invoice_email = models.EmailField(_("e-invoice e-mail"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("billing customer")
        verbose_name_plural = _("billing customers")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(payment_method__in=["none", "credit_card", "line_pay", "transfer"]),
                name="billingcustomer_payment_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_invoice_info(self) -> bool:
        """A buyer name and where the e-invoice goes: a business number (company invoice), a
        carrier, or a donation code."""
        return bool(
            self.invoice_title
            and (self.business_number or self.invoice_carrier or self.donation_code)
        )

    @property
    def has_payment_method(self) -> bool:
        return self.payment_method in (self.PaymentMethod.CREDIT_CARD, self.PaymentMethod.LINE_PAY)
