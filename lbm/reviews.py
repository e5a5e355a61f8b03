"""One way to take a LINE reviewer's decision, for every reviewed object (organizations, account
links, notification templates): the same two decisions, the same errors, and the same record —
status, who, when, the reason the applicant sees, and a history row "Approved: <reason>"
(docs/organizations.md#review-pages-and-the-backlog).

A service calls ``review_reason`` first (before locking anything it may skip), returns early on a
repeated decision, checks its own transition and rules, calls ``require_reason`` and, once
everything passes, ``review_record``.
"""

from django.utils import timezone
from django.utils.translation import gettext as _

from .audit import record_change
from .exceptions import DomainError

APPROVED, REJECTED = "approved", "rejected"


def review_reason(decision: str, reason: str, *, error: type[DomainError] = DomainError) -> str:
    """``reason`` without surrounding blanks. Raises ``error`` unless ``decision`` is
    ``"approved"`` or ``"rejected"``."""
    if decision not in (APPROVED, REJECTED):
        raise error(_("A review decision is either approve or reject."))
    return (reason or "").strip()


def require_reason(decision: str, reason: str, *, error: type[DomainError] = DomainError) -> None:
    """Raises ``error`` for a rejection without a written reason."""
    if decision == REJECTED and not reason:
        raise error(_("A rejection needs a written reason for the applicant."))


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
    record_change(obj, actor=actor, reason=f"{verb}: {reason}" if reason else verb)
    obj.save(
        update_fields=["status", "reviewed_at", "reviewed_by", "review_reason", *update_fields]
    )
