"""Applications for notification messages and LINE's review stages
(docs/notifications.md#applications)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

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
