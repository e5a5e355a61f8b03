"""Admin pages of audiences, uploads, members, LINE Tags and the LINE user directory.

Thin: rows from ``permissions.visible``, rights from ``permissions.can``, every change through
``audiences.services``. Other organizations' objects answer 404.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm import permissions
from lbm.admin_helpers import (
    ReadOnlyAdminMixin,
    ScopedAdminMixin,
    confirm_with_reason,
    run_service,
)
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.paginators import LargeTablePaginator
from lbm.permissions import Action, Gate

from . import importers, selectors, services
from .admin_insight import AudienceInsightMixin
from .admin_sharing import (
    make_lookalike,
    share_tags_to_accounts,
    unshare_tags_from_accounts,
    unshare_with_preview,
)
from .exceptions import IdTypeNotGuessed
from .forms import (
    MODE_FIELDS,
    AudienceUploadForm,
    CombineForm,
    RenameForm,
    ShareForm,
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
)


def _queue_warning(modeladmin, request, upload) -> None:
    """Say so when the broker refused an upload's task: it is recorded, and the outbox sweep
    publishes it when the queue is back (docs/reliability.md#the-outbox)."""
    if getattr(upload, "queued", None) is not None and upload.queued.published is False:
        if upload.status == AudienceUpload.Status.CHECKING:
            text = gettext(
                "The queue is unreachable; the file will be checked when it is back. "
                "The upload is recorded."
            )
        else:
            text = gettext(
                "The queue is unreachable; the import will start when it is back. "
                "The upload is recorded."
            )
        modeladmin.message_user(request, text, messages.WARNING)


def _can(request, action: Action) -> bool:
    """``permissions.can(user, action)`` ("anywhere?") once per request: the admin asks it for
    every action, button and link on a page."""
    cache = request.__dict__.setdefault("_audiences_can", {})
    if action not in cache:
        cache[action] = permissions.can(request.user, action)
    return cache[action]


# The estimated-count paginator of the first scale pass, now the shared large-table paginator
# (docs/operations.md#admin-at-scale); the name stays for the admins that import it from here.
EstimatedCountPaginator = LargeTablePaginator


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
        return [
            ("org", _("Organization")),
            ("oa", _("LINE Official Account")),
            ("lap", _("LINE Ads Platform ad account")),
            ("mvp", _("MVP (頭版) ad account")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "org":
            return queryset.filter(source_account__isnull=True)
        if self.value():
            return queryset.filter(source_account__kind=self.value())
        return queryset


@admin.register(Audience)
class AudienceAdmin(ReadOnlyAdminMixin, AudienceInsightMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    # Insight and overlap are for those who may share audiences (Admins and Operators).
    # The upload page itself tells a person who may not upload why (403 with the reason).
    admin_gates = {
        "import": Gate("view"),
        "import_guess": Gate("import"),
        "insight": Gate(Action.SHARE_AUDIENCES, obj="object_id"),
        "overlap": Gate(Action.SHARE_AUDIENCES),
    }
    list_display = (
        "name",
        "source",
        "type",
        "size",
        "status",
        "create_route",
        "created_at",
        "share_count",
    )
    list_filter = (SourceFilter, "type", "status", "create_route")
    search_fields = ("name",)
    list_select_related = ("organization", "source_account")
    show_full_result_count = False
    inlines = [AudienceShareInline]
    actions = [
        "share",
        "unshare",
        "unshare_all",
        "combine",
        "export_members",
        "refresh",
        "rename",
        "delete_audiences",
        make_lookalike,
        "overlap",
    ]
    readonly_fields = (
        "name",
        "organization",
        "source",
        "type",
        "id_type",
        "create_route",
        "status",
        "size",
        "description",
        "via_cross_targeting",
        "from_data_provider",
        "operator",
        "component_list",
        "line_tag",
        "tag_event",
        "retention_days",
        "lookalike_source",
        "lookalike_percent",
        "created_by",
        "created_at",
        "expires_at",
    )
    fields = readonly_fields
    change_list_template = "admin/audiences/audience/change_list.html"

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
        # A subquery, not a GROUP BY over every audience: PostgreSQL computes it for the
        # page's rows only, and the count leaves it out (docs/operations.md#admin-at-scale).
        shares = (
            AudienceShare.objects.filter(audience=OuterRef("pk"))
            .order_by()
            .values("audience")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(share_count=Coalesce(Subquery(shares), 0))

    def has_share_permission(self, request):
        return _can(request, Action.SHARE_AUDIENCES)

    def has_create_permission(self, request):
        return _can(request, Action.CREATE_AUDIENCES)

    def has_export_members_permission(self, request):
        return _can(request, Action.EXPORT_AUDIENCES)

    # --- Upload: the form, then the summary and the confirmation (docs/audiences.md#uploading)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.upload_view), name="audiences_audience_import"),
            path("import/guess/", view(self.guess_view), name="audiences_audience_import_guess"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        context = {
            "may_upload": self.has_import_permission(request),
            "upload_refusal": None
            if self.has_import_permission(request)
            else selectors.upload_refusal(request.user),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def upload_view(self, request):
        """The upload page. A person whose role may not upload sees why, not a bare 403."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Upload an audience"),
        }
        if not self.has_import_permission(request):
            context["refusal"] = selectors.upload_refusal(request.user)
            return TemplateResponse(
                request, "admin/audiences/upload_form.html", context, status=403
            )
        initial = {
            key: request.GET[key]
            for key in ("mode", "organization", "name", "audience")
            if request.GET.get(key)
        }
        form = AudienceUploadForm(
            request.POST or None, request.FILES or None, user=request.user, initial=initial
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            adding = data["mode"] == "add"
            try:
                upload = services.upload_check(
                    actor=request.user,
                    file=data["import_file"],
                    id_type="" if adding else data["id_type"],
                    organization_id=None if adding else data["organization"].pk,
                    name="" if adding else data["name"],
                    description="" if adding else data["description"],
                    audience_id=data["audience"].pk if adding else None,
                )
            except IdTypeNotGuessed as exc:
                form.add_error("id_type", exc.message)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                # After commit (the outbox publish runs first): the upload is recorded either
                # way; if the broker refused it, say so (docs/reliability.md#the-outbox).
                transaction.on_commit(lambda: _queue_warning(self, request, upload))
                return HttpResponseRedirect(
                    reverse("admin:audiences_audienceupload_progress", args=[upload.pk])
                )
        context.update(
            form=form,
            mode=form.chosen_mode,
            mode_fields=MODE_FIELDS,
            guess_url=reverse("admin:audiences_audience_import_guess"),
        )
        return TemplateResponse(request, "admin/audiences/upload_form.html", context)

    def guess_view(self, request):
        """The ID type of a file's first lines, for the page to preselect (nothing is kept)."""
        from . import preview

        if request.method != "POST" or not self.has_import_permission(request):
            raise PermissionDenied
        id_type = preview.guess_id_type(request.POST.get("head", "")[: preview.HEAD_BYTES])
        label = dict(IdType.choices).get(id_type) if id_type else None
        if id_type:
            message = gettext(
                "From the file's first lines this looks like: %(type)s. Check it before uploading."
            ) % {"type": label}
        else:
            message = gettext(
                "The file's first lines do not show which kind of ID it holds; choose the ID type."
            )
        return JsonResponse(
            {"id_type": id_type or "", "label": str(label or ""), "message": message}
        )

    def has_import_permission(self, request):
        return _can(request, Action.CREATE_AUDIENCES)

    # --- Actions ---

    @admin.action(description=_("Share to linked accounts"), permissions=["share"])
    def share(self, request, queryset):
        org_ids = set(queryset.values_list("organization_id", flat=True))
        form = ShareForm(
            request.POST if request.POST.get("confirm") else None, organization_ids=org_ids
        )
        if request.POST.get("confirm") and form.is_valid():
            everywhere = form.cleaned_data["everywhere"]
            account_ids = None if everywhere else [a.pk for a in form.cleaned_data["accounts"]]
            done = 0
            for audience in queryset:
                try:
                    result = services.audience_share(
                        actor=request.user, audience_id=audience.pk, account_ids=account_ids
                    )
                except DomainError as exc:
                    self.message_user(request, f"{audience}: {exc}", messages.ERROR)
                    continue
                done += 1
                for account, reason in result.skipped:
                    self.message_user(
                        request,
                        gettext("%(audience)s not shared to %(account)s: %(reason)s")
                        % {"audience": audience, "account": account.name, "reason": reason},
                        messages.WARNING,
                    )
            if done:
                self.message_user(
                    request,
                    gettext("%(count)d audience(s) shared.") % {"count": done},
                    messages.SUCCESS,
                )
            return None
        accounts = list(form.fields["accounts"].queryset)
        labels = dict(Usage.choices)
        usage_rows = [
            (
                audience,
                account,
                [str(labels[u]) for u in selectors.audience_usages(audience, account.kind)],
            )
            for audience in queryset
            for account in accounts
            if account.pk != audience.source_account_id
        ]
        return TemplateResponse(
            request,
            "admin/audiences/share.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Share audiences"),
                "objects": queryset,
                "form": form,
                "opts": self.model._meta,
                "usage_rows": usage_rows,
                "action": "share",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("Unshare from every account"), permissions=["share"])
    def unshare_all(self, request, queryset):
        return unshare_with_preview(self, request, queryset, every_account=True)

    @admin.action(description=_("Combine (AND / OR / AND NOT)"), permissions=["create"])
    def combine(self, request, queryset):
        form = CombineForm(
            request.POST if request.POST.get("confirm") else None, audiences=queryset
        )
        if request.POST.get("confirm") and form.is_valid():
            first = form.cleaned_data["first"]
            ids = [first.pk] + [a.pk for a in queryset.order_by("pk") if a.pk != first.pk]
            orgs = set(queryset.values_list("organization_id", flat=True))
            try:
                if len(orgs) != 1:
                    raise DomainError(gettext("Combine audiences of one organization."))
                audience = services.audience_combine(
                    actor=request.user,
                    organization_id=orgs.pop(),
                    name=form.cleaned_data["name"],
                    operator=form.cleaned_data["operator"],
                    component_ids=ids,
                )
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return None
            self.message_user(
                request,
                gettext("Combined audience “%(name)s” created with %(size)d members.")
                % {"name": audience.name, "size": audience.size},
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "admin/audiences/combine.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Combine audiences"),
                "objects": queryset,
                "form": form,
                "opts": self.model._meta,
                "action": "combine",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(
        description=_("Export members (hashes; Admins only)"), permissions=["export_members"]
    )
    def export_members(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, gettext("Export one audience at a time."), messages.ERROR)
            return None
        audience = queryset.get()
        try:
            export = services.audience_export(actor=request.user, audience_id=audience.pk)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        if export.left_out:
            # Shown on the next page; the download itself carries the count in a header.
            self.message_user(
                request,
                gettext(
                    "%(count)d member(s) of “%(name)s” were stored before sealed copies existed "
                    "and "
                    "are not in the file; upload the same IDs again as an addition to include them."
                )
                % {"count": export.left_out, "name": audience.name},
                messages.WARNING,
            )
        response = StreamingHttpResponse(export.lines, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="audience-{audience.pk}-line-hashes.txt"'
        )
        response["X-Audience-Members-Left-Out"] = str(export.left_out)
        return response

    @admin.action(
        description=_("Refresh size, status and reachable counts"), permissions=["create"]
    )
    def refresh(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda a: services.audience_refresh(audience_id=a.pk),
            gettext("%(count)d audience(s) refreshed."),
        )

    @admin.action(description=_("Unshare from chosen accounts"), permissions=["share"])
    def unshare(self, request, queryset):
        return unshare_with_preview(self, request, queryset, every_account=False)

    @admin.action(description=_("Rename"), permissions=["create"])
    def rename(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, gettext("Rename one audience at a time."), messages.ERROR)
            return None
        audience = queryset.get()
        form = RenameForm(
            request.POST if request.POST.get("confirm") else None, initial={"name": audience.name}
        )
        if request.POST.get("confirm") and form.is_valid():
            try:
                services.audience_rename(
                    actor=request.user,
                    audience_id=audience.pk,
                    name=form.cleaned_data["name"],
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as exc:
                form.add_error("name", str(exc))
            else:
                self.message_user(request, gettext("Audience renamed."), messages.SUCCESS)
                return None
        return self._action_page(request, queryset, form, "rename", gettext("Rename audience"))

    @admin.action(description=_("Delete with members and shares"), permissions=["create"])
    def delete_audiences(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="delete_audiences",
            title=gettext("Delete audiences"),
            question=gettext(
                "Delete these audiences? Their members and their shares to linked "
                "accounts are removed; the history keeps who did it and why."
            ),
            reason_required=False,
            call=lambda audience, reason: services.audience_delete(
                actor=request.user, audience_id=audience.pk, reason=reason
            ),
            done_message=gettext("%(count)d audience(s) deleted."),
        )

    def _action_page(self, request, queryset, form, action, title):
        return TemplateResponse(
            request,
            "admin/audiences/_action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "objects": queryset,
                "form": form,
                "opts": self.model._meta,
                "action": action,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


# --- Uploads and their progress bar -----------------------------------------------------------


@admin.register(AudienceUpload)
class AudienceUploadAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "original_name",
        "organization",
        "target",
        "id_type",
        "status",
        "progress",
        "id_count",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "id_type")
    list_select_related = ("organization", "audience", "created_by")
    readonly_fields = (
        "organization",
        "audience",
        "name",
        "id_type",
        "original_name",
        "file_size",
        "status",
        "progress",
        "id_count",
        "added_count",
        "error",
        "created_by",
        "created_at",
        "finished_at",
    )
    fields = readonly_fields

    @admin.display(description=_("audience"))
    def target(self, obj):
        return obj.audience or obj.name

    admin_gates = {
        "progress": Gate("view", obj="upload_id"),
        "status": Gate("view", obj="upload_id"),
        "confirm": Gate("view", obj="upload_id"),
    }  # the service checks the role

    def get_urls(self):
        view = self.admin_site.admin_view
        urls = [
            path(
                "<int:upload_id>/progress/",
                view(self.progress_view),
                name="audiences_audienceupload_progress",
            ),
            path(
                "<int:upload_id>/status/",
                view(self.status_view),
                name="audiences_audienceupload_status",
            ),
            path(
                "<int:upload_id>/confirm/",
                view(self.confirm_view),
                name="audiences_audienceupload_confirm",
            ),
        ]
        return urls + super().get_urls()

    def _upload(self, request, upload_id):
        return get_object_or_404(
            self.get_queryset(request).select_related("audience"), pk=upload_id
        )

    @staticmethod
    def again_url(upload) -> str:
        """The upload form again, with what this upload was given (never the file)."""
        from urllib.parse import urlencode

        if upload.audience_id:
            query = {"mode": "add", "audience": upload.audience_id}
        else:
            query = {"mode": "new", "organization": upload.organization_id, "name": upload.name}
        return reverse("admin:audiences_audience_import") + "?" + urlencode(query)

    def progress_view(self, request, upload_id):
        """One page for an upload's whole life: checking, the summary to confirm, the import's
        progress, and its end (with the lines of a refused file and a way to upload again)."""
        upload = self._upload(request, upload_id)
        state = selectors.upload_status(upload)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Audience upload"),
            "upload": upload,
            "state": state,
            "opts": self.model._meta,
            "status_url": reverse("admin:audiences_audienceupload_status", args=[upload.pk]),
            "confirm_url": reverse("admin:audiences_audienceupload_confirm", args=[upload.pk]),
            "again_url": self.again_url(upload),
            "error_lines": [line for line in upload.error.splitlines() if line],
        }
        shown = {"id_count": f"{upload.id_count:,}", "added_count": f"{upload.added_count:,}"}
        if upload.status == AudienceUpload.Status.AWAITING:
            summary = context["summary"] = selectors.upload_summary(upload)
            shown.update({key: f"{summary[key]:,}" for key in ("count", "new", "existing")})
        context["shown"] = shown
        return TemplateResponse(request, "admin/audiences/upload_progress.html", context)

    def confirm_view(self, request, upload_id):
        upload = self._upload(request, upload_id)
        if request.method != "POST":
            return HttpResponseRedirect(
                reverse("admin:audiences_audienceupload_progress", args=[upload.pk])
            )
        try:
            if request.POST.get("decision") == "cancel":
                services.upload_cancel(upload_id=upload.pk, actor=request.user)
                self.message_user(
                    request, gettext("The upload was cancelled; nothing was stored."), messages.INFO
                )
                return HttpResponseRedirect(self.again_url(upload))
            confirmed = services.upload_confirm(upload_id=upload.pk, actor=request.user)
            transaction.on_commit(lambda: _queue_warning(self, request, confirmed))
        except (DomainError, PermissionDenied) as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:audiences_audienceupload_progress", args=[upload.pk])
        )

    def status_view(self, request, upload_id):
        upload = self._upload(request, upload_id)
        state = selectors.upload_status(upload)
        if upload.audience_id:
            state["audience_url"] = reverse(
                "admin:audiences_audience_change", args=[upload.audience_id]
            )
        return JsonResponse(state)


# --- Members ----------------------------------------------------------------------------------


class AudienceChoiceFilter(admin.SimpleListFilter):
    """Audiences listed from the audience table (never a DISTINCT over millions of members)."""

    title = _("audience")
    parameter_name = "audience"

    def lookups(self, request, model_admin):
        return [
            (a.pk, a.name)
            for a in selectors.audiences_for(request.user).only("pk", "name").order_by("name")[:200]
        ]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(audience_id=self.value())
        return queryset


@admin.register(AudienceMember)
class AudienceMemberAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    organization_path = "audience__organization"
    list_display = ("identifier", "audience")
    list_select_related = ("audience",)
    list_filter = (AudienceChoiceFilter,)
    search_fields = ("=identifier",)
    search_help_text = _(
        "An exact ID: a user ID, an IDFA/AAID, a phone number or an e-mail "
        "address (phone numbers and addresses are matched by their hash)."
    )
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
        # Through the audiences the user sees: one probe of the (audience, identifier) index per
        # audience instead of reading every member (docs/operations.md#admin-at-scale).
        return queryset.filter(
            identifier__in=candidates,
            audience__in=selectors.audiences_for(request.user).order_by().values("pk"),
        ), False


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
class LineUserAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user_id", "notification_consent", "sms_verified_at", "created_at")
    search_fields = ("=user_id",)
    list_filter = ("notification_consent",)
    readonly_fields = (
        "user_id",
        "ifa",
        "phone_hash",
        "email_hash",
        "notification_consent",
        "sms_verified_at",
        "app_version",
        "created_at",
    )
    inlines = [FriendshipInline]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def has_module_permission(self, request):
        return permissions.sees_everything(request.user, LineUser)

    def has_view_permission(self, request, obj=None):
        return permissions.sees_everything(request.user, LineUser)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            phone = importers.stored_identifier(IdType.PHONE, term)
        except importers.Malformed:
            phone = None
        return queryset.filter(user_id=term) | queryset.filter(phone_hash=phone), False
