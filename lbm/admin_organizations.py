"""The organizations' admin pages: the form, the next-steps panel, submitting and deleting.

Thin: rows from ``permissions.visible``, rights from ``permissions.can``, every change from
``lbm.services`` (docs/organizations.md).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import permissions, selectors, services
from .admin_gates import Gate
from .admin_helpers import ScopedAdminMixin, confirm_with_reason, due_badge, run_service
from .exceptions import DomainError
from .history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from .models import Membership, Organization
from .permissions import Action

User = get_user_model()


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = [
            "name",
            "country",
            "entity_type",
            "company_name",
            "business_number",
            "address",
            "phone",
            "industry",
            "contact",
            "share_mode",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "contact" in self.fields:
            if self.instance.pk:
                self.fields["contact"].queryset = User.objects.filter(
                    memberships__organization=self.instance,
                    memberships__role=Membership.Role.ADMIN,
                    memberships__is_company_member=True,
                )
            else:
                self.fields.pop("contact")

    # No clean_*: the rules (entity type, name, business information locked once submitted,
    # the contact person) are the services'; a refusal comes back onto its field
    # (lbm.admin_helpers.ServiceFormAdminMixin).


@admin.register(Organization)
class OrganizationAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    # The next-steps panel's buttons: resend the verification link, submit (POST only).
    admin_gates = {
        "next_step": Gate("view", post=Action.CHANGE, obj="object_id"),
        # A deleted organization's members reach its page, which says it was deleted
        # and when (410); anyone else gets the same 404 as for a missing one.
        "change": Gate("view", post="change", obj="object_id", objects="organizations_or_deleted"),
    }
    form = OrganizationForm
    organization_path = "pk"
    list_display = (
        "name",
        "company_name",
        "business_number",
        "status",
        "review_due",
        "contact_verified",
        "created_at",
    )
    list_filter = ("status", "industry")
    search_fields = ("name", "company_name", "=business_number")
    actions = ["submit_for_review", "send_verification_email", "delete_organizations"]
    readonly_fields = (
        "status",
        "rejection_reason",
        "contact_verified",
        "submitted_at",
        "review_due_on",
        "reviewed_at",
        "reviewed_by",
        "deleted_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "country", "entity_type", "status", "rejection_reason")}),
        (
            _("Business information (商用資訊)"),
            {
                "fields": (
                    "company_name",
                    "business_number",
                    "address",
                    "phone",
                    "industry",
                    "contact",
                    "contact_verified",
                )
            },
        ),
        (_("Settings"), {"fields": ("share_mode",)}),
        (
            _("Review"),
            {
                "fields": (
                    "submitted_at",
                    "review_due_on",
                    "reviewed_at",
                    "reviewed_by",
                    "deleted_at",
                )
            },
        ),
    )

    @admin.display(description=_("review due"), ordering="review_due_on")
    def review_due(self, obj):
        return due_badge(obj)

    @admin.display(description=_("contact e-mail verified"), boolean=True)
    def contact_verified(self, obj):
        return selectors.contact_email_is_verified(obj)

    @admin.display(description=_("reason from the LINE reviewer"))
    def rejection_reason(self, obj):
        if obj.status == Organization.Status.REJECTED and obj.review_reason:
            return format_html(
                '<strong style="color:#ba2121" class="lbm-rejection">{}</strong>', obj.review_reason
            )
        return obj.review_reason or "—"

    change_form_template = "admin/lbm/organization/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("contact")

    def has_view_permission(self, request, obj=None):
        # A member of a deleted organization (and of nothing else) still reaches its page, which
        # says it was deleted and when; the list shows them nothing.
        if super().has_view_permission(request, obj):
            return True
        deleted = selectors.deleted_organizations_of(request.user)
        return deleted.exists() if obj is None else deleted.filter(pk=obj.pk).exists()

    def organizations_or_deleted(self, request):
        deleted = selectors.deleted_organizations_of(request.user).values("pk")
        return Organization.objects.filter(
            Q(pk__in=self.get_queryset(request).values("pk")) | Q(pk__in=deleted)
        )

    def get_urls(self):
        from django.urls import path

        return [
            path(
                "<int:object_id>/next-step/",
                self.admin_site.admin_view(self.next_step_view),
                name="lbm_organization_next_step",
            )
        ] + super().get_urls()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None and not self.get_queryset(request).filter(pk=object_id).exists():
            deleted = (
                selectors.deleted_organizations_of(request.user).filter(pk=object_id).first()
                if str(object_id).isdigit()
                else None
            )
            if deleted is not None:  # its members learn what happened, not "not found"
                return TemplateResponse(
                    request,
                    "admin/lbm/organization/deleted.html",
                    {
                        **self.admin_site.each_context(request),
                        "opts": self.opts,
                        "title": deleted.name,
                        "deleted_organizations": [deleted],
                    },
                    status=410,
                )
        extra_context = dict(extra_context or {})
        if object_id is not None:
            obj = self.get_queryset(request).filter(pk=object_id).first()
            if obj is not None and obj.status in Organization.EDITABLE_BUSINESS_INFO:
                extra_context["next_steps"] = selectors.organization_next_steps(obj)
                extra_context["may_act"] = permissions.can(request.user, Action.CHANGE, obj)
                extra_context["next_step_url"] = reverse(
                    "admin:lbm_organization_next_step", args=[obj.pk]
                )
            elif obj is not None:
                extra_context["org_state"] = obj
        return super().changeform_view(request, object_id, form_url, extra_context)

    def next_step_view(self, request, object_id):
        """The buttons of the next-steps panel: send the verification link, submit."""
        self._require_visible(request, object_id)
        if request.method != "POST":
            raise PermissionDenied
        step = request.POST.get("step")
        try:
            if step == "verify":
                services.organization_send_contact_verification(
                    organization_id=object_id, actor=request.user
                )
                self.message_user(
                    request,
                    gettext(
                        "A verification link was sent to your e-mail address; open it to verify "
                        "the organization's contact e-mail."
                    ),
                    messages.SUCCESS,
                )
            elif step == "submit":
                services.organization_submit(organization_id=object_id, actor=request.user)
                self.message_user(
                    request,
                    gettext("Submitted for review. LINE reviews it within 5 working days."),
                    messages.SUCCESS,
                )
            else:
                raise PermissionDenied
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:lbm_organization_change", args=[object_id]))

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.status not in Organization.EDITABLE_BUSINESS_INFO:
            fields += [
                "country",
                "entity_type",
                "company_name",
                "business_number",
                "address",
                "phone",
                "industry",
                "contact",
            ]
        if obj is not None and obj.is_deleted:
            fields += ["name", "share_mode"]
        return fields

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return (
                (None, {"fields": ("name", "country", "entity_type")}),
                (
                    _("Business information (商用資訊)"),
                    {"fields": ("company_name", "business_number", "address", "phone", "industry")},
                ),
                (_("Settings"), {"fields": ("share_mode",)}),
            )
        return self.fieldsets

    def has_add_permission(self, request):
        user = request.user
        return user.is_active and (not user.is_staff or user.is_superuser)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.CHANGE, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # deletion is the irreversible action below, never a cascade

    def has_delete_organization_permission(self, request):
        return permissions.can(request.user, Action.DELETE)

    def save_model(self, request, obj, form, change):
        if change:
            services.organization_update(
                organization=obj, actor=request.user, changed=form.changed_data
            )
        else:
            services.organization_create(actor=request.user, organization=obj)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.contact_id:
            self.message_user(
                request,
                gettext(
                    "A verification link was sent to your e-mail address; open it to verify the "
                    "organization's contact e-mail."
                ),
                messages.INFO,
            )
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=_("Submit for review"), permissions=["change"])
    def submit_for_review(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda org: services.organization_submit(organization_id=org.pk, actor=request.user),
            gettext("%(count)d organization(s) submitted for review."),
        )

    @admin.action(
        description=_("Send the contact e-mail verification link"), permissions=["change"]
    )
    def send_verification_email(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda org: services.organization_send_contact_verification(
                organization_id=org.pk, actor=request.user
            ),
            gettext("Verification link sent for %(count)d organization(s)."),
        )

    @admin.action(
        description=_("Delete organization (irreversible)"), permissions=["delete_organization"]
    )
    def delete_organizations(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="delete_organizations",
            title=gettext("Delete organizations"),
            question=gettext(
                "Deleting an organization is final: it cannot be restored, its "
                "links end, and the company can never create another organization "
                "with the same business number."
            ),
            reason_required=False,
            call=lambda org, reason: services.organization_delete(
                organization_id=org.pk, actor=request.user, reason=reason
            ),
            done_message=gettext("%(count)d organization(s) deleted."),
        )
