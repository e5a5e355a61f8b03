"""Delivery webhooks and their attempts (docs/notifications.md#webhooks), and the API's retry
keys (docs/api.md#retry-keys)."""

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .notices import Notice

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
