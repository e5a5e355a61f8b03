"""What the billing admin pages share: staff-global rights (``staff_can``, ``BillingAdmin``,
``ReadOnlyAdmin``) and the second-approval filter, column and warning of the models whose
rows may wait for a second approval (docs/billing.md#two-person-approvals).
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm import permissions
from lbm.admin_helpers import ServiceFormAdminMixin

from . import services
from .models import in_effect


def staff_can(user, codename: str) -> bool:
    """A LINE staff member's global billing permission (account managers hold them)."""
    return permissions.staff_may(user, f"billing.{codename}")


class BillingAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    """Staff-global rights per model; no deletion; a refused service is shown on its field with
    the input kept (lbm.admin_helpers), not a 500."""

    def _can(self, request, action: str) -> bool:
        return staff_can(request.user, f"{action}_{self.opts.model_name}")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        return permissions.sees_everything(request.user, self.model)

    def has_add_permission(self, request):
        return self._can(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._can(request, "change")

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        services.record_save(obj=obj, actor=request.user, changed=form.changed_data)


class ApprovalStateFilter(admin.SimpleListFilter):
    """Proposals waiting for a second approval, rows in effect, rejected proposals
    (docs/billing.md#two-person-approvals)."""

    title = _("second approval")
    parameter_name = "approval"

    def lookups(self, request, model_admin):
        return [
            ("pending", _("Waiting for a second approval")),
            ("in_effect", _("In effect")),
            ("rejected", _("Rejected")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "in_effect":
            return queryset.filter(in_effect())
        if value in ("pending", "rejected"):
            return queryset.filter(approval__status=value)
        return queryset


@admin.display(description=_("second approval"))
def approval_state(obj):
    """ "—" for a row that needed none, else the proposal's state, linked to its page."""
    approval = obj.approval
    if approval is None:
        return "—"
    url = reverse("admin:billing_secondapproval_change", args=[approval.pk])
    return format_html(
        '<a class="lbm-approval-{}" href="{}">{}</a>',
        approval.status,
        url,
        approval.get_status_display(),
    )


def tell_if_waiting(modeladmin, request, obj) -> None:
    if obj.approval_id is not None:
        modeladmin.message_user(
            request,
            gettext(
                "%(object)s waits for a second approval: it takes effect only when another LINE "
                "staff member approves it."
            )
            % {"object": obj},
            messages.WARNING,
        )


class ReadOnlyAdmin(BillingAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
