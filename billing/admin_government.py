"""Government contracts (terms, deletion windows, closing a term), their listed accounts,
renewal lists and purchased blocks.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm.admin_gates import Gate
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.models import Account

from . import pricing, selectors, services
from .admin_base import (
    ApprovalStateFilter,
    BillingAdmin,
    approval_state,
    staff_can,
    tell_if_waiting,
)
from .models import GovernmentAccount, GovernmentBlock, GovernmentContract, GovernmentRenewal, Plan

# --- Government -------------------------------------------------------------------------------


class GovernmentBlockInline(admin.TabularInline):
    model = GovernmentBlock
    extra = 0
    can_delete = False
    fields = readonly_fields = ("kind", "accounts", "blocks", "purchased_on")

    @admin.display(description=_("blocks billed"))
    def blocks(self, obj):
        return pricing.blocks(obj.accounts)

    def has_add_permission(self, request, obj=None):
        return False


class TermCloseForm(forms.Form):
    plan_code = forms.ChoiceField(
        label=_("bill the remaining accounts on"),
        initial=Plan.Code.LIGHT,
        choices=[(c.value, c.label) for c in Plan.OFFICIAL_ACCOUNT_PLANS],
    )
    suspend = forms.BooleanField(label=_("suspend them too"), required=False)
    reason = forms.CharField(label=_("reason"), required=False)


@admin.register(GovernmentContract)
class GovernmentContractAdmin(BillingAdmin, SimpleHistoryAdmin):
    list_display = (
        "customer",
        "plan",
        "main_account",
        "starts_on",
        "ends_on",
        "deletion_window",
        approval_state,
    )
    list_select_related = ("customer", "plan", "main_account", "approval")
    list_filter = (ApprovalStateFilter,)
    raw_id_fields = ("customer", "main_account")
    inlines = [GovernmentBlockInline]
    actions = ["close_term"]
    change_list_template = "admin/billing/governmentcontract/change_list.html"

    def has_change_permission(self, request, obj=None):
        return False  # the plan cannot change during the term

    @admin.display(description=_("deletion window"))
    def deletion_window(self, obj):
        first, last = selectors.deletion_window(ends_on=obj.ends_on)
        return f"{first} – {last}"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "main_account":
            kwargs["queryset"] = Account.objects.filter(kind=Account.Kind.OFFICIAL_ACCOUNT)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        saved = services.government_contract_propose(
            customer_id=obj.customer_id,
            plan_code=obj.plan.code,
            main_account_id=obj.main_account_id,
            starts_on=obj.starts_on,
            ends_on=obj.ends_on,
            actor=request.user,
        )
        obj.pk, obj.approval = saved.pk, saved.approval
        tell_if_waiting(self, request, saved)

    admin_gates = {"deletion_windows": Gate("view")}

    def get_urls(self):
        return [
            path(
                "deletion-windows/",
                self.admin_site.admin_view(self.deletion_windows_view),
                name="billing_governmentcontract_deletion_windows",
            )
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(
            extra_context or {},
            deletion_windows_url=reverse("admin:billing_governmentcontract_deletion_windows"),
        )
        return super().changelist_view(request, extra_context)

    def deletion_windows_view(self, request):
        """Each term's deletion window and the accounts the agency still has to delete."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        windows = selectors.deletion_windows(include_closed="all" in request.GET)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "windows": windows,
            "title": gettext("Deletion windows of government terms"),
        }
        return TemplateResponse(
            request, "admin/billing/governmentcontract/deletion_windows.html", context
        )

    @admin.action(
        description=_(
            "Close the term: bill accounts not renewed and not deleted on a normal plan…"
        ),
        permissions=["close"],
    )
    def close_term(self, request, queryset):
        form = TermCloseForm(request.POST if "plan_code" in request.POST else None)
        if form.is_bound and form.is_valid():
            for contract in queryset:
                try:
                    moved = services.government_term_close(
                        contract_id=contract.pk, actor=request.user, **form.cleaned_data
                    )
                except DomainError as exc:
                    self.message_user(request, f"{contract}: {exc}", messages.ERROR)
                else:
                    self.message_user(
                        request,
                        gettext("%(contract)s: %(count)d account(s) moved to a normal plan.")
                        % {"contract": contract, "count": len(moved)},
                        messages.SUCCESS,
                    )
            return None
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "objects": queryset,
            "opts": self.opts,
            "title": gettext("Close government terms"),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/billing/governmentcontract/close_term.html", context
        )

    def has_close_permission(self, request):
        return staff_can(request.user, "change_subscription")


@admin.register(GovernmentAccount)
class GovernmentAccountAdmin(BillingAdmin, SimpleHistoryAdmin):
    """The accounts listed on each term; changed only through the actions (who, when, why)."""

    list_display = (
        "account",
        "contract",
        "kind",
        "first_verified_at",
        "kept_on_renewal",
        "deleted_on",
    )
    list_filter = ("kind", "kept_on_renewal")
    list_select_related = ("account", "contract__customer", "contract__plan")
    search_fields = ("account__name", "=account__basic_id", "contract__customer__name")
    actions = ["mark_verified", "mark_deleted", "suspend"]

    def has_add_permission(self, request):
        return False  # listed when the account's government subscription is created

    def has_change_permission(self, request, obj=None):
        return obj is None and self._can(request, "change")  # actions only, no edit form

    @admin.action(description=_("Record verification completed (now)"), permissions=["change"])
    def mark_verified(self, request, queryset):
        now = timezone.now()
        for listed in queryset:
            services.government_account_verify(
                listed_account_id=listed.pk, verified_at=now, actor=request.user
            )
        self.message_user(request, gettext("Verification recorded."), messages.SUCCESS)

    @admin.action(description=_("Record deleted by the agency (today)"), permissions=["change"])
    def mark_deleted(self, request, queryset):
        from lbm.workdays import taipei_today

        for listed in queryset:
            try:
                services.government_account_mark_deleted(
                    listed_account_id=listed.pk, deleted_on=taipei_today(), actor=request.user
                )
            except DomainError as exc:
                self.message_user(request, f"{listed.account}: {exc}", messages.ERROR)

    @admin.action(
        description=_("Suspend these accounts (they still count)"), permissions=["change"]
    )
    def suspend(self, request, queryset):
        reason = gettext("Suspended from the government list")
        for listed in queryset.select_related("account__subscription"):
            subscription = getattr(listed.account, "subscription", None)
            if subscription is not None:
                services.subscription_suspend(
                    subscription_id=subscription.pk, actor=request.user, reason=reason
                )
        self.message_user(request, gettext("Accounts suspended."), messages.SUCCESS)


class RenewalForm(forms.ModelForm):
    kept = forms.ModelMultipleChoiceField(
        label=_("accounts kept"),
        required=False,
        queryset=GovernmentAccount.objects.select_related("account", "contract"),
        help_text=_(
            "Listed accounts of this term that the agency renews; the others must be "
            "deleted within the last 7 working days of the term."
        ),
    )
    reason = forms.CharField(label=_("reason"), required=False)

    class Meta:
        model = GovernmentRenewal
        fields = ["contract", "next_contract", "submitted_on"]


@admin.register(GovernmentRenewal)
class GovernmentRenewalAdmin(BillingAdmin, SimpleHistoryAdmin):
    form = RenewalForm
    list_display = ("contract", "submitted_on", "next_contract")
    list_select_related = (
        "contract__customer",
        "contract__plan",
        "next_contract__plan",
        "next_contract__customer",
    )
    raw_id_fields = ("contract", "next_contract")

    def has_change_permission(self, request, obj=None):
        return False  # resubmit a list by adding it again for the term

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.government_renewal_submit(
            contract_id=obj.contract_id,
            submitted_on=obj.submitted_on,
            kept_account_ids=[row.account_id for row in data["kept"]],
            next_contract_id=obj.next_contract_id,
            actor=request.user,
            reason=data.get("reason", ""),
        )
        obj.pk = saved.pk


@admin.register(GovernmentBlock)
class GovernmentBlockAdmin(BillingAdmin, SimpleHistoryAdmin):
    list_display = ("contract", "kind", "accounts", "purchased_on")
    raw_id_fields = ("contract",)

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        saved = services.government_block_add(
            contract_id=obj.contract_id,
            kind=obj.kind,
            accounts=obj.accounts,
            purchased_on=obj.purchased_on,
            actor=request.user,
        )
        obj.pk = saved.pk
