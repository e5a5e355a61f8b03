"""Notices sent by phone number, and failed-notice exports (docs/notifications.md#sending)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .templates import TemplateVersion

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
