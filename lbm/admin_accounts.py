"""LINE's records of providers and accounts (account managers edit them) and the
organizations' account links (docs/organizations.md#link-lifecycle).
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin

from . import permissions, selectors, services
from .admin_helpers import ScopedAdminMixin, confirm_with_reason, due_badge
from .admin_search import ExactSearchMixin
from .exceptions import DomainError
from .history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from .import_export_i18n import LabelledExportForm
from .models import Account, AccountLink, Organization, Provider
from .paginators import LargeTablePaginator
from .permissions import Action
from .resources import AccountResource, ProviderResource


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
    list_display = (
        "name",
        "kind",
        "display_id",
        "badge",
        "verified",
        "business_number",
        "provider",
    )
    list_filter = ("kind", "badge", "verified")
    search_fields = ("name", "=basic_id", "=premium_id", "=external_id", "=business_number")
    list_select_related = ("provider",)
    autocomplete_fields = ()
    # One count per page, not two: the second (every visible account, unfiltered) repeats the
    # visibility subquery (58 ms for an organization with 10,000 accounts in the admin-scale
    # bench) to print "(N total)" beside the filtered count.
    show_full_result_count = False

    @admin.display(description=_("account ID"))
    def display_id(self, obj):
        return obj.display_id

    def has_add_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_delete_permission(self, request, obj=None):
        return False


class LinkRequestForm(forms.ModelForm):
    account_identifier = forms.CharField(
        label=_("account ID"),
        help_text=_("One account per request: its basic ID, premium ID or ad account ID."),
    )

    class Meta:
        model = AccountLink
        fields = ["organization"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = permissions.visible(
            request.user, Organization.objects.all(), Action.MANAGE_LINKS, organization_path="pk"
        )

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
        failed = [
            r.explanation for r in selectors.link_eligibility(organization, account) if not r.passed
        ]
        if failed:
            raise ValidationError([gettext("This account cannot be linked.")] + failed)
        return cleaned


# Other apps add what ending links stops, listed on the confirmation page before anything
# stops: each entry takes the selected links (a queryset) and returns sentences (the audiences
# app: audiences that disappear from the account, shares that end).
link_end_consequences: list = []


@admin.register(AccountLink)
class AccountLinkAdmin(ExactSearchMixin, ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = (
        "account",
        "organization",
        "status",
        "submitted_at",
        "review_due",
        "review_reason",
    )
    list_filter = ("status", "account__kind")
    search_fields = (
        "account__name",
        "=account__basic_id",
        "=account__premium_id",
        "organization__name",
    )
    list_select_related = ("account", "organization")
    paginator = LargeTablePaginator  # 100,000 links and more
    show_full_result_count = False
    actions = ["end_links"]
    readonly_fields = (
        "organization",
        "account",
        "status",
        "requested_by",
        "submitted_at",
        "review_due_on",
        "reviewed_at",
        "reviewed_by",
        "review_reason",
        "ended_at",
    )

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
            organization_id=form.cleaned_data["organization"].pk,
            actor=request.user,
            account_identifier=form.cleaned_data["account_identifier"],
        )
        obj.pk, obj.account_id = link.pk, link.account_id

    @admin.action(description=_("Unlink / cancel the request"), permissions=["manage_links"])
    def end_links(self, request, queryset):
        return confirm_with_reason(
            self,
            request,
            queryset,
            action="end_links",
            title=gettext("Unlink accounts"),
            question=gettext(
                "Approved links are unlinked and pending requests cancelled. The "
                "accounts' own data is not changed."
            ),
            reason_required=False,
            call=lambda link, reason: services.link_end(
                link_id=link.pk, actor=request.user, reason=reason
            ),
            done_message=gettext("%(count)d link(s) ended."),
            consequences=[]
            if request.POST.get("confirm")
            else [line for hook in link_end_consequences for line in hook(queryset)],
        )
