"""Read-only delivery records: notices (and the failed-notice CSV export, Admins only), the
record of those exports, and webhook deliveries with their attempts.
"""

import csv

from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lbm import permissions
from lbm.admin_helpers import ReadOnlyAdminMixin, ScopedAdminMixin
from lbm.admin_search import ExactSearchMixin
from lbm.exceptions import DomainError
from lbm.paginators import EstimatedCountPaginator
from lbm.permissions import Action

from . import services
from .models import FailedNoticeExport, Notice, WebhookAttempt, WebhookDelivery

# --- Delivery records (read-only) -------------------------------------------------------------


@admin.register(Notice)
class NoticeAdmin(ExactSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "pk",
        "account",
        "template_version",
        "state",
        "reason",
        "user_flow",
        "delivery_tag",
        "accepted_at",
        "line_day",
        "settled_at",
        "charged_at",
    )
    list_filter = ("state", "reason", "line_day")
    list_select_related = ("account", "template_version__template")
    search_fields = ("=delivery_tag", "=request_id")
    fields = (
        "account",
        "template_version",
        "request_id",
        "phone_hash",
        "delivery_tag",
        "state",
        "reason",
        "user_flow",
        "accepted_at",
        "line_day",
        "deadline_at",
        "delivered_at",
        "settled_at",
        "charged_at",
        "purged_at",
    )
    readonly_fields = fields
    actions = ["export_failed"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # no exact COUNT(*) over millions of notices

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        return permissions.visible(request.user, qs, account_path="account")

    def has_export_permission(self, request):
        return permissions.can(request.user, Action.EXPORT_NOTICES)

    @admin.action(
        description=_("Export failed notices (hash, tag, reason) as CSV"), permissions=["export"]
    )
    def export_failed(self, request, queryset):
        try:
            rows = services.failed_notices_export(
                actor=request.user, notice_ids=list(queryset.values_list("pk", flat=True))
            )
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="failed-notices-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(["hash", "delivery_tag", "reason", "accepted_at"])
        for row in rows:
            writer.writerow([row["hash"], row["tag"], row["reason"], row["accepted_at"]])
        return response


@admin.register(FailedNoticeExport)
class FailedNoticeExportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("exported_at", "exported_by", "account_ids", "notice_count")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser or permissions.can(request.user, Action.REVIEW_NOTIFICATIONS):
            return qs
        return qs.filter(exported_by=request.user)

    def has_module_permission(self, request):
        return permissions.can(request.user, Action.EXPORT_NOTICES) or permissions.can(
            request.user, Action.REVIEW_NOTIFICATIONS
        )

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("attempted_at", "url", "status_code", "response_excerpt", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "webhook_event_id",
        "account",
        "notice",
        "state",
        "attempts",
        "created_at",
        "finished_at",
    )
    list_filter = ("state",)
    list_select_related = ("account", "notice")
    fields = (
        "webhook_event_id",
        "account",
        "notice",
        "state",
        "attempts",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields
    inlines = [AttemptInline]

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        return permissions.visible(request.user, qs, account_path="account")
