"""Second approvals: what one account manager proposes and another decides, and what is in
effect meanwhile (docs/billing.md#two-person-approvals)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class SecondApproval(models.Model):
    """A high-value decision proposed by one LINE staff member that takes effect only when a
    second one approves it (docs/billing.md#two-person-approvals): a credit or debit note above
    ``BILLING_TWO_PERSON_THRESHOLD``, a government contract, a batch of promotion codes. The
    proposed objects exist from the proposal on and point here (``approval``); until it is
    approved they count nowhere (``in_effect``). The history holds who proposed and who
    decided."""

    class Kind(models.TextChoices):
        CREDIT_NOTE = "credit_note", _("Credit or debit note")
        GOVERNMENT_CONTRACT = "government_contract", _("Government contract")
        PROMOTION_BATCH = "promotion_batch", _("Batch of promotion codes")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a second approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    summary = models.CharField(_("what is proposed"), max_length=255)
    amount = models.DecimalField(
        _("amount (TWD)"), max_digits=14, decimal_places=0, null=True, blank=True
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("proposed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    proposed_at = models.DateTimeField(_("proposed at"))
    review_due_on = models.DateField(_("approval due on"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved or rejected by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason of the decision"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("second approval")
        verbose_name_plural = _("second approvals")
        ordering = ["-proposed_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["credit_note", "government_contract", "promotion_batch"]),
                name="secondapproval_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "rejected"]),
                name="secondapproval_status_valid",
            ),
            # The second person is never the first (the services say so first, with a reason).
            models.CheckConstraint(
                condition=~Q(status="approved") | ~Q(decided_by=models.F("proposed_by")),
                name="secondapproval_not_by_proposer",
            ),
        ]
        indexes = [models.Index(fields=["status", "review_due_on"], name="secondapproval_queue")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"


def in_effect(prefix: str = "") -> Q:
    """Rows that need no second approval or have it (docs/billing.md#two-person-approvals);
    ``prefix`` leads to the row from another model, e.g. ``"contract__"``."""
    return Q(**{f"{prefix}approval__isnull": True}) | Q(
        **{f"{prefix}approval__status": SecondApproval.Status.APPROVED}
    )


def _approval_field(related_name: str):
    return models.ForeignKey(
        SecondApproval,
        verbose_name=_("second approval"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name=related_name,
    )
