"""Sharing audiences to linked accounts, and how each linked account receives the
organization's resources (docs/audiences.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .audiences import Audience

# Sharing thresholds (docs/audiences.md).
MIN_SIZE_TO_SHARE_TO_OA = 100
MIN_REACHABLE_TO_SEND = 50


class AudienceShare(models.Model):
    """An audience shared to a linked account, with its reachable size for that account."""

    audience = models.ForeignKey(
        Audience, verbose_name=_("audience"), on_delete=models.CASCADE, related_name="shares"
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
    reachable_size = models.BigIntegerField(
        _("reachable size"),
        default=0,
        help_text=_("Members who are friends of the account and have not blocked it."),
    )
    reachable_computed_at = models.DateTimeField(
        _("reachable size computed at"), null=True, blank=True
    )

    history = HistoricalRecords(excluded_fields=["reachable_size", "reachable_computed_at"])

    class Meta:
        verbose_name = _("audience share")
        verbose_name_plural = _("audience shares")
        constraints = [
            models.UniqueConstraint(fields=["audience", "account"], name="audienceshare_unique")
        ]

    def __str__(self) -> str:
        return f"{self.audience} → {self.account}"

    @property
    def organization(self):
        return self.audience.organization

    @property
    def usable_for_sending(self) -> bool:
        return self.reachable_size >= MIN_REACHABLE_TO_SEND


class SharingMode(models.TextChoices):
    SHARE_ALL = "share_all", _("Share all resources")
    SHARE_SELECTED = "share_selected", _("Share selected resources only")


class LinkSharing(models.Model):
    """How one linked account receives the organization's resources
    (docs/audiences.md#sharing-per-linked-account, 全部共享／部分分享):
    ``share_all`` shares every organization audience and LINE Tag to it, now and whenever one
    is created; ``share_selected`` shares only what is chosen one by one (possibly nothing).
    A new link starts with the organization's ``share_mode``."""

    Mode = SharingMode

    link = models.OneToOneField(
        "lbm.AccountLink",
        verbose_name=_("account link"),
        on_delete=models.CASCADE,
        related_name="sharing",
    )
    mode = models.CharField(_("sharing"), max_length=16, choices=Mode.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("sharing with a linked account")
        verbose_name_plural = _("sharing with linked accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["share_all", "share_selected"]), name="linksharing_mode_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.link}: {self.get_mode_display()}"
