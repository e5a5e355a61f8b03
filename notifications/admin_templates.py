"""Notification-message templates: the customers' pages (a changed content makes a new version;
submitting the latest) and the LINE reviewers' queue of versions, flagged spans highlighted.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm import permissions
from lbm.admin_helpers import run_service
from lbm.permissions import Action

from . import rendering, selectors, services
from .admin_common import AccountScopedAdmin, ReviewerQueueMixin, _manageable_accounts
from .models import Scenario, Template, TemplateVersion, TemplateVersionReview


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
