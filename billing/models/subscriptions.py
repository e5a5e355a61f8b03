"""Subscriptions, the plan ledger, usage records on Japan time, and promotion codes
(docs/billing.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .approvals import _approval_field
from .government import GovernmentContract
from .plans import MONEY, BillingCustomer, Plan


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
