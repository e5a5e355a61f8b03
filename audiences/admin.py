"""Admin pages of audiences, uploads, members, LINE Tags and the LINE user directory.

Thin: rows from ``permissions.visible``, rights from ``permissions.can``, every change through
``audiences.services``. Other organizations' objects answer 404.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count
from django.http import HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportMixin

from lbm import permissions
from lbm.admin import ScopedAdminMixin, _confirm_with_reason, _run_service
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.permissions import Action, Gate

from . import importers, selectors, services
from .forms import (
    AudienceConfirmImportForm,
    AudienceImportForm,
    CombineForm,
    RenameForm,
    ShareForm,
    UnshareForm,
    WebTrafficForm,
)
from .models import (
    Audience,
    AudienceMember,
    AudienceShare,
    AudienceUpload,
    Friendship,
    IdType,
    LineTag,
    LineUser,
    Usage,
    usages,
)
from .resources import AudienceMemberResource, IdListFormat


def _can(request, action: Action) -> bool:
    """``permissions.can(user, action)`` ("anywhere?") once per request: the admin asks it for
    every action, button and link on a page."""
    cache = request.__dict__.setdefault("_audiences_can", {})
    if action not in cache:
        cache[action] = permissions.can(request.user, action)
    return cache[action]


class EstimatedCountPaginator(Paginator):
    """Exact counts for small results; on PostgreSQL, the planner's estimate for big ones, so a
    changelist page over millions of member rows never runs an exact COUNT(*)."""

    EXACT_BELOW = 10_000

    @cached_property
    def count(self):
        if connection.vendor != "postgresql":
            return super().count
        query = self.object_list.order_by()
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            import json

            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate < self.EXACT_BELOW:
            return super().count
        return estimate


# --- Audiences --------------------------------------------------------------------------------


class AudienceShareInline(admin.TabularInline):
    model = AudienceShare
    extra = 0
    can_delete = False
    fields = ("account", "reachable_size", "usable", "shared_at")
    readonly_fields = fields
    verbose_name_plural = _("shared with (reachable = friends who have not blocked the account)")

    @admin.display(description=_("usable for sending (≥ 50 reachable)"), boolean=True)
    def usable(self, obj):
        return obj.usable_for_sending

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True


class SourceFilter(admin.SimpleListFilter):
    title = _("source")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [("org", _("Organization")), ("oa", _("LINE Official Account")),
                ("lap", _("LINE Ads Platform ad account")), ("mvp", _("MVP (頭版) ad account"))]

    def queryset(self, request, queryset):
        if self.value() == "org":
            return queryset.filter(source_account__isnull=True)
        if self.value():
            return queryset.filter(source_account__kind=self.value())
        return queryset


@admin.register(Audience)
class AudienceAdmin(ScopedAdminMixin, ImportMixin, SimpleHistoryAdmin):
    list_display = ("name", "source", "type", "size", "status", "create_route", "created_at",
                    "share_count")
    list_filter = (SourceFilter, "type", "status", "create_route")
    search_fields = ("name",)
    list_select_related = ("organization", "source_account")
    show_full_result_count = False
    inlines = [AudienceShareInline]
    actions = ["share", "unshare", "unshare_all", "combine", "export_members", "refresh",
               "rename", "delete_audiences"]
    readonly_fields = ("name", "organization", "source", "type", "id_type", "create_route",
                       "status", "size", "description", "via_cross_targeting",
                       "from_data_provider", "operator", "component_list", "line_tag",
                       "tag_event", "retention_days", "created_by", "created_at", "expires_at")
    fields = readonly_fields
    # django-import-export: the small-file preview/confirm flow.
    resource_classes = [AudienceMemberResource]
    import_form_class = AudienceImportForm
    confirm_form_class = AudienceConfirmImportForm
    skip_admin_log = True  # the audience's history records the upload instead

    def get_import_formats(self):
        return [IdListFormat]

    @admin.display(description=_("source"))
    def source(self, obj):
        return obj.source_label

    @admin.display(description=_("shared to"), ordering="share_count")
    def share_count(self, obj):
        return obj.share_count

    @admin.display(description=_("built from"))
    def component_list(self, obj):
        names = [a.name for a in obj.components.all()]
        return ", ".join(names) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(share_count=Count("shares"))

    def has_add_permission(self, request):
        return False  # audiences are created by upload, combination or LINE Tag

    def has_change_permission(self, request, obj=None):
        return False  # changes go through the actions below

    def has_delete_permission(self, request, obj=None):
        return False

    def has_share_permission(self, request):
        return _can(request, Action.SHARE_AUDIENCES)

    def has_create_permission(self, request):
        return _can(request, Action.CREATE_AUDIENCES)

    def has_export_members_permission(self, request):
        return _can(request, Action.EXPORT_AUDIENCES)

    def has_import_permission(self, request):
        return _can(request, Action.CREATE_AUDIENCES)

    # --- Upload (import) ---

    def get_import_form_kwargs(self, request):
        kwargs = super().get_import_form_kwargs(request)
        kwargs["user"] = request.user
        return kwargs

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            data = import_form.cleaned_data
            initial.update(mode=data["mode"], organization=data.get("organization"),
                           name=data.get("name", ""), description=data.get("description", ""),
                           audience=data.get("audience"), id_type=data["id_type"])
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        resource_kwargs = super().get_import_resource_kwargs(request, **kwargs)
        if form is not None and form.is_bound and form.is_valid():
            resource_kwargs["plan"] = form.plan(request.user)
        return resource_kwargs

    def import_action(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = self.create_import_form(request)
            if form.is_valid() and form.background:
                data = form.cleaned_data
                try:
                    upload = services.upload_start(
                        actor=request.user, id_type=data["id_type"], file=data["import_file"],
                        organization_id=data["organization"].pk if data["organization"] else None,
                        name=data.get("name", ""), description=data.get("description", ""),
                        audience_id=data["audience"].pk if data.get("audience") else None)
                except DomainError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                    return HttpResponseRedirect(request.get_full_path())
                return HttpResponseRedirect(
                    reverse("admin:audiences_audienceupload_progress", args=[upload.pk]))
        return super().import_action(request, **kwargs)

    def add_success_message(self, result, request):
        self.message_user(request, gettext("Upload finished: %(new)d IDs added, %(skipped)d "
                                           "already in the audience.")
                          % {"new": result.totals.get("new", 0),
                             "skipped": result.totals.get("skip", 0)}, messages.SUCCESS)

    # --- Actions ---

    @admin.action(description=_("Share to linked accounts"), permissions=["share"])
    def share(self, request, queryset):
        org_ids = set(queryset.values_list("organization_id", flat=True))
        form = ShareForm(request.POST if request.POST.get("confirm") else None,
                         organization_ids=org_ids)
        if request.POST.get("confirm") and form.is_valid():
            everywhere = form.cleaned_data["everywhere"]
            account_ids = None if everywhere else [a.pk for a in form.cleaned_data["accounts"]]
            done = 0
            for audience in queryset:
                try:
                    result = services.audience_share(actor=request.user, audience_id=audience.pk,
                                                     account_ids=account_ids)
                except DomainError as exc:
                    self.message_user(request, f"{audience}: {exc}", messages.ERROR)
                    continue
                done += 1
                for account, reason in result.skipped:
                    self.message_user(request, gettext("%(audience)s not shared to "
                                                       "%(account)s: %(reason)s")
                                      % {"audience": audience, "account": account.name,
                                         "reason": reason}, messages.WARNING)
            if done:
                self.message_user(request, gettext("%(count)d audience(s) shared.")
                                  % {"count": done}, messages.SUCCESS)
            return None
        accounts = list(form.fields["accounts"].queryset)
        labels = dict(Usage.choices)
        usage_rows = [(audience, account, [str(labels[u])
                                           for u in usages(audience.type, account.kind)])
                      for audience in queryset for account in accounts
                      if account.pk != audience.source_account_id]
        return TemplateResponse(request, "admin/audiences/share.html", {
            **self.admin_site.each_context(request), "title": gettext("Share audiences"),
            "objects": queryset, "form": form, "opts": self.model._meta,
            "usage_rows": usage_rows,
            "action": "share", "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})

    @admin.action(description=_("Unshare from every account"), permissions=["share"])
    def unshare_all(self, request, queryset):
        def unshare(audience):
            for account_id in list(audience.shares.values_list("account_id", flat=True)):
                services.audience_unshare(actor=request.user, audience_id=audience.pk,
                                          account_id=account_id)
        _run_service(self, request, queryset, unshare,
                     gettext("%(count)d audience(s) unshared."))

    @admin.action(description=_("Combine (AND / OR / AND NOT)"), permissions=["create"])
    def combine(self, request, queryset):
        form = CombineForm(request.POST if request.POST.get("confirm") else None,
                           audiences=queryset)
        if request.POST.get("confirm") and form.is_valid():
            first = form.cleaned_data["first"]
            ids = [first.pk] + [a.pk for a in queryset.order_by("pk") if a.pk != first.pk]
            orgs = set(queryset.values_list("organization_id", flat=True))
            try:
                if len(orgs) != 1:
                    raise DomainError(gettext("Combine audiences of one organization."))
                audience = services.audience_combine(
                    actor=request.user, organization_id=orgs.pop(),
                    name=form.cleaned_data["name"], operator=form.cleaned_data["operator"],
                    component_ids=ids)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return None
            self.message_user(request, gettext("Combined audience “%(name)s” created with "
                                               "%(size)d members.")
                              % {"name": audience.name, "size": audience.size},
                              messages.SUCCESS)
            return None
        return TemplateResponse(request, "admin/audiences/combine.html", {
            **self.admin_site.each_context(request), "title": gettext("Combine audiences"),
            "objects": queryset, "form": form, "opts": self.model._meta,
            "action": "combine", "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})

    @admin.action(description=_("Export members (hashes; Admins only)"),
                  permissions=["export_members"])
    def export_members(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, gettext("Export one audience at a time."),
                              messages.ERROR)
            return None
        audience = queryset.get()
        try:
            export = services.audience_export(actor=request.user, audience_id=audience.pk)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        if export.left_out:
            # Shown on the next page; the download itself carries the count in a header.
            self.message_user(request, gettext(
                "%(count)d member(s) of “%(name)s” were stored before sealed copies existed and "
                "are not in the file; upload the same IDs again as an addition to include them.")
                % {"count": export.left_out, "name": audience.name}, messages.WARNING)
        response = StreamingHttpResponse(export.lines, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="audience-{audience.pk}-line-hashes.txt"')
        response["X-Audience-Members-Left-Out"] = str(export.left_out)
        return response

    @admin.action(description=_("Refresh size, status and reachable counts"),
                  permissions=["create"])
    def refresh(self, request, queryset):
        _run_service(self, request, queryset,
                     lambda a: services.audience_refresh(audience_id=a.pk),
                     gettext("%(count)d audience(s) refreshed."))

    @admin.action(description=_("Unshare from chosen accounts"), permissions=["share"])
    def unshare(self, request, queryset):
        form = UnshareForm(request.POST if request.POST.get("confirm") else None,
                           audiences=queryset)
        if request.POST.get("confirm") and form.is_valid():
            account_ids = [a.pk for a in form.cleaned_data["accounts"]]

            def unshare(audience):
                for account_id in account_ids:
                    services.audience_unshare(actor=request.user, audience_id=audience.pk,
                                              account_id=account_id)
            _run_service(self, request, queryset, unshare,
                         gettext("%(count)d audience(s) unshared from the chosen accounts."))
            return None
        return self._action_page(request, queryset, form, "unshare",
                                 gettext("Unshare audiences"))

    @admin.action(description=_("Rename"), permissions=["create"])
    def rename(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, gettext("Rename one audience at a time."),
                              messages.ERROR)
            return None
        audience = queryset.get()
        form = RenameForm(request.POST if request.POST.get("confirm") else None,
                          initial={"name": audience.name})
        if request.POST.get("confirm") and form.is_valid():
            try:
                services.audience_rename(actor=request.user, audience_id=audience.pk,
                                         name=form.cleaned_data["name"],
                                         reason=form.cleaned_data["reason"])
            except DomainError as exc:
                form.add_error("name", str(exc))
            else:
                self.message_user(request, gettext("Audience renamed."), messages.SUCCESS)
                return None
        return self._action_page(request, queryset, form, "rename",
                                 gettext("Rename audience"))

    @admin.action(description=_("Delete with members and shares"), permissions=["create"])
    def delete_audiences(self, request, queryset):
        return _confirm_with_reason(
            self, request, queryset, action="delete_audiences",
            title=gettext("Delete audiences"),
            question=gettext("Delete these audiences? Their members and their shares to linked "
                             "accounts are removed; the history keeps who did it and why."),
            reason_required=False,
            call=lambda audience, reason: services.audience_delete(
                actor=request.user, audience_id=audience.pk, reason=reason),
            done_message=gettext("%(count)d audience(s) deleted."))

    def _action_page(self, request, queryset, form, action, title):
        return TemplateResponse(request, "admin/audiences/_action_form.html", {
            **self.admin_site.each_context(request), "title": title, "objects": queryset,
            "form": form, "opts": self.model._meta, "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})


# --- Uploads and their progress bar -----------------------------------------------------------


@admin.register(AudienceUpload)
class AudienceUploadAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("original_name", "organization", "target", "id_type", "status", "progress",
                    "id_count", "created_by", "created_at")
    list_filter = ("status", "id_type")
    list_select_related = ("organization", "audience", "created_by")
    readonly_fields = ("organization", "audience", "name", "id_type", "original_name",
                       "file_size", "status", "progress", "id_count", "added_count", "error",
                       "created_by", "created_at", "finished_at")
    fields = readonly_fields

    @admin.display(description=_("audience"))
    def target(self, obj):
        return obj.audience or obj.name

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    admin_gates = {"progress": Gate("view", obj="upload_id"),
                   "status": Gate("view", obj="upload_id")}

    def get_urls(self):
        urls = [
            path("<int:upload_id>/progress/", self.admin_site.admin_view(self.progress_view),
                 name="audiences_audienceupload_progress"),
            path("<int:upload_id>/status/", self.admin_site.admin_view(self.status_view),
                 name="audiences_audienceupload_status"),
        ]
        return urls + super().get_urls()

    def _upload(self, request, upload_id):
        return get_object_or_404(self.get_queryset(request), pk=upload_id)

    def progress_view(self, request, upload_id):
        upload = self._upload(request, upload_id)
        return TemplateResponse(request, "admin/audiences/upload_progress.html", {
            **self.admin_site.each_context(request), "title": gettext("Audience upload"),
            "upload": upload, "state": selectors.upload_status(upload),
            "status_url": reverse("admin:audiences_audienceupload_status", args=[upload.pk]),
            "opts": self.model._meta})

    def status_view(self, request, upload_id):
        upload = self._upload(request, upload_id)
        state = selectors.upload_status(upload)
        if upload.audience_id:
            state["audience_url"] = reverse("admin:audiences_audience_change",
                                            args=[upload.audience_id])
        return JsonResponse(state)


# --- Members ----------------------------------------------------------------------------------


class AudienceChoiceFilter(admin.SimpleListFilter):
    """Audiences listed from the audience table (never a DISTINCT over millions of members)."""

    title = _("audience")
    parameter_name = "audience"

    def lookups(self, request, model_admin):
        return [(a.pk, a.name) for a in selectors.audiences_for(request.user)
                .only("pk", "name").order_by("name")[:200]]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(audience_id=self.value())
        return queryset


@admin.register(AudienceMember)
class AudienceMemberAdmin(ScopedAdminMixin, admin.ModelAdmin):
    organization_path = "audience__organization"
    list_display = ("identifier", "audience")
    list_select_related = ("audience",)
    list_filter = (AudienceChoiceFilter,)
    search_fields = ("=identifier",)
    search_help_text = _("An exact ID: a user ID, an IDFA/AAID, a phone number or an e-mail "
                         "address (phone numbers and addresses are matched by their hash).")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    sortable_by = ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        candidates = {term, term.lower()}
        for id_type in (IdType.PHONE, IdType.EMAIL):
            try:
                candidates.add(importers.stored_identifier(id_type, term))
            except importers.Malformed:
                pass
        return queryset.filter(identifier__in=candidates), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- LINE Tags --------------------------------------------------------------------------------


@admin.register(LineTag)
class LineTagAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "tag_id", "organization", "last_event_at", "created_at")
    search_fields = ("name", "=tag_id")
    list_select_related = ("organization",)
    fields = ("organization", "name")
    readonly_fields = ("tag_id", "last_event_at", "token_issued_at", "base_code",
                       "conversion_code", "custom_event_code", "server_endpoint")
    actions = ["share_everywhere", "create_web_traffic_audience", "issue_access_token"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return (*self.fields, *self.readonly_fields)

    @staticmethod
    def _snippet(obj, event_js: str):
        url = settings.LBM_TAG_INTAKE_ORIGIN + reverse("tag-events")
        code = (f"<script>\n(function(){{var t='{obj.tag_id}',u='{url}';\n"
                f"window.lineTag=function(type,name){{navigator.sendBeacon(u,JSON.stringify("
                f"{{tagId:t,events:[{{type:type,name:name,url:location.href,"
                f"timestamp:Math.floor(Date.now()/1000),user:window.lineTagUser||{{}}}}]}}));}};"
                f"}})();\n{event_js}\n</script>")
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
                request.user, Action.CREATE_AUDIENCES)
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
        tag = services.line_tag_create(actor=request.user,
                                       organization_id=form.cleaned_data["organization"].pk,
                                       name=form.cleaned_data["name"])
        obj.pk = tag.pk

    @admin.action(description=_("Share to every linked account"), permissions=["share"])
    def share_everywhere(self, request, queryset):
        _run_service(self, request, queryset,
                     lambda tag: services.line_tag_share(actor=request.user, tag_id=tag.pk),
                     gettext("%(count)d LINE Tag(s) shared."))

    @admin.action(description=_("Issue a new access token (shown once)"),
                  permissions=["create"])
    def issue_access_token(self, request, queryset):
        for tag in queryset:
            try:
                token = services.line_tag_issue_token(actor=request.user, tag_id=tag.pk)
            except (DomainError, PermissionDenied) as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            self.message_user(
                request, gettext("Access token of %(tag)s (shown only now; the previous one "
                                 "stops working): %(token)s") % {"tag": tag, "token": token},
                messages.WARNING)

    @admin.action(description=_("Create a web-traffic audience from this tag"),
                  permissions=["create"])
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
                    actor=request.user, organization_id=tag.organization_id, name=data["name"],
                    tag_id=tag.pk, event=data["event"], retention_days=data["retention_days"],
                    description=data["description"], url_match=data["url_match"],
                    url_value=data["url_value"])
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, gettext("Web-traffic audience “%(name)s” created "
                                                   "with %(size)d members.")
                                  % {"name": audience.name, "size": audience.size},
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:audiences_audience_change",
                                                    args=[audience.pk]))
        return TemplateResponse(request, "admin/audiences/_action_form.html", {
            **self.admin_site.each_context(request),
            "title": gettext("Web-traffic audience from %(tag)s") % {"tag": tag},
            "objects": queryset, "form": form, "opts": self.model._meta,
            "action": "create_web_traffic_audience",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})


# --- The LINE user directory (LINE staff only) ------------------------------------------------


class FriendshipInline(admin.TabularInline):
    model = Friendship
    extra = 0
    fields = ("account", "state", "friend_path", "since")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LineUser)
class LineUserAdmin(admin.ModelAdmin):
    list_display = ("user_id", "notification_consent", "sms_verified_at", "created_at")
    search_fields = ("=user_id",)
    list_filter = ("notification_consent",)
    readonly_fields = ("user_id", "ifa", "phone_hash", "email_hash", "notification_consent",
                       "sms_verified_at", "app_version", "created_at")
    inlines = [FriendshipInline]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def has_module_permission(self, request):
        return permissions.sees_everything(request.user, LineUser)

    def has_view_permission(self, request, obj=None):
        return permissions.sees_everything(request.user, LineUser)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            phone = importers.stored_identifier(IdType.PHONE, term)
        except importers.Malformed:
            phone = None
        return queryset.filter(user_id=term) | queryset.filter(phone_hash=phone), False

