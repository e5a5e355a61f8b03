"""The transactional outbox of tasks to publish (``lbm.outbox``, docs/reliability.md#the-outbox)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    """A task to publish, written in the same transaction as the state change it follows, and
    published after commit; the beat sweep publishes what the broker could not take then
    (``lbm.outbox``, docs/reliability.md#the-outbox)."""

    task = models.CharField(_("task"), max_length=200)
    kwargs = models.JSONField(_("arguments"), default=dict, blank=True)
    reason = models.CharField(_("why"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("publish attempts"), default=0)
    last_error = models.CharField(_("last publish error"), max_length=300, blank=True)
    consumed_at = models.DateTimeField(
        _("run at"),
        null=True,
        blank=True,
        help_text=_("Set by tasks that must run at most once (an e-mail)."),
    )

    class Meta:
        verbose_name = _("queued task")
        verbose_name_plural = _("queued tasks")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(published_at__isnull=True),
                name="outbox_unpublished",
            )
        ]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"

    @property
    def task_id(self) -> str:
        """The Celery task id of every publication of this row (the same each time)."""
        return f"outbox-{self.pk}"
