"""Billing runs, invoices and their lines, credit and debit notes, e-invoice number tracks and
payments (docs/billing.md#taiwan-e-invoices). Issued documents are immutable."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ..exceptions import ImmutableDocument
from .approvals import _approval_field
from .government import GovernmentContract
from .plans import EXACT, MONEY, BillingCustomer
from .subscriptions import PromotionCode


class BillingRun(models.Model):
    """One execution of month-end billing (several may run for a period; only one invoices)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    period = models.DateField(_("billing month"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    invoices_created = models.PositiveIntegerField(_("invoices created"), default=0)
    invoices_existing = models.PositiveIntegerField(_("invoices already issued"), default=0)
    triggered_by = models.CharField(_("triggered by"), max_length=150, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} {self.get_status_display()}"


class ImmutableMixin:
    """Issued documents cannot change or be deleted; corrections are credit/debit notes."""

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableDocument()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableDocument()


class Invoice(ImmutableMixin, models.Model):
    """The month's invoice of one billing customer; issued once, never changed."""

    customer = models.ForeignKey(
        BillingCustomer,
        verbose_name=_("billing customer"),
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    period = models.DateField(_("billing month"))
    number = models.CharField(_("number"), max_length=32, unique=True)
    issued_at = models.DateTimeField(_("issued at"))
    untaxed = models.DecimalField(_("untaxed subtotal"), **MONEY)
    # 5% of an amount with four decimals has six: kept exact, only the total is rounded.
    tax = models.DecimalField(_("business tax 5%"), **EXACT)
    tax_included = models.DecimalField(_("tax-included items"), **MONEY)
    rounding = models.DecimalField(_("rounding"), **EXACT)
    total = models.DecimalField(_("total (TWD)"), max_digits=14, decimal_places=0)
    # Taiwan e-invoice (電子發票): a number from a track when the total is not zero, and the
    # buyer as it stood when the invoice was issued (docs/billing.md).
    einvoice_number = models.CharField(
        _("e-invoice number"),
        max_length=10,
        null=True,  # noqa: DJ001
        blank=True,
        unique=True,
    )
    buyer_id = models.CharField(
        _("buyer ID"),
        max_length=10,
        blank=True,
        help_text=_("Business number, or 0000000000 for a person."),
    )
    buyer_name = models.CharField(_("buyer name"), max_length=150, blank=True)
    carrier = models.CharField(_("carrier"), max_length=64, blank=True)
    donation_code = models.CharField(_("donation code"), max_length=7, blank=True)
    run = models.ForeignKey(
        BillingRun,
        verbose_name=_("billing run"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invoices",
    )

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-period", "number"]
        permissions = [("run_billing", _("Can run month-end billing"))]
        constraints = [
            # Month-end billing is idempotent because the database refuses a second invoice.
            models.UniqueConstraint(
                fields=["customer", "period"], name="invoice_one_per_customer_period"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_total_not_negative"),
        ]
        # The admin's default ordering (docs/operations.md#admin-at-scale).
        indexes = [models.Index(fields=["-period", "number"], name="invoice_recent")]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(ImmutableMixin, models.Model):
    class Kind(models.TextChoices):
        MONTHLY_FEE = "monthly_fee", _("Monthly fee")
        UPGRADE = "upgrade", _("Plan upgrade")
        EXTRA_MESSAGES = "extra_messages", _("Extra messages")
        NOTIFICATIONS = "notifications", _("LINE notification messages")
        PREMIUM_ID = "premium_id", _("Premium ID (yearly)")
        CHAT_ADVANCED = "chat_advanced", _("Chat advanced plan")
        GOVERNMENT_PLAN = "government_plan", _("Government plan (yearly)")
        GOVERNMENT_BLOCKS = "government_blocks", _("Government account blocks (yearly)")
        CIVIL_SERVANT_BLOCKS = (
            "civil_servant_blocks",
            _("Civil-servant account blocks (yearly, counted by verified accounts)"),
        )
        GOVERNMENT_EXTRA = "government_extra", _("Government extra messages")
        PROMOTION = "promotion", _("Promotion code")

    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="lines"
    )
    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=255)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    amount = models.DecimalField(_("amount (TWD)"), **MONEY)
    tax_included = models.BooleanField(_("tax included"), default=False)
    promotion_code = models.ForeignKey(
        PromotionCode,
        verbose_name=_("promotion code"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Government lines name their contract term: what a term was already billed for is read
    # back from its lines (civil-servant blocks bill only the increase).
    contract = models.ForeignKey(
        GovernmentContract,
        verbose_name=_("government contract"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "pk"]
        indexes = [models.Index(fields=["contract", "kind"], name="invoiceline_contract")]

    def __str__(self) -> str:
        return self.description


class EInvoiceAction(models.TextChoices):
    ALLOWANCE = "allowance", _("Allowance (折讓)")
    VOID = "void", _("Void (作廢)")


class CreditNote(ImmutableMixin, models.Model):
    """A correction of an issued invoice: a credit (refund) or a debit (extra charge)."""

    class Kind(models.TextChoices):
        CREDIT = "credit", _("Credit note")
        DEBIT = "debit", _("Debit note")

    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="credit_notes"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    number = models.CharField(_("number"), max_length=40, unique=True)
    amount = models.DecimalField(_("amount, tax included (TWD)"), max_digits=14, decimal_places=0)
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # For a credit on an invoice with an e-invoice number: an allowance (折讓) or a void (作廢).
    einvoice_action = models.CharField(
        _("e-invoice document"), max_length=12, choices=EInvoiceAction.choices, blank=True
    )
    # A debit note for usage recorded after its month was invoiced covers the usage rows
    # recorded up to this moment (docs/billing.md).
    usage_through = models.DateTimeField(_("late usage recorded until"), null=True, blank=True)
    # A note above the two-person threshold counts only once a second staff member approves it.
    approval = _approval_field("credit_notes")

    class Meta:
        verbose_name = _("credit / debit note")
        verbose_name_plural = _("credit / debit notes")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="creditnote_amount_positive"),
            models.CheckConstraint(
                condition=Q(kind__in=["credit", "debit"]), name="creditnote_kind_valid"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="creditnote_has_reason"),
            models.CheckConstraint(
                condition=Q(einvoice_action="") | Q(kind="credit"),
                name="creditnote_einvoice_only_on_credit",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class EInvoiceTrack(models.Model):
    """A number track (字軌) that staff enter for a two-month period: two letters and a range of
    eight-digit numbers, used in order without gaps (``next_number`` is the next to give)."""

    period = models.DateField(
        _("two-month period"),
        help_text=_("First day of an odd month: Jan, Mar, May, Jul, Sep, Nov."),
    )
    prefix = models.CharField(_("track letters (字軌)"), max_length=2)
    first_number = models.PositiveIntegerField(_("first number"))
    last_number = models.PositiveIntegerField(_("last number"))
    next_number = models.PositiveIntegerField(_("next number"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("e-invoice number track")
        verbose_name_plural = _("e-invoice number tracks")
        ordering = ["-period", "prefix", "first_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "prefix", "first_number"], name="einvoicetrack_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(last_number__gte=models.F("first_number"))
                & Q(last_number__lte=99999999),
                name="einvoicetrack_range",
            ),
            models.CheckConstraint(
                condition=Q(next_number__gte=models.F("first_number"))
                & Q(next_number__lte=models.F("last_number") + 1),
                name="einvoicetrack_next_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} {self.prefix}{self.first_number:08d}–{self.last_number:08d}"

    @property
    def remaining(self) -> int:
        return self.last_number + 1 - self.next_number


class InvoicePayment(models.Model):
    """The payment state of an issued invoice (the invoice itself never changes). No row means
    unpaid."""

    class Status(models.TextChoices):
        UNPAID = "unpaid", _("Unpaid")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Payment failed")

    invoice = models.OneToOneField(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="payment"
    )
    status = models.CharField(
        _("payment state"), max_length=8, choices=Status.choices, default=Status.UNPAID
    )
    reference = models.CharField(_("gateway reference"), max_length=128, blank=True)
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    history = HistoricalRecords(excluded_fields=["changed_at"])

    class Meta:
        verbose_name = _("invoice payment")
        verbose_name_plural = _("invoice payments")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["unpaid", "paid", "failed"]),
                name="invoicepayment_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.status}"
