"""Audiences: the changelist and the change page, sharing, combining, the members' export,
refreshing, renaming and deleting (docs/audiences.md). The upload form is
``admin_uploads.AudienceUploadMixin``'s, the insight pages ``admin_insight``'s.
"""

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm.admin_gates import Gate
from lbm.admin_helpers import ReadOnlyAdminMixin, ScopedAdminMixin, confirm_with_reason, run_service
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.permissions import Action

from . import selectors, services
from .admin_common import _can
from .admin_insight import AudienceInsightMixin
from .admin_sharing import make_lookalike, unshare_with_preview
from .admin_uploads import AudienceUploadMixin
from .forms import CombineForm, RenameForm, ShareForm
from .models import Audience, AudienceShare, Usage

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
class AudienceAdmin(
    ReadOnlyAdminMixin,
    AudienceUploadMixin,
    AudienceInsightMixin,
    ScopedAdminMixin,
    SimpleHistoryAdmin,
):
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
