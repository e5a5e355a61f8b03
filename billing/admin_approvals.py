"""Second approvals of high-value decisions: the proposals waiting for another staff member's
decision (docs/billing.md#two-person-approvals).
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm.admin_helpers import OverdueFilter, ReviewPageMixin, due_badge
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert

from . import services
from .admin_base import BillingAdmin, staff_can
from .models import SecondApproval

# --- Two people for high-value decisions (docs/billing.md#two-person-approvals) ---------------


class DecisionFilter(admin.SimpleListFilter):
    """What waits by default: the backlog's link lands on the proposals to decide."""

    title = _("status")
    parameter_name = "decision"

    def lookups(self, request, model_admin):
        return [*SecondApproval.Status.choices, ("all", _("All"))]

    def queryset(self, request, queryset):
        value = self.value() or SecondApproval.Status.PENDING
        if value in SecondApproval.Status.values:
            return queryset.filter(status=value)
        return queryset

    def choices(self, changelist):
        current = self.value() or SecondApproval.Status.PENDING
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "display": title,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
            }


@admin.register(SecondApproval)
class SecondApprovalAdmin(ReviewPageMixin, BillingAdmin, SimpleHistoryAdmin):
    """The proposals of one staff member waiting for another's approval: approve and reject
    buttons on each page (lbm.admin_helpers.ReviewPageMixin), the history shows who proposed
    and who decided."""

    list_display = (
        "summary",
        "kind",
        "amount",
        "status",
        "proposed_by",
        "proposed_at",
        "review_due",
        "decided_by",
        "decided_at",
    )
    list_filter = (DecisionFilter, "kind", OverdueFilter)
    list_select_related = ("proposed_by", "decided_by")
    ordering = ("review_due_on", "pk")  # the oldest proposal first
    fields = readonly_fields = (
        "kind",
        "summary",
        "amount",
        "status",
        "proposed_by",
        "proposed_at",
        "review_due_on",
        "decided_by",
        "decided_at",
        "decision_reason",
        "proposed",
    )
    approve_label = _("Approve as the second person")
    approve_question = _(
        "Approve this proposal? It takes effect at once. A note is optional; "
        "the proposer sees it in the history."
    )
    reject_question = _("Nothing of this proposal will take effect. The proposer sees the reason.")
    approve_reason_label = _("Note (optional)")
    reject_reason_label = _("Reason")

    def has_add_permission(self, request):
        return False  # proposed by the services of what they propose

    def has_change_permission(self, request, obj=None):
        return False  # decided by the buttons only

    def has_review_permission(self, request, obj=None):
        from .services.approvals import KIND_PERMISSIONS

        if obj is not None:
            return staff_can(request.user, KIND_PERMISSIONS[obj.kind])
        return any(staff_can(request.user, perm) for perm in KIND_PERMISSIONS.values())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from django.contrib.admin.utils import unquote

        obj = self.get_object(request, unquote(object_id))
        if (
            obj is None
            or obj.status != SecondApproval.Status.PENDING
            or not self.has_review_permission(request, obj)
        ):
            # Decided, or not for this user to decide: the page without the buttons.
            return super(ReviewPageMixin, self).change_view(
                request, object_id, form_url, extra_context
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def review_decide(self, request, obj, decision, reason):
        if decision == "approve":
            services.second_approval_approve(approval_id=obj.pk, actor=request.user, note=reason)
        else:
            services.second_approval_reject(approval_id=obj.pk, actor=request.user, reason=reason)

    @admin.display(description=_("approval due"), ordering="review_due_on")
    def review_due(self, obj):
        return due_badge(obj)

    @admin.display(description=_("what takes effect"))
    def proposed(self, obj):
        if obj.kind == SecondApproval.Kind.PROMOTION_BATCH:
            url = reverse("admin:billing_promotioncode_changelist")
            return format_html(
                '<a href="{}?approval__id__exact={}">{}</a>',
                url,
                obj.pk,
                gettext("%(count)d promotion code(s)") % {"count": obj.promotion_codes.count()},
            )
        target = (
            obj.credit_notes.first()
            if obj.kind == SecondApproval.Kind.CREDIT_NOTE
            else obj.government_contracts.first()
        )
        if target is None:
            return "—"
        url = reverse(f"admin:billing_{target._meta.model_name}_change", args=[target.pk])
        return format_html('<a href="{}">{}</a>', url, target)
