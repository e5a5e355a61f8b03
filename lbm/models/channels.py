"""Messaging API channels of Official Accounts and their access tokens."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .accounts import Account


class Channel(models.Model):
    """The Messaging API channel of an Official Account: its secret signs webhook bodies
    (``X-Line-Signature``), its access tokens authenticate API calls."""

    account = models.OneToOneField(
        Account,
        verbose_name=_("Official Account"),
        on_delete=models.CASCADE,
        related_name="channel",
        limit_choices_to={"kind": "oa"},
    )
    channel_id = models.CharField(_("channel ID"), max_length=10, unique=True)
    channel_secret = models.CharField(_("channel secret"), max_length=32, editable=False)
    bot_user_id = models.CharField(
        _("bot user ID"),
        max_length=33,
        unique=True,
        help_text=_("The “destination” of webhook events."),
    )
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["channel_secret"])

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["channel_id"]

    def __str__(self) -> str:
        return f"{self.channel_id} ({self.account.display_id})"


class ChannelAccessToken(models.Model):
    """A channel access token. Only its SHA-256 is stored; the token is shown once."""

    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("token starts with"), max_length=8, editable=False)
    label = models.CharField(_("label"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        verbose_name = _("channel access token")
        verbose_name_plural = _("channel access tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.channel.channel_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
