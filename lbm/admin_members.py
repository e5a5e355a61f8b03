"""Members and invitations of an organization (docs/organizations.md#invitations)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import invitations, permissions, services
from .admin_agency import MemberRightsMixin  # agency access and the member rights page
from .admin_gates import SIGNED_IN, Gate
from .admin_helpers import ScopedAdminMixin, run_service
from .exceptions import DomainError
from .history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from .models import Membership, MembershipInvitation, Organization
from .permissions import Action


class InvitationForm(forms.ModelForm):
    """An Admin invites a person by e-mail (the rules are ``services.membership_invite``'s)."""

    email = forms.EmailField(label=_("e-mail address of the person to invite"))

    class Meta:
        model = MembershipInvitation
        fields = ["organization", "role", "is_company_member"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        organizations = permissions.visible(
            request.user,
            Organization.objects.exclude(status=Organization.Status.DELETED),
            Action.MANAGE_MEMBERS,
            organization_path="pk",
        )
        field = self.fields["organization"]
        field.queryset = organizations
        if len(organizations[:2]) == 1:  # the only organization: preselected
            field.initial, field.empty_label = organizations[0].pk, None


@admin.register(MembershipInvitation)
class MembershipInvitationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    # The e-mailed link: any signed-in person; the token and the invited address decide.
    admin_gates = {"accept": Gate(SIGNED_IN)}
    """Invitations of an organization's Admins; the link in the e-mail leads to ``accept_view``
    once the person is signed in (docs/organizations.md#invitations)."""

    list_display = (
        "email_hint",
        "organization",
        "role",
        "state",
        "created_by",
        "created_at",
        "expires_at",
    )
    list_filter = ("role",)
    list_select_related = ("organization", "created_by", "used_by")
    actions = ["withdraw"]
    readonly_fields = (
        "email_hint",
        "organization",
        "role",
        "is_company_member",
        "state",
        "created_by",
        "created_at",
        "expires_at",
        "used_at",
        "used_by",
    )

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
        return permissions.sees_everything(request.user, MembershipInvitation) or permissions.can(
            request.user, Action.MANAGE_MEMBERS
        )

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
            return [
                (
                    None,
                    {
                        "fields": ["organization", "email", "role", "is_company_member"],
                        "description": gettext(
                            "The person receives a link, valid for 7 days and usable once, "
                            "for a sign-in with this address; they become a member only "
                            "when they accept."
                        ),
                    },
                )
            ]
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
            organization_id=data["organization"].pk,
            actor=request.user,
            email=data["email"],
            role=data["role"],
            is_company_member=data["is_company_member"],
        )
        obj.pk, obj.email_hint = invitation.pk, invitation.email_hint

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            gettext(
                "An invitation was sent to %(email)s. It is valid for %(days)s days and works "
                "once, "
                "for a sign-in with that address."
            )
            % {"email": obj.email_hint, "days": invitations.INVITATION_DAYS},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:lbm_membershipinvitation_changelist"))

    @admin.action(description=_("Withdraw the invitation"), permissions=["manage_members"])
    def withdraw(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda inv: services.membership_invitation_revoke(
                invitation_id=inv.pk, actor=request.user
            ),
            gettext("%(count)d invitation(s) withdrawn."),
        )

    def get_urls(self):
        from django.urls import path

        return [
            path(
                "accept/<str:token>/",
                self.admin_site.admin_view(self.accept_view),
                name="lbm_membershipinvitation_accept",
            )
        ] + super().get_urls()

    def accept_view(self, request, token):
        """The signed-in person reads what they are invited to and accepts; only then do they
        become a member."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Accept the invitation"),
        }
        if request.method == "POST":
            try:
                membership = services.membership_invitation_accept(token=token, user=request.user)
            except DomainError as exc:
                context["message"] = exc.message
                return TemplateResponse(
                    request, "admin/lbm/invitation_accept.html", context, status=400
                )
            self.message_user(
                request,
                gettext("You are now a member of %(org)s as %(role)s.")
                % {"org": membership.organization, "role": membership.get_role_display()},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:lbm_organization_change", args=[membership.organization_id])
            )
        try:
            invitation = services.membership_invitation_find(token=token)
        except DomainError as exc:
            context["message"] = exc.message
            return TemplateResponse(
                request, "admin/lbm/invitation_accept.html", context, status=400
            )
        context.update(
            invitation=invitation,
            organization=invitation.organization,
            role=invitation.get_role_display(),
            inviter=invitation.created_by,
            for_me=invitations.is_for(invitation, request.user),
        )
        return TemplateResponse(request, "admin/lbm/invitation_accept.html", context)


@admin.register(Membership)
class MembershipAdmin(MemberRightsMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("user", "user_email", "organization", "role", "is_company_member", "created_at")
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
        context = {
            "may_invite": permissions.can(request.user, Action.MANAGE_MEMBERS),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def has_add_permission(self, request):
        return False  # people join by accepting an invitation (MembershipInvitationAdmin)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_MEMBERS, obj)

    def has_delete_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_MEMBERS, obj)

    def save_model(self, request, obj, form, change):
        saved = services.membership_change(
            membership_id=obj.pk,
            actor=request.user,
            role=obj.role,
            is_company_member=obj.is_company_member,
        )
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
                return HttpResponseRedirect(reverse("admin:lbm_membership_change", args=[obj.pk]))
            self.message_user(
                request, gettext("%(member)s removed.") % {"member": obj}, messages.SUCCESS
            )
            return HttpResponseRedirect(reverse("admin:lbm_membership_changelist"))
        return admin.ModelAdmin.delete_view(self, request, object_id, extra_context)
