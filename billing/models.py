"""Official Account plans, subscriptions, usage and invoices (docs/billing.md; LON charging in
docs/notifications.md).

Models hold data and invariants; every write goes through ``billing.services``. Money is
``Decimal`` TWD; per-message rates have four decimal places. Times are stored in UTC and, on
usage rows, the Japan-time day and month that LINE counts them in (``billing.periods``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from lbm.models import Invitation

from .exceptions import ImmutableDocument

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


class SecondApproval(models.Model):
    """A high-value decision proposed by one LINE staff member that takes effect only when a
    second one approves it (docs/billing.md#two-person-approvals): a credit or debit note above
    ``BILLING_TWO_PERSON_THRESHOLD``, a government contract, a batch of promotion codes. The
    proposed objects exist from the proposal on and point here (``approval``); until it is
    approved they count nowhere (``in_effect``). The history holds who proposed and who
    decided."""

    class Kind(models.TextChoices):
        CREDIT_NOTE = "credit_note", _("Credit or debit note")
        GOVERNMENT_CONTRACT = "government_contract", _("Government contract")
        PROMOTION_BATCH = "promotion_batch", _("Batch of promotion codes")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a second approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    summary = models.CharField(_("what is proposed"), max_length=255)
    amount = models.DecimalField(
        _("amount (TWD)"), max_digits=14, decimal_places=0, null=True, blank=True
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("proposed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    proposed_at = models.DateTimeField(_("proposed at"))
    review_due_on = models.DateField(_("approval due on"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved or rejected by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason of the decision"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("second approval")
        verbose_name_plural = _("second approvals")
        ordering = ["-proposed_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["credit_note", "government_contract", "promotion_batch"]),
                name="secondapproval_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "rejected"]),
                name="secondapproval_status_valid",
            ),
            # The second person is never the first (the services say so first, with a reason).
            models.CheckConstraint(
                condition=~Q(status="approved") | ~Q(decided_by=models.F("proposed_by")),
                name="secondapproval_not_by_proposer",
            ),
        ]
        indexes = [models.Index(fields=["status", "review_due_on"], name="secondapproval_queue")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"


def in_effect(prefix: str = "") -> Q:
    """Rows that need no second approval or have it (docs/billing.md#two-person-approvals);
    ``prefix`` leads to the row from another model, e.g. ``"contract__"``."""
    return Q(**{f"{prefix}approval__isnull": True}) | Q(
        **{f"{prefix}approval__status": SecondApproval.Status.APPROVED}
    )


def _approval_field(related_name: str):
    return models.ForeignKey(
        SecondApproval,
        verbose_name=_("second approval"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name=related_name,
    )


class GovernmentContract(models.Model):
    """A government main-plan contract (docs/billing.md#government-plans): yearly, tax included,
    fixed plan for the term."""

    customer = models.ForeignKey(
        BillingCustomer,
        verbose_name=_("billing customer"),
        on_delete=models.PROTECT,
        related_name="government_contracts",
    )
    plan = models.ForeignKey(
        Plan,
        verbose_name=_("plan"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"code__in": Plan.GOVERNMENT_MAIN_PLANS},
    )
    main_account = models.ForeignKey(
        "lbm.Account", verbose_name=_("main account"), on_delete=models.PROTECT, related_name="+"
    )
    starts_on = models.DateField(_("term starts"))
    ends_on = models.DateField(_("term ends"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Every contract is proposed and approved by two staff members; billed only once approved.
    approval = _approval_field("government_contracts")

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("government contract")
        verbose_name_plural = _("government contracts")
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")), name="govcontract_term_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.plan} {self.starts_on}–{self.ends_on}"


class GovernmentBlock(models.Model):
    """A purchase of sub-account or civil-servant accounts, billed by blocks of 10 for a full
    year and ending with the main contract's term."""

    class Kind(models.TextChoices):
        SUB_ACCOUNTS = "sub_accounts", _("Sub-account batch")
        CIVIL_SERVANTS = "civil_servants", _("Civil-servant accounts")

    contract = models.ForeignKey(
        GovernmentContract,
        verbose_name=_("contract"),
        on_delete=models.PROTECT,
        related_name="blocks",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    accounts = models.PositiveIntegerField(_("accounts"))
    purchased_on = models.DateField(_("purchased on"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("government account block")
        verbose_name_plural = _("government account blocks")
        ordering = ["contract", "purchased_on"]
        constraints = [
            models.CheckConstraint(condition=Q(accounts__gte=1), name="govblock_accounts_min"),
            models.CheckConstraint(
                condition=Q(kind__in=["sub_accounts", "civil_servants"]), name="govblock_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} × {self.accounts} ({self.purchased_on})"


class GovernmentAccount(models.Model):
    """An account on a government contract term's list (sub-accounts and civil servants).

    Civil-servant blocks are billed from the accounts that *ever* completed verification
    (``first_verified_at``, set once and never cleared): a civil servant who leaves is suspended
    and still counts (docs/billing.md#government-plans). The list is resubmitted for each renewal
    (``GovernmentRenewal``); an account not kept must be deleted by the agency
    (``deleted_on``) within the last 7 working days of the term."""

    Kind = GovernmentBlock.Kind

    contract = models.ForeignKey(
        GovernmentContract,
        verbose_name=_("contract"),
        on_delete=models.PROTECT,
        related_name="listed_accounts",
    )
    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=GovernmentBlock.Kind.choices)
    first_verified_at = models.DateTimeField(
        _("first verified at"),
        null=True,
        blank=True,
        help_text=_("When the account first completed verification; never cleared."),
    )
    kept_on_renewal = models.BooleanField(
        _("on the renewal list"),
        null=True,
        blank=True,
        help_text=_("Empty until the renewal list of this term is submitted."),
    )
    deleted_on = models.DateField(_("deleted by the agency on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("government listed account")
        verbose_name_plural = _("government listed accounts")
        ordering = ["contract", "kind", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "account"], name="govaccount_once_per_term"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["sub_accounts", "civil_servants"]),
                name="govaccount_kind_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["contract", "kind", "first_verified_at"], name="govaccount_verified"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.account_id}"

    @property
    def ever_verified(self) -> bool:
        return self.first_verified_at is not None


class GovernmentRenewal(models.Model):
    """The renewal list of a contract term: which listed accounts are kept for the next term
    (the others are flagged ``kept_on_renewal=False`` and must be deleted)."""

    contract = models.OneToOneField(
        GovernmentContract,
        verbose_name=_("term renewed"),
        on_delete=models.PROTECT,
        related_name="renewal",
    )
    next_contract = models.OneToOneField(
        GovernmentContract,
        verbose_name=_("next term"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="renews",
    )
    submitted_on = models.DateField(_("list submitted on"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("government renewal list")
        verbose_name_plural = _("government renewal lists")
        ordering = ["-submitted_on"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(next_contract=models.F("contract")),
                name="govrenewal_next_is_another_term",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} ({self.submitted_on})"


class Subscription(models.Model):
    """The plan of one Official Account (one subscription per OA) and who pays for it."""

    account = models.OneToOneField(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="subscription",
        limit_choices_to={"kind": "oa"},
    )
    customer = models.ForeignKey(
        BillingCustomer,
        verbose_name=_("billing customer"),
        on_delete=models.PROTECT,
        related_name="subscriptions",
    )
    plan = models.ForeignKey(
        Plan, verbose_name=_("current plan"), on_delete=models.PROTECT, related_name="subscriptions"
    )
    contract = models.ForeignKey(
        GovernmentContract,
        verbose_name=_("government contract"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subscriptions",
    )
    started_on = models.DateField(_("started on"))
    # A downgrade waits for the 1st of the next month.
    scheduled_plan = models.ForeignKey(
        Plan,
        verbose_name=_("scheduled plan"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    scheduled_from = models.DateField(_("scheduled from"), null=True, blank=True)
    monthly_limit = models.PositiveIntegerField(
        _("monthly message limit"),
        null=True,
        blank=True,
        help_text=_("Optional cap on the month's messages set by the sender (target limit)."),
    )
    chat_advanced = models.BooleanField(_("chat advanced plan (monthly)"), default=False)
    target_friends = models.PositiveIntegerField(
        _("target friends"),
        null=True,
        blank=True,
        help_text=_("Government sub-accounts may have at most 5,000."),
    )
    premium_id_since = models.DateField(
        _("premium ID since"),
        null=True,
        blank=True,
        help_text=_("Charged yearly: in this month and on each anniversary month."),
    )
    suspended_at = models.DateTimeField(
        _("suspended at"),
        null=True,
        blank=True,
        help_text=_("A suspended account cannot send; it still counts on a government list."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["account__name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scheduled_plan__isnull=True, scheduled_from__isnull=True)
                    | Q(scheduled_plan__isnull=False, scheduled_from__isnull=False)
                ),
                name="subscription_schedule_complete",
            ),
        ]

    def __str__(self) -> str:
        # An unsaved subscription (the admin's add form) has no plan yet.
        plan = self.plan if self.plan_id else "—"
        account = self.account if self.account_id else "—"
        return f"{account} – {plan}"


class PlanChange(models.Model):
    """The plan ledger of a subscription: every start, upgrade and downgrade, with its month.

    ``period`` is the month from which the change counts. Starts and downgrades count from the
    first of their month; upgrades count at once, in their month, and cost ``charge``."""

    class Kind(models.TextChoices):
        START = "start", _("Start")
        UPGRADE = "upgrade", _("Upgrade")
        DOWNGRADE = "downgrade", _("Downgrade")

    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        on_delete=models.PROTECT,
        related_name="changes",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    from_plan = models.ForeignKey(
        Plan,
        verbose_name=_("from plan"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_plan = models.ForeignKey(
        Plan, verbose_name=_("to plan"), on_delete=models.PROTECT, related_name="+"
    )
    period = models.DateField(_("billing month"))
    charge = models.DecimalField(_("charge (TWD)"), **MONEY, default=0)
    promotion_code = models.ForeignKey(
        "PromotionCode",
        verbose_name=_("promotion code"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    deducted = models.DecimalField(_("deducted by promotion code"), **MONEY, default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("plan change")
        verbose_name_plural = _("plan changes")
        ordering = ["subscription", "period", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["start", "upgrade", "downgrade"]),
                name="planchange_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(charge__gte=0)
                & Q(deducted__gte=0)
                & Q(deducted__lte=models.F("charge")),
                name="planchange_amounts_valid",
            ),
        ]
        indexes = [models.Index(fields=["period", "subscription"], name="planchange_period")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.from_plan or '—'} → {self.to_plan} ({self.period})"


class UsageKind(models.TextChoices):
    BROADCAST = "broadcast", _("Broadcast")
    NARROWCAST = "narrowcast", _("Segmented message (narrowcast)")
    STEP = "step", _("Step message")
    API = "api", _("Messaging API message")
    API_REVIEWED = "api_reviewed", _("Reviewed-feature API message (billed separately)")
    NOTIFICATION = "notification", _("LINE notification message (LON), delivered")
    DISASTER_RELIEF = "disaster_relief", _("Disaster-relief message approved by LINE (free)")
    # Seed 001: 「此訊息不列入傳送則數計算」 — recorded, never counted nor billed.
    SURVEY = "survey", _("Account satisfaction survey (not counted)")


class UsageRecord(models.Model):
    """One send by an Official Account: how many messages it counts and when (ledger).

    ``line_day`` and ``period`` are Japan time, computed from ``sent_at`` by
    ``billing.periods`` when the row is written."""

    Kind = UsageKind

    # Counted against the plan's quota, per recipient (docs/billing.md).
    QUOTA_KINDS = (Kind.BROADCAST, Kind.NARROWCAST, Kind.STEP, Kind.API)
    # Government plans count OA Manager broadcast and segmented sends, one per send.
    SEND_KINDS = (Kind.BROADCAST, Kind.NARROWCAST)

    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="usage",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    recipients = models.PositiveIntegerField(
        _("messages"),
        help_text=_("Messages counted: one per target friend (or per delivered notice)."),
    )
    sends = models.PositiveIntegerField(_("sends"), default=1)
    # Up to 3 bubbles (speech balloons) still count as one message (docs/billing.md).
    bubbles = models.PositiveSmallIntegerField(_("bubbles"), default=1)
    sent_at = models.DateTimeField(_("sent at"))
    line_day = models.DateField(_("LINE day (Japan time)"))
    period = models.DateField(_("billing month (Japan time)"))
    # NULL, not "", when absent: the partial unique constraint ignores rows without a source.
    dedupe_key = models.CharField(  # noqa: DJ001
        _("source reference"),
        max_length=64,
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "dedupe_key"],
                condition=Q(dedupe_key__isnull=False),
                name="usage_unique_source",
            ),
            models.CheckConstraint(condition=Q(kind__in=UsageKind.values), name="usage_kind_valid"),
            models.CheckConstraint(
                condition=Q(bubbles__gte=1, bubbles__lte=3), name="usage_bubbles_1_to_3"
            ),
        ]
        indexes = [
            models.Index(fields=["period", "account", "kind"], name="usage_period_account"),
            models.Index(fields=["account", "line_day"], name="usage_account_day"),
            # The admin's default ordering (newest first).
            models.Index(fields=["-sent_at"], name="usage_recent"),
            # The admin's filter by kind, newest first.
            models.Index(fields=["kind", "-sent_at"], name="usage_kind_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.recipients} @ {self.sent_at:%Y-%m-%d %H:%M}"


class PromotionCode(models.Model):
    """A one-use promotion code (優惠活動代碼, docs/billing.md#promotion-codes), face value
    1,200."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        REGISTERED = "registered", _("Registered for the next renewal")
        REDEEMED = "redeemed", _("Redeemed")

    code = models.CharField(_("code"), max_length=32, unique=True)
    face_value = models.DecimalField(_("face value (TWD)"), **MONEY, default=1200)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.AVAILABLE
    )
    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="promotion_codes",
    )
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    redeemed_for = models.CharField(_("redeemed for"), max_length=64, blank=True)
    deducted = models.DecimalField(_("deducted"), **MONEY, default=0)
    forfeited = models.DecimalField(_("forfeited"), **MONEY, default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Codes of a batch wait for its second approval before they can be used.
    approval = _approval_field("promotion_codes")

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("promotion code")
        verbose_name_plural = _("promotion codes")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["available", "registered", "redeemed"]),
                name="promotioncode_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="redeemed") | Q(redeemed_at__isnull=False),
                name="promotioncode_redeemed_has_time",
            ),
            models.CheckConstraint(
                condition=Q(status="available") | Q(subscription__isnull=False),
                name="promotioncode_used_has_subscription",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__gte=models.F("valid_from")), name="promotioncode_validity"
            ),
        ]

    def __str__(self) -> str:
        return self.code


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
