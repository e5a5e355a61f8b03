"""LINE Tags, the events they report, and their sharing to linked accounts (docs/audiences.md)."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .directory import LineUser

# LINE keeps web-traffic events (and audiences' windows) up to this long.
EVENT_RETENTION = timedelta(days=180)


class LineTag(models.Model):
    """An organization-level LINE Tag; web-traffic audiences are built from its events."""

    organization = models.ForeignKey(
        "lbm.Organization",
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="line_tags",
    )
    tag_id = models.CharField(_("tag ID"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # SHA-256 hex of the server-to-server access token (a random secret, shown once).
    token_hash = models.CharField(
        _("access token (hash)"), max_length=64, blank=True, editable=False
    )
    token_issued_at = models.DateTimeField(_("access token issued at"), null=True, blank=True)
    last_event_at = models.DateTimeField(_("last event"), null=True, blank=True)
    shared_with = models.ManyToManyField(
        "lbm.Account",
        through="LineTagShare",
        blank=True,
        related_name="shared_line_tags",
        verbose_name=_("shared with"),
    )

    history = HistoricalRecords(excluded_fields=["created_at", "last_event_at"])

    class Meta:
        verbose_name = _("LINE Tag")
        verbose_name_plural = _("LINE Tags")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "organization", name="linetag_name_unique_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.tag_id})"


class TagEvent(models.Model):
    """One event a LINE Tag reported (page view, conversion or a custom event name).

    ``line_user`` is the LINE user the event was matched to (by user ID, or by the keyed hash
    of a LINE-style phone/e-mail hash); empty when nobody in the directory matched, so the
    event counts for the tag but joins no audience. Kept ``EVENT_RETENTION`` days."""

    PAGE_VIEW = "PageView"
    CONVERSION = "Conversion"

    tag = models.ForeignKey(
        LineTag, verbose_name=_("LINE Tag"), on_delete=models.CASCADE, related_name="events"
    )
    line_user = models.ForeignKey(
        LineUser,
        verbose_name=_("LINE user"),
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
    )
    event = models.CharField(_("event"), max_length=64)
    url = models.CharField(_("page URL"), max_length=2000, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("LINE Tag event")
        verbose_name_plural = _("LINE Tag events")
        indexes = [models.Index(fields=["tag", "event", "occurred_at"], name="tagevent_lookup")]

    def __str__(self) -> str:
        return f"{self.tag_id}:{self.event}"


class LineTagShare(models.Model):
    tag = models.ForeignKey(
        LineTag, verbose_name=_("LINE Tag"), on_delete=models.CASCADE, related_name="shares"
    )
    account = models.ForeignKey(
        "lbm.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="+"
    )
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shared by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    shared_at = models.DateTimeField(_("shared at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("LINE Tag share")
        verbose_name_plural = _("LINE Tag shares")
        constraints = [
            models.UniqueConstraint(fields=["tag", "account"], name="linetagshare_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tag} → {self.account}"
