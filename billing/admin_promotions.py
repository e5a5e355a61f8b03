"""Promotion codes: one at a time, or a batch that waits for a second approval."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin

from lbm.admin_gates import Gate
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.import_export_i18n import LabelledExportForm

from . import services
from .admin_base import ApprovalStateFilter, BillingAdmin, approval_state
from .models import PromotionCode
from .resources import PromotionCodeResource


class CodeBatchForm(forms.Form):
    count = forms.IntegerField(label=_("number of codes"), min_value=1, max_value=10_000)
    prefix = forms.CharField(label=_("prefix"), required=False, max_length=12)
    valid_from = forms.DateField(label=_("valid from"))
    valid_until = forms.DateField(label=_("valid until"))


@admin.register(PromotionCode)
class PromotionCodeAdmin(ExportMixin, BillingAdmin, SimpleHistoryAdmin):
    resource_classes = [PromotionCodeResource]
    export_form_class = LabelledExportForm  # columns with verbose names
    change_list_template = "admin/billing/promotioncode/change_list.html"
    list_display = (
        "code",
        "status",
        "face_value",
        "valid_from",
        "valid_until",
        "subscription",
        "deducted",
        "forfeited",
        "redeemed_at",
        approval_state,
    )
    list_filter = ("status", ApprovalStateFilter)
    list_select_related = ("subscription__account", "subscription__plan", "approval")
    search_fields = ("=code",)
    fields = ("code", "valid_from", "valid_until")

    def has_change_permission(self, request, obj=None):
        return False  # used through a subscription's plan change or renewal registration

    def save_model(self, request, obj, form, change):
        saved = services.promotion_code_create(
            code=obj.code,
            valid_from=obj.valid_from,
            valid_until=obj.valid_until,
            actor=request.user,
        )
        obj.pk = saved.pk

    admin_gates = {"batch": Gate("add")}

    def get_urls(self):
        return [
            path(
                "batch/",
                self.admin_site.admin_view(self.batch_view),
                name="billing_promotioncode_batch",
            )
        ] + super().get_urls()

    def batch_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CodeBatchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                codes = services.promotion_code_batch_propose(
                    actor=request.user, **form.cleaned_data
                )
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext(
                        "%(count)d promotion codes proposed. They can be used once another LINE "
                        "staff member approves the batch (second approvals)."
                    )
                    % {"count": len(codes)},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:billing_promotioncode_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.opts,
            "title": gettext("Create a batch of promotion codes"),
        }
        return TemplateResponse(request, "admin/billing/form_page.html", context)
