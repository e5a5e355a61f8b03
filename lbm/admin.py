"""The admin pages of organizations, members, accounts, links and the review queue.

Thin by design: querysets come from ``permissions.visible``, rights from ``permissions.can``,
and every change from ``lbm.services``. Objects the user may not see answer 404, never 403.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin

from . import channels, invitations, permissions, selectors, services
from .admin_agency import MemberRightsMixin  # agency access and the member rights page
from .admin_helpers import (
    ReasonForm,  # noqa: F401  (imported from here by older code)
    ReviewPageMixin,
    ServiceFormAdminMixin,
    confirm_with_reason,
    run_service,
)
from .admin_search import ExactSearchMixin
from .admin_site import can_review
from .exceptions import DomainError
from .history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from .import_export_i18n import LabelledExportForm
from .models import (
    Account,
    AccountLink,
    AccountLinkReview,
    Channel,
    ChannelAccessToken,
    Membership,
    MembershipInvitation,
    Organization,
    OrganizationReview,
    OutboxMessage,
    Provider,
)
from .paginators import LargeTablePaginator
from .permissions import Action, Gate
from .resources import AccountResource, ProviderResource
from .workdays import taipei_today

User = get_user_model()


class ScopedAdminMixin(ServiceFormAdminMixin):
    """Rows and rights through ``lbm.permissions``; unknown or foreign objects are a 404."""

    organization_path = "organization"

    def get_queryset(self, request):
        return permissions.visible(request.user, super().get_queryset(request),
                                   organization_path=self.organization_path)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        user = request.user
        if obj is None:
            return (permissions.sees_everything(user, self.model)
                    or permissions.can(user, Action.VIEW))
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects with a message; a customer probing another organization's ids must
        # learn nothing, so this is a plain 404.
        raise Http404

    def _require_visible(self, request, object_id) -> None:
        """404 before any permission check, so a 403 never confirms that an id exists."""
        try:
            exists = self.get_queryset(request).filter(pk=object_id).exists()
        except (ValueError, ValidationError):
            exists = False
        if not exists:
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None:
            self._require_visible(request, object_id)
        # A service's refusal re-shows the form with the input and the error by its field.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletions go through services, one at a time
        return actions


# Shared with the other apps' admins (lbm.admin_helpers); the old private names stay.
_run_service = run_service
_confirm_with_reason = confirm_with_reason


# --- Organizations ----------------------------------------------------------------------------


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "country", "entity_type", "company_name", "business_number", "address",
                  "phone", "industry", "contact", "share_mode"]

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


class OverdueFilter(admin.SimpleListFilter):
    title = _("review deadline")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("On time"))]

    def queryset(self, request, queryset):
        today = taipei_today()
        if self.value() == "yes":
            return queryset.filter(review_due_on__lt=today)
        if self.value() == "no":
            return queryset.filter(review_due_on__gte=today)
        return queryset


def due_badge(obj):
    if not obj.review_due_on:
        return "—"
    if obj.status == "pending" and obj.review_due_on < taipei_today():
        return format_html('<span class="lbm-overdue" style="color:#ba2121;font-weight:bold">'
                           "⚠ {} ({})</span>", obj.review_due_on, gettext("overdue"))
    return str(obj.review_due_on)


@admin.register(Organization)
class OrganizationAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    # The next-steps panel's buttons: resend the verification link, submit (POST only).
    admin_gates = {"next_step": Gate("view", post=Action.CHANGE, obj="object_id"),
                   # A deleted organization's members reach its page, which says it was deleted
                   # and when (410); anyone else gets the same 404 as for a missing one.
                   "change": Gate("view", post="change", obj="object_id",
                                  objects="organizations_or_deleted")}
    form = OrganizationForm
    organization_path = "pk"
    list_display = ("name", "company_name", "business_number", "status", "review_due",
                    "contact_verified", "created_at")
    list_filter = ("status", "industry")
    search_fields = ("name", "company_name", "=business_number")
    actions = ["submit_for_review", "send_verification_email", "delete_organizations"]
    readonly_fields = ("status", "rejection_reason", "contact_verified", "submitted_at",
                       "review_due_on", "reviewed_at", "reviewed_by", "deleted_at")
    fieldsets = (
        (None, {"fields": ("name", "country", "entity_type", "status", "rejection_reason")}),
        (_("Business information (商用資訊)"), {"fields": (
            "company_name", "business_number", "address", "phone", "industry", "contact",
            "contact_verified")}),
        (_("Settings"), {"fields": ("share_mode",)}),
        (_("Review"), {"fields": ("submitted_at", "review_due_on", "reviewed_at", "reviewed_by",
                                  "deleted_at")}),
    )

    @admin.display(description=_("review due"), ordering="review_due_on")
    def review_due(self, obj):
        return due_badge(obj)

    @admin.display(description=_("contact e-mail verified"), boolean=True)
    def contact_verified(self, obj):
        return services.contact_email_is_verified(obj)

    @admin.display(description=_("reason from the LINE reviewer"))
    def rejection_reason(self, obj):
        if obj.status == Organization.Status.REJECTED and obj.review_reason:
            return format_html('<strong style="color:#ba2121" class="lbm-rejection">{}</strong>',
                               obj.review_reason)
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
            Q(pk__in=self.get_queryset(request).values("pk")) | Q(pk__in=deleted))

    def get_urls(self):
        from django.urls import path

        return [path("<int:object_id>/next-step/",
                     self.admin_site.admin_view(self.next_step_view),
                     name="lbm_organization_next_step")] + super().get_urls()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None and not self.get_queryset(request).filter(
                pk=object_id).exists():
            deleted = selectors.deleted_organizations_of(request.user).filter(
                pk=object_id).first() if str(object_id).isdigit() else None
            if deleted is not None:  # its members learn what happened, not "not found"
                return TemplateResponse(request, "admin/lbm/organization/deleted.html", {
                    **self.admin_site.each_context(request), "opts": self.opts,
                    "title": deleted.name, "deleted_organizations": [deleted]}, status=410)
        extra_context = dict(extra_context or {})
        if object_id is not None:
            obj = self.get_queryset(request).filter(pk=object_id).first()
            if obj is not None and obj.status in Organization.EDITABLE_BUSINESS_INFO:
                extra_context["next_steps"] = selectors.organization_next_steps(obj)
                extra_context["may_act"] = permissions.can(request.user, Action.CHANGE, obj)
                extra_context["next_step_url"] = reverse("admin:lbm_organization_next_step",
                                                         args=[obj.pk])
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
                services.organization_send_contact_verification(organization_id=object_id,
                                                                actor=request.user)
                self.message_user(request, gettext(
                    "A verification link was sent to your e-mail address; open it to verify "
                    "the organization's contact e-mail."), messages.SUCCESS)
            elif step == "submit":
                services.organization_submit(organization_id=object_id, actor=request.user)
                self.message_user(request, gettext("Submitted for review. LINE reviews it "
                                                   "within 5 working days."), messages.SUCCESS)
            else:
                raise PermissionDenied
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:lbm_organization_change", args=[object_id]))

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.status not in Organization.EDITABLE_BUSINESS_INFO:
            fields += ["country", "entity_type", "company_name", "business_number", "address",
                       "phone", "industry", "contact"]
        if obj is not None and obj.is_deleted:
            fields += ["name", "share_mode"]
        return fields

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("name", "country", "entity_type")}),
                    (_("Business information (商用資訊)"), {"fields": (
                        "company_name", "business_number", "address", "phone", "industry")}),
                    (_("Settings"), {"fields": ("share_mode",)}))
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
            services.organization_update(organization=obj, actor=request.user,
                                         changed=form.changed_data)
        else:
            services.organization_create(actor=request.user, organization=obj)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.contact_id:
            self.message_user(request, gettext(
                "A verification link was sent to your e-mail address; open it to verify the "
                "organization's contact e-mail."), messages.INFO)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=_("Submit for review"), permissions=["change"])
    def submit_for_review(self, request, queryset):
        _run_service(self, request, queryset,
                     lambda org: services.organization_submit(organization_id=org.pk,
                                                              actor=request.user),
                     gettext("%(count)d organization(s) submitted for review."))

    @admin.action(description=_("Send the contact e-mail verification link"),
                  permissions=["change"])
    def send_verification_email(self, request, queryset):
        _run_service(self, request, queryset,
                     lambda org: services.organization_send_contact_verification(
                         organization_id=org.pk, actor=request.user),
                     gettext("Verification link sent for %(count)d organization(s)."))

    @admin.action(description=_("Delete organization (irreversible)"),
                  permissions=["delete_organization"])
    def delete_organizations(self, request, queryset):
        return _confirm_with_reason(
            self, request, queryset, action="delete_organizations",
            title=gettext("Delete organizations"),
            question=gettext("Deleting an organization is final: it cannot be restored, its "
                             "links end, and the company can never create another organization "
                             "with the same business number."),
            reason_required=False,
            call=lambda org, reason: services.organization_delete(
                organization_id=org.pk, actor=request.user, reason=reason),
            done_message=gettext("%(count)d organization(s) deleted."),
        )


# --- Members ----------------------------------------------------------------------------------


class InvitationForm(forms.ModelForm):
    """An Admin invites a person by e-mail (the rules are ``services.membership_invite``'s)."""

    email = forms.EmailField(label=_("e-mail address of the person to invite"))

    class Meta:
        model = MembershipInvitation
        fields = ["organization", "role", "is_company_member"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        organizations = permissions.visible(
            request.user, Organization.objects.exclude(status=Organization.Status.DELETED),
            Action.MANAGE_MEMBERS, organization_path="pk")
        field = self.fields["organization"]
        field.queryset = organizations
        if len(organizations[:2]) == 1:  # the only organization: preselected
            field.initial, field.empty_label = organizations[0].pk, None


@admin.register(MembershipInvitation)
class MembershipInvitationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    # The e-mailed link: any signed-in person; the token and the invited address decide.
    admin_gates = {"accept": Gate(permissions.SIGNED_IN)}
    """Invitations of an organization's Admins; the link in the e-mail leads to ``accept_view``
    once the person is signed in (docs/organizations.md#invitations)."""

    list_display = ("email_hint", "organization", "role", "state", "created_by", "created_at",
                    "expires_at")
    list_filter = ("role",)
    list_select_related = ("organization", "created_by", "used_by")
    actions = ["withdraw"]
    readonly_fields = ("email_hint", "organization", "role", "is_company_member", "state",
                       "created_by", "created_at", "expires_at", "used_at", "used_by")

    def get_queryset(self, request):
        query = MembershipInvitation.objects.select_related("organization", "created_by")
        if permissions.sees_everything(request.user, MembershipInvitation):
            return query
        return permissions.visible(request.user, query, Action.MANAGE_MEMBERS)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        if obj is not None:
            return self.get_queryset(request).filter(pk=obj.pk).exists()
        return (permissions.sees_everything(request.user, MembershipInvitation)
                or permissions.can(request.user, Action.MANAGE_MEMBERS))

    @admin.display(description=_("state"))
    def state(self, obj):
        if obj.used_by_id:
            return gettext("Accepted")
        if obj.used_at or obj.expires_at <= timezone.now():
            return gettext("Expired or withdrawn")
        return gettext("Waiting for the person to accept")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            class RequestForm(InvitationForm):
                def __init__(self, *args, **kw):
                    super().__init__(*args, request=request, **kw)

            return RequestForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["organization", "email", "role", "is_company_member"],
                            "description": gettext(
                                "The person receives a link, valid for 7 days and usable once, "
                                "for a sign-in with this address; they become a member only "
                                "when they accept.")})]
        return [(None, {"fields": list(self.readonly_fields)})]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def has_add_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_MEMBERS)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_manage_members_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_MEMBERS)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        invitation, _token = services.membership_invite(
            organization_id=data["organization"].pk, actor=request.user, email=data["email"],
            role=data["role"], is_company_member=data["is_company_member"])
        obj.pk, obj.email_hint = invitation.pk, invitation.email_hint

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, gettext(
            "An invitation was sent to %(email)s. It is valid for %(days)s days and works once, "
            "for a sign-in with that address.") % {"email": obj.email_hint,
                                                   "days": invitations.INVITATION_DAYS},
            messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:lbm_membershipinvitation_changelist"))

    @admin.action(description=_("Withdraw the invitation"), permissions=["manage_members"])
    def withdraw(self, request, queryset):
        _run_service(self, request, queryset,
                     lambda inv: services.membership_invitation_revoke(invitation_id=inv.pk,
                                                                       actor=request.user),
                     gettext("%(count)d invitation(s) withdrawn."))

    def get_urls(self):
        from django.urls import path

        return [path("accept/<str:token>/", self.admin_site.admin_view(self.accept_view),
                     name="lbm_membershipinvitation_accept")] + super().get_urls()

    def accept_view(self, request, token):
        """The signed-in person reads what they are invited to and accepts; only then do they
        become a member."""
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "title": gettext("Accept the invitation")}
        if request.method == "POST":
            try:
                membership = services.membership_invitation_accept(token=token,
                                                                   user=request.user)
            except DomainError as exc:
                context["message"] = exc.message
                return TemplateResponse(request, "admin/lbm/invitation_accept.html", context,
                                        status=400)
            self.message_user(request, gettext("You are now a member of %(org)s as %(role)s.")
                              % {"org": membership.organization,
                                 "role": membership.get_role_display()}, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:lbm_organization_change",
                                                args=[membership.organization_id]))
        try:
            invitation = services.membership_invitation_find(token=token)
        except DomainError as exc:
            context["message"] = exc.message
            return TemplateResponse(request, "admin/lbm/invitation_accept.html", context,
                                    status=400)
        context.update(invitation=invitation, organization=invitation.organization,
                       role=invitation.get_role_display(),
                       inviter=invitation.created_by,
                       for_me=invitations.is_for(invitation, request.user))
        return TemplateResponse(request, "admin/lbm/invitation_accept.html", context)


@admin.register(Membership)
class MembershipAdmin(MemberRightsMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("user", "user_email", "organization", "role", "is_company_member",
                    "created_at")
    list_filter = ("role", "is_company_member")
    search_fields = ("user__username", "=user__email", "organization__name")
    list_select_related = ("user", "organization")
    change_list_template = "admin/lbm/membership/change_list.html"

    @admin.display(description=_("e-mail"))
    def user_email(self, obj):
        return obj.user.email

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = ["role", "is_company_member"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": ["organization", "user", "role", "is_company_member"]})]

    def get_readonly_fields(self, request, obj=None):
        return ["organization", "user"]

    def changelist_view(self, request, extra_context=None):
        context = {"may_invite": permissions.can(request.user, Action.MANAGE_MEMBERS),
                   **(extra_context or {})}
        return super().changelist_view(request, context)

    def has_add_permission(self, request):
        return False  # people join by accepting an invitation (MembershipInvitationAdmin)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_MEMBERS, obj)

    def has_delete_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_MEMBERS, obj)

    def save_model(self, request, obj, form, change):
        saved = services.membership_change(membership_id=obj.pk, actor=request.user,
                                           role=obj.role,
                                           is_company_member=obj.is_company_member)
        obj.pk, obj.user_id, obj.organization_id = saved.pk, saved.user_id, saved.organization_id

    def delete_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        obj = self.get_object(request, object_id)
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        if request.method == "POST":
            try:
                services.membership_remove(membership_id=obj.pk, actor=request.user)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(
                    reverse("admin:lbm_membership_change", args=[obj.pk]))
            self.message_user(request, gettext("%(member)s removed.") % {"member": obj},
                              messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:lbm_membership_changelist"))
        return admin.ModelAdmin.delete_view(self, request, object_id, extra_context)


# --- Providers and accounts (LINE's records; account managers edit them) ----------------------


@admin.register(Provider)
class ProviderAdmin(ScopedAdminMixin, SimpleHistoryAdmin, ImportExportModelAdmin):
    resource_classes = [ProviderResource]
    export_form_class = LabelledExportForm  # columns with verbose names
    list_display = ("name", "business_number", "certified")
    list_filter = ("certified",)
    search_fields = ("name", "=business_number")

    def get_queryset(self, request):
        qs = Provider.objects.all()
        return qs if permissions.sees_everything(request.user, Provider) else qs.none()

    def has_view_permission(self, request, obj=None):
        return permissions.sees_everything(request.user, Provider)

    def has_add_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ScopedAdminMixin, SimpleHistoryAdmin, ImportExportModelAdmin):
    resource_classes = [AccountResource]
    export_form_class = LabelledExportForm  # columns with verbose names
    list_display = ("name", "kind", "display_id", "badge", "verified", "business_number",
                    "provider")
    list_filter = ("kind", "badge", "verified")
    search_fields = ("name", "=basic_id", "=premium_id", "=external_id", "=business_number")
    list_select_related = ("provider",)
    autocomplete_fields = ()

    @admin.display(description=_("account ID"))
    def display_id(self, obj):
        return obj.display_id

    def has_add_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_delete_permission(self, request, obj=None):
        return False


class StaffOnlyMixin:
    """Pages for account managers: visible to staff with the model's view permission."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if permissions.sees_everything(request.user, self.model) else qs.none()

    def has_module_permission(self, request):
        return permissions.sees_everything(request.user, self.model)

    def has_view_permission(self, request, obj=None):
        return permissions.sees_everything(request.user, self.model)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AccessTokenInline(admin.TabularInline):
    model = ChannelAccessToken
    fields = ("prefix", "label", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Channel)
class ChannelAdmin(StaffOnlyMixin, SimpleHistoryAdmin):
    list_display = ("channel_id", "account", "bot_user_id", "webhook_url", "active_tokens")
    search_fields = ("channel_id", "=account__basic_id", "=account__premium_id", "account__name")
    list_select_related = ("account",)
    fields = ("account", "channel_id", "bot_user_id", "webhook_url")
    readonly_fields = ("account", "channel_id", "bot_user_id")
    inlines = [AccessTokenInline]
    actions = ["issue_token"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "webhook_url":
            kwargs["assume_scheme"] = "https"  # webhooks are https; also Django 6's default
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description=_("active tokens"))
    def active_tokens(self, obj):
        return obj.tokens.filter(revoked_at__isnull=True).count()

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_manage_accounts_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    @admin.action(description=_("Issue a channel access token (shown once)"),
                  permissions=["manage_accounts"])
    def issue_token(self, request, queryset):
        for channel in queryset.select_related("account"):
            _row, token = channels.token_issue(account=channel.account, actor=request.user)
            self.message_user(request, gettext(
                "New token for %(channel)s — copy it now, it is not shown again: %(token)s")
                % {"channel": channel.channel_id, "token": token}, messages.WARNING)


@admin.register(ChannelAccessToken)
class ChannelAccessTokenAdmin(StaffOnlyMixin, SimpleHistoryAdmin):
    list_display = ("prefix", "channel", "label", "created_by", "created_at", "last_used_at",
                    "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("channel__account", "created_by")
    readonly_fields = ("channel", "prefix", "created_by", "created_at", "last_used_at",
                       "revoked_at")
    fields = ("channel", "prefix", "label") + readonly_fields[2:]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_manage_accounts_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    @admin.action(description=_("Revoke"), permissions=["manage_accounts"])
    def revoke(self, request, queryset):
        _run_service(self, request, queryset,
                     lambda row: channels.token_revoke(token_id=row.pk, actor=request.user),
                     gettext("%(count)d token(s) revoked."))


# --- Account links ----------------------------------------------------------------------------


class LinkRequestForm(forms.ModelForm):
    account_identifier = forms.CharField(
        label=_("account ID"),
        help_text=_("One account per request: its basic ID, premium ID or ad account ID."))

    class Meta:
        model = AccountLink
        fields = ["organization"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = permissions.visible(
            request.user, Organization.objects.all(), Action.MANAGE_LINKS,
            organization_path="pk")

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization")
        identifier = cleaned.get("account_identifier")
        if organization is None or not identifier:
            return cleaned
        try:
            account = services.find_account(identifier)
        except DomainError as exc:
            raise ValidationError({"account_identifier": exc.message}) from exc
        failed = [r.explanation for r in services.link_eligibility(organization, account)
                  if not r.passed]
        if failed:
            raise ValidationError([gettext("This account cannot be linked.")] + failed)
        return cleaned


# Other apps add what ending links stops, listed on the confirmation page before anything
# stops: each entry takes the selected links (a queryset) and returns sentences (the audiences
# app: audiences that disappear from the account, shares that end).
link_end_consequences: list = []


@admin.register(AccountLink)
class AccountLinkAdmin(ExactSearchMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("account", "organization", "status", "submitted_at", "review_due",
                    "review_reason")
    list_filter = ("status", "account__kind")
    search_fields = ("account__name", "=account__basic_id", "=account__premium_id",
                     "organization__name")
    list_select_related = ("account", "organization")
    paginator = LargeTablePaginator  # 100,000 links and more
    show_full_result_count = False
    actions = ["end_links"]
    readonly_fields = ("organization", "account", "status", "requested_by", "submitted_at",
                       "review_due_on", "reviewed_at", "reviewed_by", "review_reason",
                       "ended_at")

    @admin.display(description=_("review due"), ordering="review_due_on")
    def review_due(self, obj):
        return due_badge(obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            class RequestForm(LinkRequestForm):
                def __init__(self, *args, **kw):
                    super().__init__(*args, request=request, **kw)

            return self.refusable_form(request, RequestForm)
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["organization", "account_identifier"]})]
        return [(None, {"fields": list(self.readonly_fields)})]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def has_add_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_LINKS)

    def has_change_permission(self, request, obj=None):
        return False  # a link changes only through review, unlinking or cancelling

    def has_delete_permission(self, request, obj=None):
        return False

    def has_manage_links_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_LINKS)

    def save_model(self, request, obj, form, change):
        link = services.link_request(
            organization_id=form.cleaned_data["organization"].pk, actor=request.user,
            account_identifier=form.cleaned_data["account_identifier"])
        obj.pk, obj.account_id = link.pk, link.account_id

    @admin.action(description=_("Unlink / cancel the request"), permissions=["manage_links"])
    def end_links(self, request, queryset):
        return _confirm_with_reason(
            self, request, queryset, action="end_links",
            title=gettext("Unlink accounts"),
            question=gettext("Approved links are unlinked and pending requests cancelled. The "
                             "accounts' own data is not changed."),
            reason_required=False,
            call=lambda link, reason: services.link_end(link_id=link.pk, actor=request.user,
                                                        reason=reason),
            done_message=gettext("%(count)d link(s) ended."),
            consequences=[] if request.POST.get("confirm") else
            [line for hook in link_end_consequences for line in hook(queryset)],
        )


# --- The review queue (LINE reviewers) --------------------------------------------------------


class ReviewQueueMixin(ReviewPageMixin):
    """A read-only, oldest-first queue with approve and reject (reason required) actions, and
    the same two as buttons on each item's page (lbm.admin_helpers.ReviewPageMixin)."""

    review_action = Action.REVIEW_ORGANIZATIONS
    list_filter = (OverdueFilter,)
    list_per_page = 50
    ordering = ("submitted_at", "pk")  # oldest first
    actions = ["approve", "reject"]

    def has_module_permission(self, request):
        return permissions.can(request.user, self.review_action)

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, self.review_action)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return permissions.can(request.user, self.review_action)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404

    @admin.display(description=_("review due"), ordering="review_due_on")
    def review_due(self, obj):
        return due_badge(obj)

    @admin.display(description=_("waiting"))
    def waiting(self, obj):
        days = (timezone.now() - obj.submitted_at).days if obj.submitted_at else 0
        return gettext("%(days)d day(s)") % {"days": days}

    @admin.display(description=_("history"))
    def history_link(self, obj):
        url = reverse(f"admin:lbm_{self.base_model_name}_history", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("History"))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def review_decide(self, request, obj, decision, reason):
        self._decide(request)(obj.pk, "approved" if decision == "approve" else "rejected",
                              reason)

    def approve_rows(self, request, queryset, service):
        _run_service(self, request, queryset,
                     lambda obj: service(obj.pk, "approved", ""),
                     gettext("%(count)d item(s) approved."))

    def reject_rows(self, request, queryset, service):
        return _confirm_with_reason(
            self, request, queryset, action="reject",
            title=gettext("Reject"),
            question=gettext("The applicant will see this reason, edit and resubmit."),
            reason_required=True,
            call=lambda obj, reason: service(obj.pk, "rejected", reason),
            done_message=gettext("%(count)d item(s) rejected."),
        )


@admin.register(OrganizationReview)
class OrganizationReviewAdmin(ReviewQueueMixin, admin.ModelAdmin):
    review_action = Action.REVIEW_ORGANIZATIONS
    base_model_name = "organization"
    list_display = ("name", "company_name", "business_number", "industry", "submitted_at",
                    "waiting", "review_due", "contact_verified", "history_link")
    search_fields = ("name", "company_name", "=business_number")
    readonly_fields = ("name", "country", "entity_type", "company_name", "business_number",
                       "address", "phone", "industry", "contact", "contact_verified",
                       "share_mode", "submitted_at", "review_due_on", "review_reason")
    fields = readonly_fields

    def get_queryset(self, request):
        if not permissions.can(request.user, self.review_action):
            return Organization.objects.none()
        return selectors.review_queue_organizations().select_related("contact")

    @admin.display(description=_("contact e-mail verified"), boolean=True)
    def contact_verified(self, obj):
        return services.contact_email_is_verified(obj)

    def _decide(self, request):
        return lambda pk, decision, reason: services.organization_review(
            organization_id=pk, decision=decision, actor=request.user, reason=reason)

    @admin.action(description=_("Approve"), permissions=["review"])
    def approve(self, request, queryset):
        self.approve_rows(request, queryset, self._decide(request))

    @admin.action(description=_("Reject (with a reason)"), permissions=["review"])
    def reject(self, request, queryset):
        return self.reject_rows(request, queryset, self._decide(request))


@admin.register(AccountLinkReview)
class AccountLinkReviewAdmin(ReviewQueueMixin, admin.ModelAdmin):
    review_action = Action.REVIEW_LINKS
    base_model_name = "accountlink"
    list_display = ("account", "account_kind", "organization", "submitted_at", "waiting",
                    "review_due", "eligibility_summary", "history_link")
    search_fields = ("account__name", "=account__basic_id", "=account__premium_id",
                     "organization__name")
    readonly_fields = ("organization", "account", "requested_by", "submitted_at",
                       "review_due_on", "eligibility")
    fields = readonly_fields

    def get_queryset(self, request):
        if not permissions.can(request.user, self.review_action):
            return AccountLink.objects.none()
        return selectors.review_queue_links()

    @admin.display(description=_("kind"))
    def account_kind(self, obj):
        return obj.account.get_kind_display()

    def _rules(self, obj):
        return services.link_eligibility(obj.organization, obj.account,
                                         include_existing_links=False)

    @admin.display(description=_("eligibility"))
    def eligibility_summary(self, obj):
        failed = [r for r in self._rules(obj) if not r.passed]
        if not failed:
            return format_html('<span style="color:#2e7d32">✔ {}</span>',
                               gettext("All rules met"))
        return format_html_join(
            "", '<div style="color:#ba2121">✘ {}</div>', ((r.explanation,) for r in failed))

    @admin.display(description=_("eligibility"))
    def eligibility(self, obj):
        return format_html("<ul style='margin:0;padding-left:1em'>{}</ul>", format_html_join(
            "", "<li>{} {}</li>",
            (("✔" if r.passed else "✘", r.explanation) for r in self._rules(obj))))

    def _decide(self, request):
        return lambda pk, decision, reason: services.link_review(
            link_id=pk, decision=decision, actor=request.user, reason=reason)

    @admin.action(description=_("Approve"), permissions=["review"])
    def approve(self, request, queryset):
        self.approve_rows(request, queryset, self._decide(request))

    @admin.action(description=_("Reject (with a reason)"), permissions=["review"])
    def reject(self, request, queryset):
        return self.reject_rows(request, queryset, self._decide(request))


__all__ = ["can_review"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(StaffOnlyMixin, admin.ModelAdmin):
    """Queued tasks, read-only: what was published when, what the sweep re-queued and why, what
    still waits for the broker (docs/reliability.md#the-outbox)."""

    list_display = ("task", "reason", "created_at", "published_at", "attempts", "last_error")
    list_filter = ("task", ("published_at", admin.EmptyFieldListFilter))
    fields = ("task", "kwargs", "reason", "created_at", "published_at", "attempts",
              "last_error", "consumed_at")
    readonly_fields = fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
