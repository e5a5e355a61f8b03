"""Files of IDs imported in the background, as a new audience or an addition
(docs/audiences.md#uploading)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .audiences import Audience
from .choices import IdType


class UploadStatus(models.TextChoices):
    # Before the person confirms (docs/audiences.md#uploading): the file is checked and counted,
    # then waits for the confirmation; nothing is stored in an audience until it is given.
    CHECKING = "checking", _("Checking the file")
    AWAITING = "awaiting", _("Waiting for your confirmation")
    QUEUED = "queued", _("Queued")
    VALIDATING = "validating", _("Validating")
    STORING = "storing", _("Storing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class AudienceUpload(models.Model):
    """A file of IDs being imported in the background, as a new audience or an addition.

    The raw file is deleted once processed; ``error`` holds line numbers and reasons only, never
    the offending values (they may be phone numbers or addresses)."""

    Status = UploadStatus
    FINISHED = (UploadStatus.DONE, UploadStatus.FAILED)
    UNCONFIRMED = (UploadStatus.CHECKING, UploadStatus.AWAITING)

    organization = models.ForeignKey(
        "lbm.Organization",
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="audience_uploads",
    )
    audience = models.ForeignKey(
        Audience,
        verbose_name=_("audience"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="uploads",
        help_text=_("The audience added to, or the one created."),
    )
    name = models.CharField(_("new audience name"), max_length=120, blank=True)
    description = models.TextField(_("description"), blank=True)
    id_type = models.CharField(_("ID type"), max_length=8, choices=IdType.choices)
    id_type_guessed = models.BooleanField(_("ID type guessed from the file"), default=False)
    file = models.FileField(_("file"), upload_to="audience-uploads/", blank=True)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    file_size = models.BigIntegerField(_("file size"), default=0)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    id_count = models.BigIntegerField(_("IDs"), default=0)
    # Before the import: how many of the IDs the audience does not have yet; after: how many
    # were added.
    added_count = models.BigIntegerField(_("IDs added"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("audience upload")
        verbose_name_plural = _("audience uploads")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=UploadStatus.values), name="audienceupload_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="audienceupload_progress_range"
            ),
            models.CheckConstraint(
                condition=~Q(name="") | Q(audience__isnull=False),
                name="audienceupload_name_or_audience",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name or f"upload {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
