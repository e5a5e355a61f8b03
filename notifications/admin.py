"""Admin pages of notification messages: customers' applications and templates, LINE reviewers'
queues, read-only delivery records and webhooks, and the failed-notice export (Admins only).

Thin: rows from ``permissions.visible``, rights from ``permissions.can``, writes from
``notifications.services``.
"""

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audiences.admin import EstimatedCountPaginator
from lbm import permissions
from lbm.admin_helpers import (
    ReadOnlyAdminMixin,
    ReviewQueueMixin,
    ScopedAdminMixin,
    confirm_with_reason,
    run_service,
)
from lbm.admin_search import ExactSearchMixin
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.models import Account
from lbm.permissions import Action

from . import rendering, selectors, services
from .models import (
    Application,
    ApplicationReview,
    FailedNoticeExport,
    Notice,
    Scenario,
    Template,
    TemplateVersion,
    TemplateVersionReview,
    WebhookAttempt,
    WebhookDelivery,
)


class AccountScopedAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Rows of Official Accounts linked (approved) to the user's organizations."""

    account_path = "account"

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        return permissions.visible(request.user, qs, account_path=self.account_path)

    def has_delete_permission(self, request, obj=None):
        return False


def _manageable_accounts(user):
    return permissions.visible(
        user,
        Account.objects.filter(kind=Account.Kind.OFFICIAL_ACCOUNT),
        Action.MANAGE_NOTIFICATIONS,
        account_path="pk",
    )


def highlight(text: str, spans: list[dict]) -> str:
    """``text`` escaped, with the flagged spans wrapped in ``<mark>``."""
    pieces, position = [], 0
    for span in sorted(spans, key=lambda s: s["start"]):
        if span["start"] < position:
            continue
        pieces.append(escape(text[position : span["start"]]))
        pieces.append(
            format_html(
                '<mark class="lon-flag lon-{}" title="{}">{}</mark>',
                span["kind"],
                span["kind"],
                text[span["start"] : span["end"]],
            )
        )
        position = span["end"]
    pieces.append(escape(text[position:]))
    return mark_safe("".join(pieces))  # every piece is escaped above


def flagged_content(version: TemplateVersion) -> str:
    content = rendering.Content.of(version)
    flags = version.prescreen_flags or rendering.prescreen(content)
    rows = [
        (part, highlight(text, [f for f in flags if f["part"] == part]))
        for part, text in content.parts()
        if text
    ]
    return format_html_join("", "<div><strong>{}</strong>: {}</div>", rows)


# --- Applications (customers) -----------------------------------------------------------------


class ApplicationForm(forms.ModelForm):
    scenarios = forms.MultipleChoiceField(
        label=_("scenarios"), choices=Scenario.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Application
        fields = [
            "account",
            "scenarios",
            "use_description",
            "purchase_agreement",
            "nda",
            "test_recording",
        ]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        if "account" in self.fields:
            self.fields["account"].queryset = _manageable_accounts(request.user)


@admin.register(Application)
class ApplicationAdmin(AccountScopedAdmin):
    list_display = ("account", "stage", "submitted_at", "expected_finish", "stage_changed_at")
    list_filter = ("stage",)
    search_fields = ("account__name", "=account__basic_id")
    list_select_related = ("account",)
    actions = ["submit", "suspend", "reinstate"]
    readonly_fields = (
        "stage",
        "review_reason",
        "submitted_at",
        "stage_changed_at",
        "expected_finish",
        "test_recording_checked_at",
        "test_recording_checked_by",
    )

    @admin.display(description=_("expected finish (10–20 working days)"))
    def expected_finish(self, obj):
        if not obj.expected_earliest:
            return "—"
        return f"{obj.expected_earliest} – {obj.expected_latest}"

    def get_form(self, request, obj=None, change=False, **kwargs):
        class Form(ApplicationForm):
            def __init__(self, *args, **kw):
                super().__init__(*args, request=request, **kw)

        kwargs["form"] = Form
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        fields = ["scenarios", "use_description", "purchase_agreement", "nda", "test_recording"]
        if obj is None:
            return ["account"] + fields
        return ["account"] + fields + list(self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fields = ["account", *self.readonly_fields]
        if obj.stage not in Application.CUSTOMER_EDITABLE:
            fields += ["scenarios", "use_description"]
        for name, stages in services.FILE_FIELDS.items():
            if obj.stage not in stages:
                fields.append(name)
        return fields

    def has_add_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_NOTIFICATIONS)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_NOTIFICATIONS, obj)

    def has_manage_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_NOTIFICATIONS)

    def has_review_permission(self, request):
        return permissions.can(request.user, Action.REVIEW_NOTIFICATIONS)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        files = {n: data.get(n) for n in services.FILE_FIELDS if n in form.changed_data}
        if not change:
            created = services.application_create(
                actor=request.user,
                account_id=data["account"].pk,
                scenarios=data["scenarios"],
                use_description=data.get("use_description", ""),
            )
            obj.pk = created.pk
        services.application_update(
            actor=request.user,
            application_id=obj.pk,
            scenarios=data.get("scenarios") if "scenarios" in form.changed_data else None,
            use_description=data.get("use_description")
            if "use_description" in form.changed_data
            else None,
            files=files,
        )
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass

    @admin.action(description=_("Submit for review"), permissions=["manage"])
    def submit(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda a: services.application_submit(actor=request.user, application_id=a.pk),
            gettext("%(count)d application(s) submitted for review."),
        )

    @admin.action(description=_("Suspend (with a reason)"), permissions=["review"])
    def suspend(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="suspend",
            title=gettext("Suspend"),
            question=gettext("The company can no longer send notification messages."),
            reason_required=True,
            call=lambda a, reason: services.application_suspend(
                actor=request.user, application_id=a.pk, reason=reason
            ),
            done_message=gettext("%(count)d application(s) suspended."),
        )

    @admin.action(description=_("Reinstate (with a reason)"), permissions=["review"])
    def reinstate(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="reinstate",
            title=gettext("Reinstate"),
            question=gettext("The company can send notification messages again."),
            reason_required=True,
            call=lambda a, reason: services.application_reinstate(
                actor=request.user, application_id=a.pk, reason=reason
            ),
            done_message=gettext("%(count)d application(s) reinstated."),
        )


class ReviewerQueueMixin(ReviewQueueMixin):
    """A notification reviewers' queue (``lbm.admin_helpers.ReviewQueueMixin``)."""

    review_action = Action.REVIEW_NOTIFICATIONS


@admin.register(ApplicationReview)
class ApplicationReviewAdmin(ReviewerQueueMixin, admin.ModelAdmin):
    list_display = (
        "account",
        "stage",
        "stage_changed_at",
        "expected_latest",
        "documents",
        "eligibility",
    )
    list_filter = ("stage",)
    readonly_fields = (
        "account",
        "stage",
        "scenarios",
        "use_description",
        "purchase_agreement",
        "nda",
        "test_recording",
        "submitted_at",
        "stage_changed_at",
        "expected_earliest",
        "expected_latest",
        "eligibility",
    )
    fields = readonly_fields
    actions = ["advance", "reject"]
    approve_label = _("Approve: move to the next stage")
    approve_question = _(
        "Move this application to its next stage? A note is optional; the applicant sees it."
    )

    def review_decide(self, request, obj, decision, reason):
        if decision == "approve":
            services.application_advance(actor=request.user, application_id=obj.pk, reason=reason)
        else:
            services.application_reject(actor=request.user, application_id=obj.pk, reason=reason)

    def get_queryset(self, request):
        if not permissions.can(request.user, self.review_action):
            return Application.objects.none()
        return selectors.review_queue_applications()

    @admin.display(description=_("documents"))
    def documents(self, obj):
        marks = [
            (str(Application._meta.get_field(n).verbose_name), "✔" if getattr(obj, n) else "✘")
            for n in services.FILE_FIELDS
        ]
        return format_html_join(" ", "{} {}", ((m, n) for n, m in marks))

    @admin.display(description=_("eligibility"))
    def eligibility(self, obj):
        problems = services.application_eligibility(obj.account)
        if not problems:
            return format_html(
                '<span style="color:#2e7d32">✔ {}</span>',
                gettext("Blue or green badge, certified provider"),
            )
        return format_html_join(
            "", '<div style="color:#ba2121">✘ {}</div>', ((p,) for p in problems)
        )

    @admin.action(description=_("Move to the next stage"), permissions=["review"])
    def advance(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda a: services.application_advance(actor=request.user, application_id=a.pk),
            gettext("%(count)d application(s) moved to their next stage."),
        )

    @admin.action(description=_("Reject (with a reason)"), permissions=["review"])
    def reject(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="reject",
            title=gettext("Reject"),
            question=gettext("The applicant will see this reason, edit and resubmit."),
            reason_required=True,
            call=lambda a, reason: services.application_reject(
                actor=request.user, application_id=a.pk, reason=reason
            ),
            done_message=gettext("%(count)d application(s) rejected."),
        )


# --- Templates (customers) --------------------------------------------------------------------


class TemplateForm(forms.ModelForm):
    """The template's name and the content of its latest version; saving changed content makes
    a new version."""

    scenario = forms.ChoiceField(label=_("scenario"), choices=Scenario.choices)
    title = forms.CharField(label=_("title"), max_length=40)
    body = forms.CharField(label=_("body"), widget=forms.Textarea)
    placeholders = forms.JSONField(label=_("placeholders"), required=False, initial=list)
    fields_json = forms.JSONField(label=_("fields"), required=False, initial=list)
    cta_label = forms.CharField(label=_("call-to-action label"), required=False)
    cta_kind = forms.ChoiceField(
        label=_("call-to-action kind"),
        required=False,
        choices=[("", "—"), *TemplateVersion.CtaKind.choices],
    )
    cta_url = forms.CharField(label=_("call-to-action URL"), required=False)
    exempt = forms.BooleanField(label=_("phone-verification exempt"), required=False)
    service_type = forms.ChoiceField(
        label=_("service type"),
        required=False,
        choices=[("", "—"), *TemplateVersion._meta.get_field("service_type").choices],
    )
    utility = forms.ChoiceField(
        label=_("utility"),
        required=False,
        choices=[("", "—"), *TemplateVersion._meta.get_field("utility").choices],
    )
    promotional_points = forms.BooleanField(
        label=_("points given free by a promotion"), required=False
    )

    class Meta:
        model = Template
        fields = ["account", "name"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        if "account" in self.fields:
            self.fields["account"].queryset = _manageable_accounts(request.user)
        latest = self.instance.versions.order_by("-number").first() if self.instance.pk else None
        if latest is not None:
            for name in rendering.CONTENT_FIELDS:
                key = "fields_json" if name == "fields" else name
                self.initial[key] = getattr(latest, name)

    def content(self) -> dict:
        data = self.cleaned_data
        content = {
            name: data.get("fields_json" if name == "fields" else name)
            for name in rendering.CONTENT_FIELDS
        }
        content["placeholders"] = content["placeholders"] or []
        content["fields"] = content["fields"] or []
        return content

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            content = self.content()
            content["title"], content["body"] = content["title"].strip(), content["body"].strip()
            problems = rendering.content_problems(rendering.Content(**content))
            if problems:
                raise ValidationError(problems)
        return cleaned


class VersionInline(admin.TabularInline):
    model = TemplateVersion
    fields = (
        "number",
        "status",
        "scenario",
        "title",
        "exempt",
        "submitted_at",
        "reviewed_at",
        "review_reason",
        "flags",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-number",)

    @admin.display(description=_("pre-screen flags"))
    def flags(self, obj):
        return len(obj.prescreen_flags or [])

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Template)
class TemplateAdmin(AccountScopedAdmin):
    list_display = ("name", "account", "latest_status", "created_at")
    list_select_related = ("account",)
    search_fields = ("name", "account__name")
    inlines = [VersionInline]
    actions = ["submit_latest"]

    @admin.display(description=_("latest version"))
    def latest_status(self, obj):
        latest = obj.versions.order_by("-number").first()
        return f"v{latest.number}: {latest.get_status_display()}" if latest else "—"

    def get_form(self, request, obj=None, change=False, **kwargs):
        class Form(TemplateForm):
            def __init__(self, *args, **kw):
                super().__init__(*args, request=request, **kw)

        kwargs["form"] = Form
        # The form declares its own fields; a view-only user gets none to edit (Django would
        # exclude "all fields" and fail on None: the page read-only is shown from the version).
        kwargs["fields"] = None if (obj is None or self.has_change_permission(request, obj)) else []
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        content = [
            "scenario",
            "service_type",
            "utility",
            "promotional_points",
            "title",
            "body",
            "placeholders",
            "fields_json",
            "cta_label",
            "cta_kind",
            "cta_url",
            "exempt",
        ]
        head = ["account", "name"] if obj is None else ["name"]
        return [
            (None, {"fields": head}),
            (_("Content (a change makes a new version)"), {"fields": content}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return ("name",) if obj is not None else ()

    def has_add_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_NOTIFICATIONS)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_NOTIFICATIONS, obj)

    def has_manage_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_NOTIFICATIONS)

    def save_model(self, request, obj, form, change):
        if change:
            services.template_revise(actor=request.user, template_id=obj.pk, content=form.content())
        else:
            version = services.template_create(
                actor=request.user,
                account_id=form.cleaned_data["account"].pk,
                name=form.cleaned_data["name"],
                content=form.content(),
            )
            obj.pk = version.template_id

    def save_related(self, request, form, formsets, change):
        pass  # versions are written by the services only

    @admin.action(description=_("Submit the latest version for review"), permissions=["manage"])
    def submit_latest(self, request, queryset):
        def submit(template):
            latest = template.versions.order_by("-number").first()
            services.template_submit(actor=request.user, version_id=latest.pk)

        run_service(
            self,
            request,
            queryset,
            submit,
            gettext("%(count)d template version(s) submitted for review."),
        )


@admin.register(TemplateVersionReview)
class TemplateReviewAdmin(ReviewerQueueMixin, admin.ModelAdmin):
    list_display = (
        "template",
        "number",
        "account_name",
        "scenario",
        "category",
        "submitted_at",
        "flag_count",
        "exempt",
    )
    readonly_fields = (
        "template",
        "number",
        "scenario",
        "category",
        "service_type",
        "utility",
        "promotional_points",
        "exempt",
        "exempt_check",
        "content_flagged",
        "preview",
        "submitted_at",
    )
    fields = readonly_fields

    def review_decide(self, request, obj, decision, reason):
        services.template_review(
            actor=request.user,
            version_id=obj.pk,
            reason=reason,
            decision="approved" if decision == "approve" else "rejected",
        )

    def get_queryset(self, request):
        if not permissions.can(request.user, self.review_action):
            return TemplateVersion.objects.none()
        return selectors.review_queue_templates()

    @admin.display(description=_("Official Account"))
    def account_name(self, obj):
        return obj.template.account

    @admin.display(description=_("category"))
    def category(self, obj):
        from .models import Category

        return Category(obj.category).label

    @admin.display(description=_("pre-screen flags"))
    def flag_count(self, obj):
        count = len(obj.prescreen_flags or [])
        if not count:
            return "0"
        return format_html('<span style="color:#ba2121;font-weight:bold">⚠ {}</span>', count)

    @admin.display(description=_("content (flagged spans highlighted)"))
    def content_flagged(self, obj):
        return flagged_content(obj)

    @admin.display(description=_("masking rule"))
    def exempt_check(self, obj):
        problems = rendering.exempt_problems(rendering.Content.of(obj))
        if not problems:
            return gettext("No forbidden field; fields to mask are masked.")
        return format_html_join(
            "", '<div style="color:#ba2121">✘ {}</div>', ((p,) for p in problems)
        )

    @admin.display(description=_("preview (masked)"))
    def preview(self, obj):
        values = {name: f"<{name}>" for name in obj.placeholders}
        rendered = rendering.render(rendering.Content.of(obj), values)
        return format_html(
            "<strong>{}</strong><br>{}<br>{}",
            rendered["title"],
            rendered["body"],
            format_html_join(
                "", "<div>{}: {}</div>", ((f["label"], f["value"]) for f in rendered["fields"])
            ),
        )


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
