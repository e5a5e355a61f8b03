"""Two people for high-value decisions: a proposal by one LINE staff member that takes effect
only when a second one approves it (docs/billing.md#two-person-approvals).

What needs it: a credit or debit note above ``settings.BILLING_TWO_PERSON_THRESHOLD`` (at or
below it a note takes effect at once), every government contract and every batch of promotion
codes. The proposed objects are written with the proposal and point to it; nothing reads them
as in effect until it is approved (``billing.models.in_effect``).
"""

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm.formatting import money
from lbm.workdays import review_due_date

from ..exceptions import BillingError
from ..models import SecondApproval
from ._base import _record, _require

Kind = SecondApproval.Kind
Status = SecondApproval.Status

# Who may propose a kind may approve another staff member's proposal of it.
KIND_PERMISSIONS = {
    Kind.CREDIT_NOTE: "add_creditnote",
    Kind.GOVERNMENT_CONTRACT: "add_governmentcontract",
    Kind.PROMOTION_BATCH: "add_promotioncode",
}


class SecondApprovalRefused(BillingError):
    """The approval or rejection cannot be made (already decided, or by the proposer)."""


def threshold() -> Decimal:
    return Decimal(settings.BILLING_TWO_PERSON_THRESHOLD)


def needs_second_approval(amount: Decimal) -> bool:
    """A note *above* the threshold waits; exactly the threshold takes effect at once."""
    return Decimal(amount) > threshold()


def approval_propose(
    *, kind: str, summary: str, actor, amount: Decimal | None = None, reason: str = ""
) -> SecondApproval:
    """Open the proposal (in the caller's transaction, before the proposed objects)."""
    now = timezone.now()
    approval = SecondApproval(
        kind=kind,
        summary=str(summary)[:255],
        amount=amount,
        proposed_by=actor,
        proposed_at=now,
        review_due_on=review_due_date(now),
    )
    _record(approval, actor=actor, reason=reason or _("Proposed; waits for a second approval"))
    approval.save()
    return approval


def waiting_message(approval: SecondApproval) -> str:
    """Why a proposed object is not in effect yet (or never will be)."""
    if approval.status == Status.REJECTED:
        return _("This was rejected at the second approval; it never takes effect.")
    return _(
        "This waits for a second approval by another LINE staff member; it takes effect only then."
    )


def require_in_effect(obj, field: str = "contract") -> None:
    """Refuse to build on an object (a government contract) whose proposal waits for its
    second approval or was rejected."""
    approval = obj.approval if obj.approval_id is not None else None
    if approval is not None and approval.status != Status.APPROVED:
        raise BillingError(waiting_message(approval), field=field)


def _locked(approval_id: int, actor) -> SecondApproval:
    approval = SecondApproval.objects.select_for_update().get(pk=approval_id)
    _require(actor, KIND_PERMISSIONS[approval.kind])
    if approval.status != Status.PENDING:
        raise SecondApprovalRefused(
            _("This proposal is already decided: %(status)s.")
            % {"status": approval.get_status_display()}
        )
    return approval


@transaction.atomic
def second_approval_approve(*, approval_id: int, actor, note: str = "") -> SecondApproval:
    """A second LINE staff member approves: the proposal takes effect now (a contract moves
    its main account onto the plan; a note counts on its invoice; a batch's codes can be used).
    Refused to the proposer, to anyone without the right to propose it, and when the proposal
    no longer fits (e.g. a credit above what the invoice still bills after other notes)."""
    approval = _locked(approval_id, actor)
    if approval.proposed_by_id is not None and approval.proposed_by_id == actor.pk:
        raise SecondApprovalRefused(
            _(
                "You proposed this, so you cannot approve it: two people are needed for this "
                "decision. Another LINE staff member must approve it."
            )
        )
    if approval.kind == Kind.CREDIT_NOTE:
        from .corrections import _check_pending_note

        _check_pending_note(approval)  # while it still counts nowhere
    approval.status, approval.decided_by = Status.APPROVED, actor
    approval.decided_at = timezone.now()
    approval.decision_reason = (note or "").strip()
    _record(approval, actor=actor, reason=note or _("Approved (second person)"))
    approval.save()
    if approval.kind == Kind.GOVERNMENT_CONTRACT:
        from .government import _contract_approved

        _contract_approved(approval, actor=actor)
    # A note counts and a batch's codes can be used (``_usable_code``) from now on.
    return approval


@transaction.atomic
def second_approval_reject(*, approval_id: int, actor, reason: str) -> SecondApproval:
    """Reject a proposal with a reason (its proposer may withdraw it so too): nothing of it
    ever takes effect."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError(_("A rejection needs a reason."), field="reason")
    approval = _locked(approval_id, actor)
    approval.status, approval.decided_by = Status.REJECTED, actor
    approval.decided_at, approval.decision_reason = timezone.now(), reason
    _record(approval, actor=actor, reason=reason)
    approval.save()
    return approval


def note_summary(*, kind_label, number: str, amount: Decimal, invoice_number: str) -> str:
    return _("%(kind)s %(number)s of %(amount)s on %(invoice)s") % {
        "kind": kind_label,
        "number": number,
        "amount": money(amount),
        "invoice": invoice_number,
    }
