"""LINE Tags: creating one, its code snippets, sharing it, its access token and the web-traffic
audiences built from its events (docs/audiences.md).
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm.admin_helpers import ScopedAdminMixin, run_service
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.permissions import Action

from . import selectors, services
from .admin_common import _can
from .admin_sharing import share_tags_to_accounts, unshare_tags_from_accounts
from .forms import WebTrafficForm
from .models import LineTag

# --- LINE Tags --------------------------------------------------------------------------------


@admin.register(LineTag)
class LineTagAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "tag_id", "organization", "last_event_at", "created_at")
    search_fields = ("name", "=tag_id")
    list_select_related = ("organization",)
    fields = ("organization", "name")
    readonly_fields = (
        "tag_id",
        "last_event_at",
        "token_issued_at",
        "base_code",
        "conversion_code",
        "custom_event_code",
        "server_endpoint",
    )
    actions = [
        "share_everywhere",
        share_tags_to_accounts,
        unshare_tags_from_accounts,
        "create_web_traffic_audience",
        "issue_access_token",
    ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return (*self.fields, *self.readonly_fields)

    @staticmethod
    def _snippet(obj, event_js: str):
        url = settings.LBM_TAG_INTAKE_ORIGIN + reverse("tag-events")
        code = (
            f"<script>\n(function(){{var t='{obj.tag_id}',u='{url}';\n"
            f"window.lineTag=function(type,name){{navigator.sendBeacon(u,JSON.stringify("
            f"{{tagId:t,events:[{{type:type,name:name,url:location.href,"
            f"timestamp:Math.floor(Date.now()/1000),user:window.lineTagUser||{{}}}}]}}));}};"
            f"}})();\n{event_js}\n</script>"
        )
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", code)

    @admin.display(description=_("Base code (every page)"))
    def base_code(self, obj):
        return self._snippet(obj, "lineTag('PageView');")

    @admin.display(description=_("Conversion code (the conversion page)"))
    def conversion_code(self, obj):
        return self._snippet(obj, "lineTag('Conversion');")

    @admin.display(description=_("Custom event code"))
    def custom_event_code(self, obj):
        return self._snippet(obj, "lineTag('CustomEvent', 'YOUR_EVENT_NAME');")

    @admin.display(description=_("Server-to-server conversion endpoint"))
    def server_endpoint(self, obj):
        return settings.LBM_TAG_INTAKE_ORIGIN + reverse("tag-conversions")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "organization" in form.base_fields:
            form.base_fields["organization"].queryset = selectors.organizations_where(
                request.user, Action.CREATE_AUDIENCES
            )
        return form

    def has_add_permission(self, request):
        return _can(request, Action.CREATE_AUDIENCES)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_share_permission(self, request):
        return _can(request, Action.SHARE_AUDIENCES)

    def has_create_permission(self, request):
        return _can(request, Action.CREATE_AUDIENCES)

    def save_model(self, request, obj, form, change):
        tag = services.line_tag_create(
            actor=request.user,
            organization_id=form.cleaned_data["organization"].pk,
            name=form.cleaned_data["name"],
        )
        obj.pk = tag.pk

    @admin.action(description=_("Share to every linked account"), permissions=["share"])
    def share_everywhere(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda tag: services.line_tag_share(actor=request.user, tag_id=tag.pk),
            gettext("%(count)d LINE Tag(s) shared."),
        )

    @admin.action(description=_("Issue a new access token (shown once)"), permissions=["create"])
    def issue_access_token(self, request, queryset):
        for tag in queryset:
            try:
                token = services.line_tag_issue_token(actor=request.user, tag_id=tag.pk)
            except (DomainError, PermissionDenied) as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            self.message_user(
                request,
                gettext(
                    "Access token of %(tag)s (shown only now; the previous one "
                    "stops working): %(token)s"
                )
                % {"tag": tag, "token": token},
                messages.WARNING,
            )

    @admin.action(
        description=_("Create a web-traffic audience from this tag"), permissions=["create"]
    )
    def create_web_traffic_audience(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, gettext("Choose one LINE Tag."), messages.ERROR)
            return None
        tag = queryset.get()
        form = WebTrafficForm(request.POST if request.POST.get("confirm") else None)
        if request.POST.get("confirm") and form.is_valid():
            data = form.cleaned_data
            try:
                audience = services.audience_web_traffic_create(
                    actor=request.user,
                    organization_id=tag.organization_id,
                    name=data["name"],
                    tag_id=tag.pk,
                    event=data["event"],
                    retention_days=data["retention_days"],
                    description=data["description"],
                    url_match=data["url_match"],
                    url_value=data["url_value"],
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    gettext("Web-traffic audience “%(name)s” created with %(size)d members.")
                    % {"name": audience.name, "size": audience.size},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:audiences_audience_change", args=[audience.pk])
                )
        return TemplateResponse(
            request,
            "admin/audiences/_action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Web-traffic audience from %(tag)s") % {"tag": tag},
                "objects": queryset,
                "form": form,
                "opts": self.model._meta,
                "action": "create_web_traffic_audience",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
