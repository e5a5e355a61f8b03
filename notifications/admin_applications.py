"""Notification-message applications: the customers' pages (create, edit, submit; suspend and
reinstate by LINE reviewers) and the LINE reviewers' queue of applications.
"""

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm import permissions
from lbm.admin_helpers import confirm_rejection, confirm_with_reason, run_service
from lbm.permissions import Action

from . import selectors, services
from .admin_common import AccountScopedAdmin, ReviewerQueueMixin, _manageable_accounts
from .models import Application, ApplicationReview, Scenario

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
        return confirm_rejection(
            self,
            request,
            queryset,
            call=lambda a, reason: services.application_reject(
                actor=request.user, application_id=a.pk, reason=reason
            ),
            done_message=gettext("%(count)d application(s) rejected."),
        )
