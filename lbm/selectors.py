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
