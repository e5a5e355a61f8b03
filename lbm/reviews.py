"""One way to take a LINE reviewer's decision, for every reviewed object (organizations, account
links, notification templates, notification-message applications): the same reason rule, the
same errors, and the same record (docs/organizations.md#review-pages-and-the-backlog).

A two-decision review (organizations, links, template versions) records the status, who, when,
the reason the applicant sees, and a history row "Approved: <reason>". Its service calls
``review_reason`` first (before locking anything it may skip), returns early on a repeated
decision, checks its own transition and rules, calls ``require_reason`` and, once everything
passes, ``review_record``.

A multi-stage review (applications: scenario review → contract → testing → live, rejected,
suspended, reinstated; docs/notifications.md#applications) trims the reason with
``clean_reason``, calls ``require_reason`` with the target stage as the decision (a stage
"rejected" is a rejection; ``required=True`` for a move that needs a reason too) and records the
move with ``stage_record``: the reason the applicant sees and a history row
"<old stage> → <new stage>: <reason>".
"""

from django.utils import timezone
from django.utils.translation import gettext as _

from .audit import record_change
from .exceptions import DomainError

APPROVED, REJECTED = "approved", "rejected"


def clean_reason(reason: str) -> str:
    """``reason`` without surrounding blanks (``None`` counts as no reason)."""
    return (reason or "").strip()


def review_reason(decision: str, reason: str, *, error: type[DomainError] = DomainError) -> str:
    """``reason`` without surrounding blanks. Raises ``error`` unless ``decision`` is
    ``"approved"`` or ``"rejected"``."""
    if decision not in (APPROVED, REJECTED):
        raise error(_("A review decision is either approve or reject."))
    return clean_reason(reason)


def require_reason(
    decision: str,
    reason: str,
    *,
    error: type[DomainError] = DomainError,
    required: bool = False,
) -> None:
    """Raises ``error`` for a rejection without a written reason, and — ``required`` — for any
    other decision without one (an application's suspension or reinstatement)."""
    if reason:
        return
    if decision == REJECTED:
        raise error(_("A rejection needs a written reason for the applicant."))
    if required:
        raise error(_("A written reason is required to reject, suspend or reinstate."))


def _history_text(text: str, reason: str) -> str:
    return f"{text}: {reason}" if reason else text


def review_record(
    obj, *, decision: str, reason: str, actor, update_fields: tuple[str, ...] = ("updated_at",)
) -> None:
    """Set ``obj``'s status, reviewer, review time and reason, record the history row, and save
    those fields (plus ``update_fields``)."""
    obj.status = decision
    obj.reviewed_at = timezone.now()
    obj.reviewed_by = actor
    obj.review_reason = reason
    verb = _("Approved") if decision == APPROVED else _("Rejected")
    record_change(obj, actor=actor, reason=_history_text(verb, reason))
    obj.save(
        update_fields=["status", "reviewed_at", "reviewed_by", "review_reason", *update_fields]
    )


def stage_record(
    obj,
    *,
    old_label: str,
    new_label: str,
    reason: str,
    actor,
    update_fields: tuple[str, ...] | list[str] = ("updated_at",),
) -> None:
    """Set ``obj``'s review reason, record the history row "<old_label> → <new_label>: <reason>"
    and save the reason (plus ``update_fields``). The caller has already set the new stage and
    whatever else the move changes, and names those fields in ``update_fields``."""
    obj.review_reason = reason
    text = _("%(old)s → %(new)s") % {"old": old_label, "new": new_label}
    record_change(obj, actor=actor, reason=_history_text(text, reason))
    obj.save(update_fields=["review_reason", *update_fields])
