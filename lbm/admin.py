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

from . import channels, permissions, selectors, services
from .admin_search import ExactSearchMixin
from .admin_site import can_review
from .exceptions import DomainError
from .history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from .models import (
    Account,
    AccountLink,
    AccountLinkReview,
    Channel,
    ChannelAccessToken,
    Membership,
    Organization,
    OrganizationReview,
    Provider,
)
from .paginators import LargeTablePaginator
from .permissions import Action
from .resources import AccountResource, ProviderResource
from .workdays import taipei_today

User = get_user_model()


class ScopedAdminMixin:
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
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            # A rule that only the locked write could check (e.g. a race): say so, keep nothing.
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletions go through services, one at a time
        return actions


def _run_service(modeladmin, request, queryset, call, done_message) -> None:
    """Apply a service to each selected row; report successes and each refusal by name."""
    done = 0
    for obj in queryset:
        try:
            call(obj)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message % {"count": done}, messages.SUCCESS)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 4}),
                             required=False)


def _confirm_with_reason(modeladmin, request, queryset, *, action: str, title, question,
                         reason_required: bool, call, done_message):
    """An intermediate page asking for confirmation and a reason, then the service per row."""
    form = ReasonForm(request.POST if request.POST.get("confirm") else None)
    if request.POST.get("confirm"):
        if form.is_valid():
            reason = form.cleaned_data["reason"].strip()
            if reason_required and not reason:
                form.add_error("reason", gettext("A written reason is required; the applicant "
                                                 "will see it."))
            else:
                _run_service(modeladmin, request, queryset, lambda obj: call(obj, reason),
                             done_message)
                return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "objects": queryset,
        "form": form,
        "action": action,
        "reason_required": reason_required,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/lbm/confirm_action.html", context)


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

    def clean_entity_type(self):
        value = self.cleaned_data["entity_type"]
        try:
            services.organization_validate_entity(entity_type=value)
        except DomainError as exc:
            raise ValidationError(exc.message) from exc
        return value

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError(gettext("An organization needs a name."))
        return name

    def clean(self):
        cleaned = super().clean()
        instance = self.instance
        if instance.pk:
            changed = set(self.changed_data) & set(services.BUSINESS_INFO_FIELDS + ("entity_type",))
            if changed and instance.status not in Organization.EDITABLE_BUSINESS_INFO:
                raise ValidationError(gettext(
                    "Business information can be changed only while the organization is a draft "
                    "or has been rejected."))
        return cleaned


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

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("contact")

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


class MembershipAddForm(forms.ModelForm):
    user_identifier = forms.CharField(
        label=_("user"), help_text=_("The user's sign-in name or e-mail address."))

    class Meta:
        model = Membership
        fields = ["organization", "role", "is_company_member"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["organization"].queryset = permissions.visible(
            request.user, Organization.objects.all(), Action.MANAGE_MEMBERS,
            organization_path="pk")

    def clean_user_identifier(self):
        value = self.cleaned_data["user_identifier"].strip()
        user = User.objects.filter(Q(username=value) | Q(email__iexact=value),
                                   is_active=True).first()
        if user is None:
            raise ValidationError(gettext("No active user has the sign-in name or e-mail "
                                          "“%(value)s”.") % {"value": value})
        return user

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user_identifier")
        organization = cleaned.get("organization")
        if user is not None and organization is not None:
            if Membership.objects.filter(organization=organization, user=user).exists():
                raise ValidationError(gettext("%(user)s is already a member of this "
                                              "organization.") % {"user": user.get_username()})
            if user.is_staff:
                raise ValidationError(gettext("LINE staff accounts cannot be members of a "
                                              "customer organization."))
        return cleaned


@admin.register(Membership)
class MembershipAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("user", "user_email", "organization", "role", "is_company_member",
                    "created_at")
    list_filter = ("role", "is_company_member")
    search_fields = ("user__username", "=user__email", "organization__name")
    list_select_related = ("user", "organization")

    @admin.display(description=_("e-mail"))
    def user_email(self, obj):
        return obj.user.email

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = MembershipAddForm

            class RequestForm(form):
                def __init__(self, *args, **kw):
                    super().__init__(*args, request=request, **kw)

            return RequestForm
        kwargs["fields"] = ["role", "is_company_member"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["organization", "user_identifier", "role",
                                       "is_company_member"]})]
        return [(None, {"fields": ["organization", "user", "role", "is_company_member"]})]

    def get_readonly_fields(self, request, obj=None):
        return ["organization", "user"] if obj is not None else []

    def has_add_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_MEMBERS)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_MEMBERS, obj)

    def has_delete_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_MEMBERS, obj)

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.membership_change(membership_id=obj.pk, actor=request.user,
                                               role=obj.role,
                                               is_company_member=obj.is_company_member)
        else:
            saved = services.membership_add(
                organization_id=form.cleaned_data["organization"].pk, actor=request.user,
                user=form.cleaned_data["user_identifier"], role=form.cleaned_data["role"],
                is_company_member=form.cleaned_data["is_company_member"])
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
    list_display = ("name", "kind", "display_id", "badge", "verified", "business_number",
                    "provider")
    list_filter = ("kind", "badge", "verified")
    search_fields = ("name", "=basic_id", "=premium_id", "=external_id", "=business_number")
    list_select_related = ("provider",)
    autocomplete_fields = ()

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

            return RequestForm
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
        )


# --- The review queue (LINE reviewers) --------------------------------------------------------


class ReviewQueueMixin:
    """A read-only, oldest-first queue with approve and reject (reason required) actions."""

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
