"""Reads: the review queues and the admin index, what keeps an organization from review
(``submission_problems``), and the link rules (``link_eligibility``)."""

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import Count, Min, Q, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from . import pii
from .exceptions import DomainError
from .models import Account, AccountLink, Membership, Organization
from .validators import validate_business_number
from .workdays import review_due_date, taipei_today


def review_queue_organizations() -> QuerySet[Organization]:
    """Pending organizations, oldest submission first."""
    return Organization.objects.filter(status=Organization.Status.PENDING).order_by(
        "submitted_at", "pk"
    )


def review_queue_links() -> QuerySet[AccountLink]:
    """Pending account links, oldest request first."""
    return (
        AccountLink.objects.filter(status=AccountLink.Status.PENDING)
        .select_related("organization", "account", "account__provider")
        .order_by("submitted_at", "pk")
    )


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
        return (
            sum(q.overdue for q in self.queues)
            if self.queues
            else (self.organizations_overdue + self.links_overdue)
        )


def _due_counts(queryset, today) -> tuple[int, int, date | None]:
    figures = queryset.aggregate(
        pending=Count("pk"),
        overdue=Count("pk", filter=Q(review_due_on__lt=today)),
        next_due=Min("review_due_on"),
    )
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
        queues.append(
            Queue(
                "organizations",
                gettext("Organizations"),
                "admin:lbm_organizationreview_changelist",
                *orgs,
            )
        )
    if may(Action.REVIEW_LINKS):
        queues.append(
            Queue(
                "account_links",
                gettext("Account links"),
                "admin:lbm_accountlinkreview_changelist",
                *links,
            )
        )
    if may(Action.REVIEW_NOTIFICATIONS):
        applications = lon.review_queue_applications().aggregate(
            pending=Count("pk"),
            overdue=Count("pk", filter=Q(expected_latest__lt=today)),
            next_due=Min("expected_latest"),
        )
        queues.append(
            Queue(
                "lon_applications",
                gettext("LON applications"),
                "admin:notifications_applicationreview_changelist",
                applications["pending"],
                applications["overdue"],
                applications["next_due"],
                overdue_query="",
            )
        )
        dues = [
            review_due_date(at)
            for at in lon.review_queue_templates().values_list("submitted_at", flat=True)
            if at is not None
        ]
        queues.append(
            Queue(
                "lon_templates",
                gettext("LON templates"),
                "admin:notifications_templateversionreview_changelist",
                len(dues),
                sum(1 for due in dues if due < today),
                min(dues, default=None),
                overdue_query="",
            )
        )
    if user is None or permissions.staff_may(user, "billing.view_secondapproval"):
        from billing.models import SecondApproval

        waiting = _due_counts(
            SecondApproval.objects.filter(status=SecondApproval.Status.PENDING), today
        )
        queues.append(
            Queue(
                "second_approvals",
                gettext("Waiting for a second approval"),
                "admin:billing_secondapproval_changelist",
                *waiting,
            )
        )
    return Backlog(
        organizations_pending=orgs[0],
        organizations_overdue=orgs[1],
        links_pending=links[0],
        links_overdue=links[1],
        queues=tuple(queues),
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
    missing = business_info_missing(organization)
    verified = contact_email_is_verified(organization)
    problems = submission_problems(organization)
    steps = [
        Step(
            "business",
            _("Fill in the business information (商用資訊) below and save."),
            not missing,
            _("Still empty: %(fields)s.") % {"fields": "、".join(missing)} if missing else "",
        ),
        Step(
            "verify",
            _("Verify the contact e-mail address: open the link sent to it."),
            verified,
            ""
            if verified or not organization.contact_id
            else _("Sent to %(email)s. No e-mail? Send the link again.")
            % {"email": _masked(organization.contact.email)},
        ),
    ]
    if organization.status == Organization.Status.REJECTED:
        steps.append(
            Step(
                "fix", _("Fix what the LINE reviewer asked (the reason is above) and save."), False
            )
        )
    steps.append(Step("submit", _("Submit for review."), False))
    return {
        "steps": steps,
        "problems": problems,
        "may_submit": not problems,
        "rejected": organization.status == Organization.Status.REJECTED,
        "reason": organization.review_reason,
        "reviewed_at": organization.reviewed_at,
    }


def _masked(email: str) -> str:
    from . import pii

    return pii.mask_email(email or "")


def deleted_organizations_of(user) -> QuerySet[Organization]:
    """The deleted organizations ``user`` was a member of: they are told it was deleted and
    when, instead of finding nothing."""
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(
        status=Organization.Status.DELETED, memberships__user=user
    ).order_by("-deleted_at")


# --- Submitting an organization ---------------------------------------------------------------


BUSINESS_INFO_FIELDS = (
    "company_name",
    "business_number",
    "address",
    "phone",
    "industry",
    "contact",
)


def check_contact(organization: Organization, user) -> None:
    """Raises ``DomainError`` (on the ``contact`` field) unless ``user`` may be the contact."""
    membership = Membership.objects.filter(organization=organization, user=user).first()
    if membership is None or membership.role != Membership.Role.ADMIN:
        raise DomainError(
            _("The contact person must be an Admin of the organization."), field="contact"
        )
    if not membership.is_company_member:
        raise DomainError(
            _(
                "The contact person must be a member of the company itself, not of "
                "an agency or partner."
            ),
            field="contact",
        )
    if not user.email:
        raise DomainError(_("The contact person has no e-mail address."), field="contact")


def contact_email_is_verified(organization: Organization) -> bool:
    """True when the current contact's current address is the one that was verified."""
    contact = organization.contact
    if contact is None or not contact.email or not organization.contact_email_verified_hash:
        return False
    return organization.contact_email_verified_hash == pii.email_keyed_hash(contact.email)


def business_info_missing(organization: Organization) -> list[str]:
    """Names of the business information fields that are still empty."""
    return [
        str(Organization._meta.get_field(f).verbose_name)
        for f in BUSINESS_INFO_FIELDS
        if not getattr(organization, f if f != "contact" else "contact_id")
    ]


def submission_problems(organization: Organization) -> list[str]:
    """Everything that keeps the organization from being submitted (or approved), in words."""
    problems = []
    missing = business_info_missing(organization)
    if missing:
        problems.append(
            _("Business information is incomplete: %(fields)s.") % {"fields": ", ".join(missing)}
        )
    if organization.entity_type != Organization.EntityType.COMPANY:
        problems.append(_("Agencies and resellers may not create an organization for themselves."))
    if organization.business_number:
        try:
            validate_business_number(organization.business_number)
        except ValidationError as exc:
            problems.extend(exc.messages)
    if organization.contact_id:
        try:
            check_contact(organization, organization.contact)
        except DomainError as exc:
            problems.append(exc.message)
        else:
            if not contact_email_is_verified(organization):
                problems.append(
                    _(
                        "The contact e-mail address has not been verified; use the "
                        "link sent to it (or send a new one)."
                    )
                )
    return problems


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    explanation: str


def _provider_shows_company(provider_name: str, organization: Organization) -> bool:
    names = {organization.name.strip(), (organization.company_name or "").strip()}
    names.discard("")
    for suffix in ("股份有限公司", "有限公司"):
        names |= {n.removesuffix(suffix) for n in list(names) if n.endswith(suffix)}
    return any(name and name in provider_name for name in names)


def link_eligibility(
    organization: Organization, account: Account, *, include_existing_links: bool = True
) -> list[RuleResult]:
    """Each rule of docs/organizations.md#link-eligibility, judged for this pair, explained.

    ``include_existing_links=False`` leaves out the "not linked elsewhere" rule (and its query),
    which a pending link under review would otherwise fail against itself."""
    results = [
        RuleResult(
            "verified",
            account.is_verified,
            _("The account is verified (blue badge or higher).")
            if account.is_verified
            else _(
                "The account is not verified: only accounts with a blue or green badge (or a "
                "verified "
                "ad account) can be linked."
            ),
        )
    ]
    same_number = bool(organization.business_number) and (
        account.business_number == organization.business_number
    )
    results.append(
        RuleResult(
            "business_number",
            same_number,
            _("The account and the organization have the same business number.")
            if same_number
            # Never the other side's number or provider: the account may be another company's.
            else _("The account's business number differs from the organization's."),
        )
    )
    provider = account.provider
    if provider is not None:
        same_company = provider.business_number == organization.business_number
        results.append(
            RuleResult(
                "provider_company",
                same_company,
                _("The provider belongs to the same company.")
                if same_company
                else _("The account's provider belongs to another company."),
            )
        )
        shows_name = _provider_shows_company(provider.name, organization)
        results.append(
            RuleResult(
                "provider_name",
                shows_name,
                _("The provider name shows the company name.")
                if shows_name
                else _(
                    "The account's provider name does not show the company name 「%(company)s」 "
                    "(it "
                    "should read 「%(company)s：…」)."
                )
                % {"company": organization.name},
            )
        )
    if not include_existing_links:
        return results
    active = AccountLink.objects.filter(account=account, status__in=AccountLink.ACTIVE)
    other = active.exclude(organization=organization).exists()
    mine = active.filter(organization=organization).exists()
    free = not (other or mine)
    results.append(
        RuleResult(
            "not_linked",
            free,
            _("The account is not linked to any organization.")
            if free
            else (
                _("The account is already linked to this organization or waiting for review.")
                if mine
                else _(
                    "The account is already linked (or waiting to be linked) to another "
                    "organization; an account can belong to only one."
                )
            ),
        )
    )
    return results
