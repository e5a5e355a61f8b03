"""LINE reviewers' queues of organizations and account links: approve and reject as list
actions and as buttons on each item's page (``lbm.admin_helpers.ReviewQueueMixin``).
"""

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import permissions, selectors, services
from .admin_helpers import OverdueFilter, ReviewQueueMixin, due_badge
from .models import AccountLink, AccountLinkReview, Organization, OrganizationReview
from .permissions import Action

# The buttons' and actions' decisions (``ReviewPageMixin``) as the services' statuses.
DECISIONS = {"approve": "approved", "reject": "rejected"}


class DueReviewQueueMixin(ReviewQueueMixin):
    """A queue whose items have a review due date, oldest first, filtered by overdue, with the
    days waited and a link to the item's history
    (docs/organizations.md#review-pages-and-the-backlog)."""

    list_filter = (OverdueFilter,)
    ordering = ("submitted_at", "pk")  # oldest first
    base_model_name = ""  # the model whose history page an item links to

    @admin.display(description=_("review due"), ordering="review_due_on")
    def review_due(self, obj):
        return due_badge(obj)

    @admin.display(description=_("waiting"))
    def waiting(self, obj):
        days = (timezone.now() - obj.submitted_at).days if obj.submitted_at else 0
        return gettext("%(days)d day(s)") % {"days": days}

    @admin.display(description=_("history"))
    def history_link(self, obj):
        url = reverse(f"admin:lbm_{self.base_model_name}_history", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("History"))


@admin.register(OrganizationReview)
class OrganizationReviewAdmin(DueReviewQueueMixin, admin.ModelAdmin):
    review_action = Action.REVIEW_ORGANIZATIONS
    base_model_name = "organization"
    list_display = (
        "name",
        "company_name",
        "business_number",
        "industry",
        "submitted_at",
        "waiting",
        "review_due",
        "contact_verified",
        "history_link",
    )
    search_fields = ("name", "company_name", "=business_number")
    readonly_fields = (
        "name",
        "country",
        "entity_type",
        "company_name",
        "business_number",
        "address",
        "phone",
        "industry",
        "contact",
        "contact_verified",
        "share_mode",
        "submitted_at",
        "review_due_on",
        "review_reason",
    )
    fields = readonly_fields

    def get_queryset(self, request):
        if not permissions.can(request.user, self.review_action):
            return Organization.objects.none()
        return selectors.review_queue_organizations().select_related("contact")

    @admin.display(description=_("contact e-mail verified"), boolean=True)
    def contact_verified(self, obj):
        return selectors.contact_email_is_verified(obj)

    def review_decide(self, request, obj, decision, reason):
        services.organization_review(
            organization_id=obj.pk, decision=DECISIONS[decision], actor=request.user, reason=reason
        )


@admin.register(AccountLinkReview)
class AccountLinkReviewAdmin(DueReviewQueueMixin, admin.ModelAdmin):
    review_action = Action.REVIEW_LINKS
    base_model_name = "accountlink"
    list_display = (
        "account",
        "account_kind",
        "organization",
        "submitted_at",
        "waiting",
        "review_due",
        "eligibility_summary",
        "history_link",
    )
    search_fields = (
        "account__name",
        "=account__basic_id",
        "=account__premium_id",
        "organization__name",
    )
    readonly_fields = (
        "organization",
        "account",
        "requested_by",
        "submitted_at",
        "review_due_on",
        "eligibility",
    )
    fields = readonly_fields

    def get_queryset(self, request):
        if not permissions.can(request.user, self.review_action):
            return AccountLink.objects.none()
        return selectors.review_queue_links()

    @admin.display(description=_("kind"))
    def account_kind(self, obj):
        return obj.account.get_kind_display()

    def _rules(self, obj):
        return selectors.link_eligibility(
            obj.organization, obj.account, include_existing_links=False
        )

    @admin.display(description=_("eligibility"))
    def eligibility_summary(self, obj):
        failed = [r for r in self._rules(obj) if not r.passed]
        if not failed:
            return format_html('<span style="color:#2e7d32">✔ {}</span>', gettext("All rules met"))
        return format_html_join(
            "", '<div style="color:#ba2121">✘ {}</div>', ((r.explanation,) for r in failed)
        )

    @admin.display(description=_("eligibility"))
    def eligibility(self, obj):
        return format_html(
            "<ul style='margin:0;padding-left:1em'>{}</ul>",
            format_html_join(
                "",
                "<li>{} {}</li>",
                (("✔" if r.passed else "✘", r.explanation) for r in self._rules(obj)),
            ),
        )

    def review_decide(self, request, obj, decision, reason):
        services.link_review(
            link_id=obj.pk, decision=DECISIONS[decision], actor=request.user, reason=reason
        )
