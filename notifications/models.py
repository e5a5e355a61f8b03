"""LINE notification messages (LON, docs/notifications.md): applications, reviewed templates,
notices sent by phone number, and the ``delivery`` webhooks they set off.

Models hold data and invariants only; every write goes through ``notifications.services``.

Personal data: a notice keeps the keyed hash of the phone number (``lbm.pii.keyed_hash``, the
form ``audiences.LineUser.phone_hash`` uses) for matching and counting. The LINE-style hash the
company sent (needed for the webhook's ``delivery.data`` and the failed-notice export) and the
placeholder values are kept only encrypted (``notifications.crypto``); the values are cleared
when the notice is settled, the hash ``RETENTION`` after that.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

# Failures other than a phone mismatch show after 24 hours (docs/notifications.md#settling).
SETTLE_WINDOW = timedelta(hours=24)
# Condition 4: SMS verification within the last 6 months (calendar months).
SMS_VERIFICATION_MONTHS = 6
# How long the encrypted LINE-style hash of a settled notice is kept (webhook retries, the
# failed-notice export for SMS fallback), then purged by the beat-scheduled task.
RETENTION = timedelta(days=30)
# The onboarding takes 10–20 working days (docs/notifications.md#applications).
ONBOARDING_WORKING_DAYS = (10, 20)


# --- Scenarios (適用情境清單, docs/notifications.md#applications) -------------------------------


class Category(models.TextChoices):
    SHOPPING = "shopping", _("Shopping")
    ORDERING = "ordering", _("Ordering")
    RESERVATION = "reservation", _("Reservations")
    REGISTRATION = "registration", _("Registration / application")
    POINTS = "points", _("Points")
    PAYMENT = "payment", _("Payment")
    OTP = "otp", _("OTP")
    BILL = "bill", _("Bills")
    RENTAL = "rental", _("Rental")
    REMINDER = "reminder", _("Reminders")
    REPAIR = "repair", _("Repair")
    OUTAGE = "outage", _("Outage")
    ENQUIRY = "enquiry", _("Enquiry guidance")


class Scenario(models.TextChoices):
    DELIVERY = "delivery", _("1. Delivery notice")
    PURCHASE = "purchase", _("2. Purchase completed")
    CUSTOM_PRODUCT = "custom_product", _("3. Custom product made")
    RESERVATION = "reservation", _("4. Reservation made or cancelled")
    RESERVATION_REMINDER = "reservation_reminder", _("5. Reservation reminder")
    REGISTRATION = "registration", _("6. Registration completed")
    CARD_ISSUED = "card_issued", _("7. Bank card issued")
    ACCOUNT_OPENED = "account_opened", _("8. Bank account opened")
    POINTS = "points", _("9. Points earned")
    PAYMENT = "payment", _("10. Payment completed")
    OTP_SIGNUP = "otp_signup", _("11. OTP for member sign-up")
    BILL = "bill", _("12. Bill (periodic)")
    RENTAL_DUE = "rental_due", _("13. Rental due")
    CONTRACT_DEADLINE = "contract_deadline", _("14. Contract or application deadline reminder")
    PAYMENT_DEADLINE = "payment_deadline", _("15. Payment deadline reminder")
    REPAIR = "repair", _("16. Repair completed")
    OUTAGE = "outage", _("17. Outage or maintenance of utilities")
    ENQUIRY = "enquiry", _("18. Guidance to the enquiry channel")


SCENARIO_CATEGORY = {
    Scenario.DELIVERY: Category.SHOPPING,
    Scenario.PURCHASE: Category.SHOPPING,
    Scenario.CUSTOM_PRODUCT: Category.ORDERING,
    Scenario.RESERVATION: Category.RESERVATION,
    Scenario.RESERVATION_REMINDER: Category.RESERVATION,
    Scenario.REGISTRATION: Category.REGISTRATION,
    Scenario.CARD_ISSUED: Category.REGISTRATION,
    Scenario.ACCOUNT_OPENED: Category.REGISTRATION,
    Scenario.POINTS: Category.POINTS,
    Scenario.PAYMENT: Category.PAYMENT,
    Scenario.OTP_SIGNUP: Category.OTP,
    Scenario.BILL: Category.BILL,
    Scenario.RENTAL_DUE: Category.RENTAL,
    Scenario.CONTRACT_DEADLINE: Category.REMINDER,
    Scenario.PAYMENT_DEADLINE: Category.REMINDER,
    Scenario.REPAIR: Category.REPAIR,
    Scenario.OUTAGE: Category.OUTAGE,
    Scenario.ENQUIRY: Category.ENQUIRY,
}


class ServiceType(models.TextChoices):
    """What a reservation is for: scenarios 4 and 5 only for the first three."""

    RESTAURANT = "restaurant", _("Restaurant reservation")
    OFFLINE_SERVICE = "offline_service", _("Offline service")
    OFFLINE_EVENT = "offline_event", _("Offline event")
    OTHER = "other", _("Other")


RESERVATION_SERVICE_TYPES = (
    ServiceType.RESTAURANT,
    ServiceType.OFFLINE_SERVICE,
    ServiceType.OFFLINE_EVENT,
)
RESERVATION_SCENARIOS = (Scenario.RESERVATION, Scenario.RESERVATION_REMINDER)


class Utility(models.TextChoices):
    """Scenario 17 covers the infrastructure of power, gas and telecom only."""

    POWER = "power", _("Power")
    GAS = "gas", _("Gas")
    TELECOM = "telecom", _("Telecom")


class FieldKind(models.TextChoices):
    """Kinds of template fields and what the UX guideline says of them for an exempt template:
    ✕ may not be shown, △ must be masked (``FIELD_RULES``)."""

    TEXT = "text", _("Text")
    DATE = "date", _("Date / time")
    AMOUNT = "amount", _("Amount")
    ORDER_NUMBER = "order_number", _("Order or reference number")
    NAME = "name", _("Person's name")
    PHONE = "phone", _("Phone number")
    EMAIL = "email", _("E-mail address")
    ADDRESS = "address", _("Address")
    CARD_NUMBER = "card_number", _("Card number")
    ACCOUNT_NUMBER = "account_number", _("Bank account number")
    NATIONAL_ID = "national_id", _("National ID number")
    BIRTH_DATE = "birth_date", _("Date of birth")
    PASSWORD = "password", _("Password")


FORBIDDEN = "x"
MASKED = "mask"
FIELD_RULES = {
    FieldKind.NATIONAL_ID: FORBIDDEN,
    FieldKind.BIRTH_DATE: FORBIDDEN,
    FieldKind.PASSWORD: FORBIDDEN,
    FieldKind.NAME: MASKED,
    FieldKind.PHONE: MASKED,
    FieldKind.EMAIL: MASKED,
    FieldKind.ADDRESS: MASKED,
    FieldKind.CARD_NUMBER: MASKED,
    FieldKind.ACCOUNT_NUMBER: MASKED,
}


# --- Applications -----------------------------------------------------------------------------


class Stage(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCENARIO_REVIEW = "scenario_review", _("Scenario review")
    CONTRACT = "contract", _("Contract (purchase agreement and NDA)")
    TESTING = "testing", _("Testing and acceptance")
    LIVE = "live", _("Live")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")


def _upload_to(instance, filename: str) -> str:
    return f"notifications/applications/{instance.account_id}/{filename}"


class Application(models.Model):
    """An Official Account's application for notification messages (one per account)."""

    Stage = Stage

    # Stages LINE reviewers work on, in order; each one's next stage.
    REVIEW_STAGES = (Stage.SCENARIO_REVIEW, Stage.CONTRACT, Stage.TESTING)
    NEXT = {
        Stage.SCENARIO_REVIEW: Stage.CONTRACT,
        Stage.CONTRACT: Stage.TESTING,
        Stage.TESTING: Stage.LIVE,
    }
    CUSTOMER_EDITABLE = (Stage.DRAFT, Stage.REJECTED)
    TRANSITIONS = {
        Stage.DRAFT: {Stage.SCENARIO_REVIEW},
        Stage.REJECTED: {Stage.SCENARIO_REVIEW},
        Stage.SCENARIO_REVIEW: {Stage.CONTRACT, Stage.REJECTED},
        Stage.CONTRACT: {Stage.TESTING, Stage.REJECTED},
        Stage.TESTING: {Stage.LIVE, Stage.REJECTED},
        Stage.LIVE: {Stage.SUSPENDED},
        Stage.SUSPENDED: {Stage.LIVE},
    }

    account = models.OneToOneField(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="lon_application",
        limit_choices_to={"kind": "oa"},
    )
    stage = models.CharField(
        _("stage"), max_length=16, choices=Stage.choices, default=Stage.DRAFT, db_index=True
    )
    scenarios = models.JSONField(
        _("scenarios"), default=list, help_text=_("The scenarios the company will send.")
    )
    use_description = models.TextField(_("how the notices will be used"), blank=True)
    purchase_agreement = models.FileField(_("purchase agreement"), upload_to=_upload_to, blank=True)
    nda = models.FileField(_("NDA"), upload_to=_upload_to, blank=True)
    test_recording = models.FileField(_("test recording"), upload_to=_upload_to, blank=True)
    test_recording_checked_at = models.DateTimeField(
        _("test recording checked at"), null=True, blank=True, editable=False
    )
    test_recording_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("test recording checked by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True, editable=False)
    stage_changed_at = models.DateTimeField(
        _("stage changed at"), null=True, blank=True, editable=False
    )
    expected_earliest = models.DateField(
        _("expected finish (earliest)"), null=True, blank=True, editable=False
    )
    expected_latest = models.DateField(
        _("expected finish (latest)"), null=True, blank=True, editable=False
    )
    review_reason = models.TextField(_("reason of the last decision"), blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("notification-message application")
        verbose_name_plural = _("notification-message applications")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="lon_application_stage_valid"
            ),
        ]
        indexes = [models.Index(fields=["stage", "stage_changed_at"], name="lon_application_queue")]

    def __str__(self) -> str:
        return str(self.account)


class ApplicationReview(Application):
    class Meta:
        proxy = True
        verbose_name = _("notification-message application review")
        verbose_name_plural = _("review queue: notification-message applications")


# --- Templates --------------------------------------------------------------------------------


class Template(models.Model):
    """A notification template of an Official Account; its content lives in versions."""

    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="lon_templates",
        limit_choices_to={"kind": "oa"},
    )
    name = models.CharField(_("name"), max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="lon_template_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded by a newer approved version")


class CtaKind(models.TextChoices):
    LINK = "link", _("https link")
    LIFF = "liff", _("LIFF page")


class TemplateVersion(models.Model):
    """One immutable version of a template's content. Any change is a new version, reviewed
    again; only an approved version can be sent."""

    Status = VersionStatus
    CtaKind = CtaKind

    template = models.ForeignKey(
        Template, verbose_name=_("template"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    scenario = models.CharField(_("scenario"), max_length=24, choices=Scenario.choices)
    service_type = models.CharField(
        _("service type"), max_length=16, choices=ServiceType.choices, blank=True
    )
    utility = models.CharField(_("utility"), max_length=8, choices=Utility.choices, blank=True)
    promotional_points = models.BooleanField(
        _("points given free by a promotion"),
        default=False,
        help_text=_("Scenario 9 may not notify free points given by a promotion."),
    )
    title = models.CharField(_("title"), max_length=40)
    body = models.TextField(_("body"), max_length=1000)
    placeholders = models.JSONField(
        _("placeholders"),
        default=list,
        blank=True,
        help_text=_("Names used as {{name}} in the title, body, fields and link."),
    )
    fields = models.JSONField(
        _("fields"),
        default=list,
        blank=True,
        help_text=_('List of {"label", "value", "kind", "masked"}; values may use placeholders.'),
    )
    cta_label = models.CharField(_("call-to-action label"), max_length=20, blank=True)
    cta_kind = models.CharField(
        _("call-to-action kind"), max_length=8, choices=CtaKind.choices, blank=True
    )
    cta_url = models.CharField(_("call-to-action URL"), max_length=1000, blank=True)
    exempt = models.BooleanField(
        _("phone-verification exempt"),
        default=False,
        help_text=_(
            "Delivered without condition 4 (SMS verification in 6 months); allowed only "
            "when no forbidden field is shown and the fields to mask are masked."
        ),
    )
    prescreen_flags = models.JSONField(
        _("pre-screen flags"), default=list, blank=True, editable=False
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True, editable=False)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    review_reason = models.TextField(_("review reason"), blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"], name="lon_version_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values), name="lon_version_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(scenario__in=Scenario.values), name="lon_version_scenario_valid"
            ),
            # Reservations: restaurants, offline services, events (docs/notifications.md#templates).
            models.CheckConstraint(
                condition=~Q(scenario__in=["reservation", "reservation_reminder"])
                | Q(service_type__in=["restaurant", "offline_service", "offline_event"]),
                name="lon_version_reservation_service",
            ),
            models.CheckConstraint(
                condition=~Q(scenario="outage") | ~Q(utility=""), name="lon_version_outage_utility"
            ),
            models.CheckConstraint(
                condition=~Q(scenario="points") | Q(promotional_points=False),
                name="lon_version_points_not_free",
            ),
            models.CheckConstraint(
                condition=Q(cta_url="") | Q(cta_url__startswith="https://"),
                name="lon_version_cta_https",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"

    @property
    def account(self):
        """The Official Account (``lbm.permissions`` resolves rights through it)."""
        return self.template.account

    @property
    def category(self) -> str:
        return SCENARIO_CATEGORY[Scenario(self.scenario)]


class TemplateVersionReview(TemplateVersion):
    class Meta:
        proxy = True
        verbose_name = _("template review")
        verbose_name_plural = _("review queue: notification templates")


# --- Notices ----------------------------------------------------------------------------------


class NoticeState(models.TextChoices):
    PENDING = "pending", _("Pending (up to 24 hours)")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class NoticeReason(models.TextChoices):
    """Why a notice is not delivered (yet): provisional while pending, final once failed."""

    PHONE_MISMATCH = "phone_mismatch", _("The phone number matches no LINE user")
    BLOCKED = "blocked", _("The user blocks the Official Account")
    CONSENT_OFF = "consent_off", _("The user turned notification messages off")
    CONSENT_UNANSWERED = "consent_unanswered", _("The user has not answered the consent page")
    SMS_UNVERIFIED = (
        "sms_unverified",
        _("The user has not verified their number by SMS in 6 months"),
    )


class UserFlow(models.TextChoices):
    """What LINE shows the user first (用戶狀態比對表, docs/notifications.md#judging-a-push)."""

    NONE = "", _("Nothing")
    CONSENT_PAGE = "consent_page", _("Consent page")
    SMS_VERIFICATION = "sms_verification", _("SMS verification flow")


class Notice(models.Model):
    """One notification message sent to one phone number."""

    State = NoticeState
    Reason = NoticeReason
    Flow = UserFlow

    # Indexes are few on purpose (100,000-notice batches): the account is covered by
    # ``lon_notice_daily``; versions and senders are never looked up from here.
    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="lon_notices",
        db_index=False,
    )
    template_version = models.ForeignKey(
        TemplateVersion,
        verbose_name=_("template version"),
        on_delete=models.PROTECT,
        related_name="notices",
        db_index=False,
    )
    request_id = models.UUIDField(_("request ID"))
    # Not indexed: it is looked up only among pending notices (``lon_notice_pending``).
    phone_hash = models.CharField(_("phone number (keyed hash)"), max_length=64)
    # Fernet tokens (notifications.crypto); "" once purged.
    line_hash_secret = models.TextField(blank=True, editable=False)
    values_secret = models.TextField(blank=True, editable=False)
    delivery_tag = models.CharField(_("delivery tag"), max_length=100, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices, blank=True)
    user_flow = models.CharField(
        _("shown to the user first"), max_length=16, choices=Flow.choices, blank=True
    )
    accepted_at = models.DateTimeField(_("accepted at"))
    line_day = models.DateField(_("LINE day (Japan time)"))
    deadline_at = models.DateTimeField(_("settles at the latest"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    charged_at = models.DateTimeField(_("charged at"), null=True, blank=True)
    purged_at = models.DateTimeField(_("personal data purged at"), null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices (delivery records)")
        ordering = ["-accepted_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=NoticeState.values), name="lon_notice_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(reason="") | Q(reason__in=NoticeReason.values),
                name="lon_notice_reason_valid",
            ),
            models.CheckConstraint(
                condition=Q(user_flow__in=UserFlow.values), name="lon_notice_flow_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    state="delivered",
                    reason="",
                    delivered_at__isnull=False,
                    settled_at__isnull=False,
                )
                | Q(state="failed", settled_at__isnull=False, delivered_at__isnull=True)
                & ~Q(reason="")
                | Q(state="pending", settled_at__isnull=True, delivered_at__isnull=True)
                & ~Q(reason=""),
                name="lon_notice_state_consistent",
            ),
            # Only delivered notices are charged (0.2 each); failures are free.
            models.CheckConstraint(
                condition=Q(charged_at__isnull=True) | Q(state="delivered"),
                name="lon_notice_charged_only_delivered",
            ),
            models.CheckConstraint(
                condition=Q(delivery_tag="") | Q(delivery_tag__regex=r"^[\x20-\x7e]{16,100}$"),
                name="lon_notice_tag_length",
            ),
        ]
        indexes = [
            # The admin's default ordering (newest first): its pages read the index, no sort.
            models.Index(fields=["-accepted_at", "-id"], name="lon_notice_recent"),
            models.Index(
                fields=["deadline_at"], name="lon_notice_pending", condition=Q(state="pending")
            ),
            models.Index(fields=["account", "line_day", "state"], name="lon_notice_daily"),
            models.Index(
                fields=["settled_at"],
                name="lon_notice_settled",
                condition=Q(purged_at__isnull=True),
            ),
            # Delivered by a push, waiting for ``notices_finish`` (usually about a second).
            models.Index(
                fields=["id"],
                name="lon_notice_to_charge",
                condition=Q(state="delivered", charged_at__isnull=True),
            ),
            # The admin's search by request ID or delivery tag (docs/operations.md#admin-at-scale).
            models.Index(fields=["request_id"], name="lon_notice_request"),
            models.Index(
                fields=["delivery_tag"], name="lon_notice_tag", condition=~Q(delivery_tag="")
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_state_display()}"


class FailedNoticeExport(models.Model):
    """Audit row: who exported which failed notices (with their phone hashes), and when."""

    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("exported by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    exported_at = models.DateTimeField(_("exported at"))
    account_ids = models.JSONField(_("Official Accounts"), default=list)
    notice_count = models.PositiveIntegerField(_("notices"))

    class Meta:
        verbose_name = _("failed-notice export")
        verbose_name_plural = _("failed-notice exports")
        ordering = ["-exported_at"]

    def __str__(self) -> str:
        return f"{self.exported_at:%Y-%m-%d %H:%M} ({self.notice_count})"


# --- Webhooks ---------------------------------------------------------------------------------


class WebhookState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RETRYING = "retrying", _("Retrying")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (gave up)")


class WebhookDelivery(models.Model):
    """The ``delivery`` webhook event of one delivered notice and its outcome."""

    State = WebhookState

    notice = models.OneToOneField(
        Notice, verbose_name=_("notice"), on_delete=models.CASCADE, related_name="webhook"
    )
    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    webhook_event_id = models.CharField(_("webhook event ID"), max_length=26, unique=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Set when an execution claims the next attempt, before its POST; another execution waits
    # until it has passed (docs/notifications.md#webhooks).
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery webhook")
        verbose_name_plural = _("delivery webhooks")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=WebhookState.values), name="lon_webhook_state_valid"
            ),
        ]
        indexes = [models.Index(fields=["state"], name="lon_webhook_state")]

    def __str__(self) -> str:
        return self.webhook_event_id

    @property
    def done(self) -> bool:
        return self.state in (WebhookState.SENT, WebhookState.FAILED)


class WebhookAttempt(models.Model):
    """One HTTP attempt of a webhook: when, where, and what came back."""

    delivery = models.ForeignKey(
        WebhookDelivery,
        verbose_name=_("webhook"),
        on_delete=models.CASCADE,
        related_name="attempt_rows",
    )
    attempted_at = models.DateTimeField(_("attempted at"))
    url = models.CharField(_("URL"), max_length=500)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    response_excerpt = models.CharField(_("response (start)"), max_length=200, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "attempted_at", "pk"]

    def __str__(self) -> str:
        return f"{self.url} → {self.status_code or self.error}"


# --- Retry keys (docs/api.md#retry-keys) -----------------------------------------------------

# LINE keeps an accepted X-Line-Retry-Key for 24 hours; a retry within it is refused with 409.
RETRY_KEY_WINDOW = timedelta(hours=24)


class RetryKey(models.Model):
    """An ``X-Line-Retry-Key`` a channel sent with a send request that was accepted (a
    phone-number push or a narrowcast), kept ``RETRY_KEY_WINDOW`` so that a retry is answered
    409 instead of sending twice. One row per channel and key: the unique constraint is what
    makes two concurrent retries safe. Written and purged by ``notifications.retry_keys``."""

    class Endpoint(models.TextChoices):
        PNP_PUSH = "pnp_push", _("Notification message by phone number")
        NARROWCAST = "narrowcast", _("Narrowcast")

    channel = models.ForeignKey(
        "lbm.Channel", verbose_name=_("channel"), on_delete=models.CASCADE, related_name="+"
    )
    key = models.UUIDField(_("retry key"))
    endpoint = models.CharField(_("endpoint"), max_length=20, choices=Endpoint.choices)
    request_id = models.CharField(_("accepted request ID"), max_length=36)
    accepted_at = models.DateTimeField(_("accepted at"), db_index=True)

    class Meta:
        verbose_name = _("retry key")
        verbose_name_plural = _("retry keys")
        constraints = [
            models.UniqueConstraint(fields=["channel", "key"], name="retry_key_unique_per_channel")
        ]

    def __str__(self) -> str:
        return str(self.key)
