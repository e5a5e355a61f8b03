"""Reads for the review queue and the admin index."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Min, Q, QuerySet
from django.utils.translation import gettext

from .models import AccountLink, Organization
from .workdays import review_due_date, taipei_today


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
class Queue:
    """One review queue on the dashboard: how many wait, how many are past their due date, and
    the earliest due date among them."""

    key: str
    label: str
    url_name: str
    pending: int
    overdue: int
    next_due: date | None
    overdue_query: str = "overdue=yes"


@dataclass(frozen=True)
class Backlog:
    organizations_pending: int
    organizations_overdue: int
    links_pending: int
    links_overdue: int
    queues: tuple[Queue, ...] = ()

    @property
    def total_overdue(self) -> int:
        return sum(q.overdue for q in self.queues) if self.queues else (
            self.organizations_overdue + self.links_overdue)


def _due_counts(queryset, today) -> tuple[int, int, date | None]:
    figures = queryset.aggregate(
        pending=Count("pk"), overdue=Count("pk", filter=Q(review_due_on__lt=today)),
        next_due=Min("review_due_on"))
    return figures["pending"], figures["overdue"], figures["next_due"]


def review_backlog(user=None) -> Backlog:
    """The reviewers' backlog (docs/organizations.md#review-backlog): every queue with its
    pending and overdue counts and its earliest due date — organizations and account links
    (5 Taiwan working days after submission), LON applications (the onboarding's latest
    expected finish), LON template versions (5 working days after submission) and the billing
    proposals waiting for a second approval (5 working days after the proposal,
    docs/billing.md#two-person-approvals). With a ``user``, only the queues that user
    reviews."""
    from notifications import selectors as lon

    from . import permissions
    from .permissions import Action

    today = taipei_today()
    orgs = _due_counts(Organization.objects.filter(status=Organization.Status.PENDING), today)
    links = _due_counts(AccountLink.objects.filter(status=AccountLink.Status.PENDING), today)
    queues = []

    def may(action) -> bool:
        return user is None or permissions.can(user, action)

    if may(Action.REVIEW_ORGANIZATIONS):
        queues.append(Queue("organizations", gettext("Organizations"),
                            "admin:lbm_organizationreview_changelist", *orgs))
    if may(Action.REVIEW_LINKS):
        queues.append(Queue("account_links", gettext("Account links"),
                            "admin:lbm_accountlinkreview_changelist", *links))
    if may(Action.REVIEW_NOTIFICATIONS):
        applications = lon.review_queue_applications().aggregate(
            pending=Count("pk"), overdue=Count("pk", filter=Q(expected_latest__lt=today)),
            next_due=Min("expected_latest"))
        queues.append(Queue("lon_applications", gettext("LON applications"),
                            "admin:notifications_applicationreview_changelist",
                            applications["pending"], applications["overdue"],
                            applications["next_due"], overdue_query=""))
        dues = [review_due_date(at) for at in lon.review_queue_templates()
                .values_list("submitted_at", flat=True) if at is not None]
        queues.append(Queue("lon_templates", gettext("LON templates"),
                            "admin:notifications_templateversionreview_changelist",
                            len(dues), sum(1 for due in dues if due < today),
                            min(dues, default=None), overdue_query=""))
    if user is None or permissions.staff_may(user, "billing.view_secondapproval"):
        from billing.models import SecondApproval

        waiting = _due_counts(SecondApproval.objects.filter(
            status=SecondApproval.Status.PENDING), today)
        queues.append(Queue("second_approvals", gettext("Waiting for a second approval"),
                            "admin:billing_secondapproval_changelist", *waiting))
    return Backlog(organizations_pending=orgs[0], organizations_overdue=orgs[1],
                   links_pending=links[0], links_overdue=links[1], queues=tuple(queues))


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
