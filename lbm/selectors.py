"""Reads for the review queue and the admin index."""

from dataclasses import dataclass

from django.db.models import QuerySet

from .models import AccountLink, Organization
from .workdays import taipei_today


def review_queue_organizations() -> QuerySet[Organization]:
    """Pending organizations, oldest submission first."""
    return Organization.objects.filter(status=Organization.Status.PENDING).order_by(
        "submitted_at", "pk")


def review_queue_links() -> QuerySet[AccountLink]:
    """Pending account links, oldest request first."""
    return (AccountLink.objects.filter(status=AccountLink.Status.PENDING)
            .select_related("organization", "account", "account__provider")
            .order_by("submitted_at", "pk"))


@dataclass(frozen=True)
class Backlog:
    organizations_pending: int
    organizations_overdue: int
    links_pending: int
    links_overdue: int

    @property
    def total_overdue(self) -> int:
        return self.organizations_overdue + self.links_overdue


def review_backlog() -> Backlog:
    """Counts for the reviewers' panel on the admin index (four indexed counts)."""
    today = taipei_today()
    orgs = Organization.objects.filter(status=Organization.Status.PENDING)
    links = AccountLink.objects.filter(status=AccountLink.Status.PENDING)
    return Backlog(
        organizations_pending=orgs.count(),
        organizations_overdue=orgs.filter(review_due_on__lt=today).count(),
        links_pending=links.count(),
        links_overdue=links.filter(review_due_on__lt=today).count(),
    )


# --- What an organization's own people read on its page (docs/organizations.md#next-steps) ----


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    detail: str = ""


def organization_next_steps(organization: Organization) -> dict:
    """For a draft or rejected organization: the steps to review, each done or not, the
    reviewer's reason after a rejection, and whether it may be submitted now."""
    from django.utils.translation import gettext as _

    from . import services

    missing = services.business_info_missing(organization)
    verified = services.contact_email_is_verified(organization)
    problems = services.submission_problems(organization)
    steps = [
        Step("business", _("Fill in the business information (商用資訊) below and save."),
             not missing, _("Still empty: %(fields)s.") % {"fields": "、".join(missing)}
             if missing else ""),
        Step("verify", _("Verify the contact e-mail address: open the link sent to it."),
             verified, "" if verified or not organization.contact_id else
             _("Sent to %(email)s. No e-mail? Send the link again.") % {
                 "email": _masked(organization.contact.email)}),
    ]
    if organization.status == Organization.Status.REJECTED:
        steps.append(Step("fix", _("Fix what the LINE reviewer asked (the reason is above) and "
                                   "save."), False))
    steps.append(Step("submit", _("Submit for review."), False))
    return {"steps": steps, "problems": problems, "may_submit": not problems,
            "rejected": organization.status == Organization.Status.REJECTED,
            "reason": organization.review_reason, "reviewed_at": organization.reviewed_at}


def _masked(email: str) -> str:
    from . import pii

    return pii.mask_email(email or "")


def deleted_organizations_of(user) -> QuerySet[Organization]:
    """The deleted organizations ``user`` was a member of: they are told it was deleted and
    when, instead of finding nothing."""
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(status=Organization.Status.DELETED,
                                       memberships__user=user).order_by("-deleted_at")
