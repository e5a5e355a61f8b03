"""Billing pages for LINE account managers (staff only; customers and reviewers see none).

Thin: rights are the account managers' global permissions, every write is a service, issued
invoices and notes are read-only, usage is a ledger nobody edits.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin

from audiences.admin import EstimatedCountPaginator
from lbm import permissions
from lbm.admin_helpers import OverdueFilter, ReviewPageMixin, ServiceFormAdminMixin, due_badge
from lbm.admin_search import ExactSearchMixin
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.import_export_i18n import LabelledExportForm
from lbm.models import Account
from lbm.permissions import Gate

from . import einvoice, periods, pricing, selectors, services
from .models import (
    AddOnPrice,
    BillingCustomer,
    BillingRun,
    CreditNote,
    EInvoiceTrack,
    GovernmentAccount,
    GovernmentBlock,
    GovernmentContract,
    GovernmentRenewal,
    Invoice,
    InvoiceLine,
    Plan,
    PlanChange,
    PriceTier,
    PromotionCode,
    SecondApproval,
    Subscription,
    UsageRecord,
    in_effect,
)
from .resources import InvoiceResource, PromotionCodeResource


def staff_can(user, codename: str) -> bool:
    """A LINE staff member's global billing permission (account managers hold them)."""
    return permissions.staff_may(user, f"billing.{codename}")


class BillingAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    """Staff-global rights per model; no deletion; a refused service is shown on its field with
    the input kept (lbm.admin_helpers), not a 500."""

    def _can(self, request, action: str) -> bool:
        return staff_can(request.user, f"{action}_{self.opts.model_name}")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        return permissions.sees_everything(request.user, self.model)

    def has_add_permission(self, request):
        return self._can(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._can(request, "change")

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        services.record_save(obj=obj, actor=request.user, changed=form.changed_data)


class ApprovalStateFilter(admin.SimpleListFilter):
    """Proposals waiting for a second approval, rows in effect, rejected proposals
    (docs/billing.md#two-person-approvals)."""

    title = _("second approval")
    parameter_name = "approval"

    def lookups(self, request, model_admin):
        return [
            ("pending", _("Waiting for a second approval")),
            ("in_effect", _("In effect")),
            ("rejected", _("Rejected")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "in_effect":
            return queryset.filter(in_effect())
        if value in ("pending", "rejected"):
            return queryset.filter(approval__status=value)
        return queryset


@admin.display(description=_("second approval"))
def approval_state(obj):
    """ "—" for a row that needed none, else the proposal's state, linked to its page."""
    approval = obj.approval
    if approval is None:
        return "—"
    url = reverse("admin:billing_secondapproval_change", args=[approval.pk])
    return format_html(
        '<a class="lbm-approval-{}" href="{}">{}</a>',
        approval.status,
        url,
        approval.get_status_display(),
    )


def tell_if_waiting(modeladmin, request, obj) -> None:
    if obj.approval_id is not None:
        modeladmin.message_user(
            request,
            gettext(
                "%(object)s waits for a second approval: it takes effect only when another LINE "
                "staff member approves it."
            )
            % {"object": obj},
            messages.WARNING,
        )


class ReadOnlyAdmin(BillingAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Price data -------------------------------------------------------------------------------


@admin.register(Plan)
class PlanAdmin(BillingAdmin, SimpleHistoryAdmin):
    list_display = (
        "code",
        "monthly_fee",
        "yearly_fee",
        "free_messages",
        "counting",
        "overage",
        "overage_unit_price",
        "tax_included",
        "sold_from",
        "sold_until",
    )
    readonly_fields = ("code",)

    def has_add_permission(self, request):
        return False  # plan codes are API; new plans come with a migration


@admin.register(PriceTier)
class PriceTierAdmin(BillingAdmin, SimpleHistoryAdmin):
    list_display = ("plan", "effective_from", "first_message", "unit_price")
    list_filter = ("plan", "effective_from")


@admin.register(AddOnPrice)
class AddOnPriceAdmin(BillingAdmin, SimpleHistoryAdmin):
    """A new price sheet is a new row with a later date; billing reads the row in effect."""

    list_display = ("code", "effective_from", "price", "per")
    list_filter = ("code",)


class BillingCustomerForm(forms.ModelForm):
    """The e-invoice buyer is checked as the platform would (company or person) by
    ``services.record_save``; its refusal comes back onto the fields it names."""

    class Meta:
        model = BillingCustomer
        fields = [
            "name",
            "organization",
            "business_number",
            "country",
            "payment_method",
            "invoice_title",
            "invoice_carrier",
            "donation_code",
            "invoice_email",
        ]


@admin.register(BillingCustomer)
class BillingCustomerAdmin(ExactSearchMixin, BillingAdmin, SimpleHistoryAdmin):
    form = BillingCustomerForm
    list_display = ("name", "business_number", "organization", "payment_method", "has_invoice_info")
    list_filter = ("payment_method",)
    search_fields = ("name", "=business_number")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    autocomplete_fields = ()
    raw_id_fields = ("organization",)

    @admin.display(description=_("e-invoice information"), boolean=True)
    def has_invoice_info(self, obj):
        return obj.has_invoice_info


# --- Subscriptions, with usage against quota --------------------------------------------------


class PlanChoiceForm(forms.Form):
    plan_code = forms.ChoiceField(
        label=_("new plan"), choices=[(c.value, c.label) for c in Plan.OFFICIAL_ACCOUNT_PLANS]
    )
    reason = forms.CharField(label=_("reason"), required=False)


class SubscriptionAddForm(forms.ModelForm):
    plan_code = forms.ChoiceField(label=_("plan"), choices=Plan.Code.choices)

    class Meta:
        model = Subscription
        fields = [
            "account",
            "customer",
            "contract",
            "started_on",
            "chat_advanced",
            "premium_id_since",
            "monthly_limit",
            "target_friends",
        ]


class SubscriptionChangeForm(forms.ModelForm):
    new_plan = forms.ChoiceField(
        label=_("change plan to"),
        required=False,
        choices=[("", "—")] + [(c.value, c.label) for c in Plan.OFFICIAL_ACCOUNT_PLANS],
        help_text=_(
            "Upgrades take effect at once in this month; downgrades on the 1st of next month."
        ),
    )
    promotion_code = forms.CharField(
        label=_("promotion code"),
        required=False,
        help_text=_("With an upgrade: deducted from it. Alone: registered for the next renewal."),
    )
    reason = forms.CharField(label=_("reason"), required=False)

    class Meta:
        model = Subscription
        fields = ["chat_advanced", "premium_id_since", "monthly_limit"]


@admin.register(Subscription)
class SubscriptionAdmin(ExactSearchMixin, BillingAdmin, SimpleHistoryAdmin):
    list_display = (
        "account",
        "customer",
        "plan",
        "scheduled_plan",
        "scheduled_from",
        "started_on",
        "suspended_at",
    )
    list_filter = ("plan",)
    list_select_related = ("account", "customer", "plan", "scheduled_plan")
    search_fields = (
        "account__name",
        "=account__basic_id",
        "=account__premium_id",
        "customer__name",
    )
    ordering = ("account__kind", "account__name")  # the account index (account_kind_name)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    raw_id_fields = ("account", "customer", "contract")
    change_form_template = "admin/billing/subscription/change_form.html"
    actions = ["change_plan"]
    refusal_field_map = {"plan": "plan_code"}

    @admin.action(description=_("Change plan…"), permissions=["change"])
    def change_plan(self, request, queryset):
        """Choose a plan, see each account's charge and quota effect, then confirm."""
        form = PlanChoiceForm(request.POST if "plan_code" in request.POST else None)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "objects": queryset,
            "title": gettext("Change plan"),
            "opts": self.opts,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "previews": [],
        }
        if form.is_bound and form.is_valid():
            code, reason = form.cleaned_data["plan_code"], form.cleaned_data["reason"]
            if request.POST.get("confirm"):
                done = 0
                for subscription in queryset:
                    try:
                        services.subscription_change_plan(
                            subscription_id=subscription.pk,
                            plan_code=code,
                            actor=request.user,
                            reason=reason,
                        )
                    except DomainError as exc:
                        self.message_user(request, f"{subscription.account}: {exc}", messages.ERROR)
                    else:
                        done += 1
                if done:
                    self.message_user(
                        request,
                        gettext("Plan changed for %(count)d account(s).") % {"count": done},
                        messages.SUCCESS,
                    )
                return None
            context["previews"] = [
                selectors.plan_change_preview(subscription=s, plan_code=code)
                for s in queryset.select_related("account")
            ]
        return TemplateResponse(
            request, "admin/billing/subscription/confirm_plan_change.html", context
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = SubscriptionChangeForm if obj is not None else SubscriptionAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (
                    None,
                    {
                        "fields": [
                            "account",
                            "customer",
                            "plan_code",
                            "contract",
                            "started_on",
                            "target_friends",
                            "chat_advanced",
                            "premium_id_since",
                            "monthly_limit",
                        ]
                    },
                )
            ]
        return [
            (
                None,
                {
                    "fields": [
                        "account",
                        "customer",
                        "contract",
                        "plan",
                        "scheduled_plan",
                        "scheduled_from",
                        "started_on",
                        "suspended_at",
                    ]
                },
            ),
            (_("Change"), {"fields": ["new_plan", "promotion_code", "reason"]}),
            (
                _("Add-ons and limit"),
                {"fields": ["chat_advanced", "premium_id_since", "monthly_limit"]},
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            "account",
            "customer",
            "contract",
            "plan",
            "scheduled_plan",
            "scheduled_from",
            "started_on",
            "suspended_at",
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            saved = services.subscription_create(
                account_id=obj.account_id,
                customer_id=obj.customer_id,
                plan_code=data["plan_code"],
                actor=request.user,
                started_on=obj.started_on,
                contract_id=obj.contract_id,
                chat_advanced=obj.chat_advanced,
                premium_id_since=obj.premium_id_since,
                target_friends=obj.target_friends,
            )
            if obj.monthly_limit is not None:  # a setting, saved as the change form does
                saved.monthly_limit = obj.monthly_limit
                services.record_save(obj=saved, actor=request.user, changed=["monthly_limit"])
            obj.pk, obj.plan = saved.pk, saved.plan
            return
        settings_changed = [f for f in form.changed_data if f in form.Meta.fields]
        services.record_save(
            obj=obj, actor=request.user, changed=settings_changed, reason=data.get("reason", "")
        )
        if data.get("new_plan"):
            services.subscription_change_plan(
                subscription_id=obj.pk,
                plan_code=data["new_plan"],
                actor=request.user,
                promotion_code=data.get("promotion_code", ""),
                reason=data.get("reason", ""),
            )
        elif data.get("promotion_code"):
            services.promotion_code_register(
                code=data["promotion_code"], subscription_id=obj.pk, actor=request.user
            )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        subscription = self.get_object(request, object_id)
        if subscription is not None and self.has_view_permission(request, subscription):
            extra_context.update(usage_context(subscription.account_id, request.GET.get("month")))
        return super().change_view(request, object_id, form_url, extra_context)


def usage_context(account_id: int, month: str | None) -> dict:
    """The chart of a month's daily usage against the quota (Japan-time days)."""
    try:
        period = periods.parse_period(month) if month else periods.line_period(timezone.now())
    except ValueError:
        period = periods.line_period(timezone.now())
    plan = selectors.plan_in_effect(account_id=account_id, period=period)
    daily = selectors.daily_usage(account_id=account_id, period=period)
    usage = selectors.month_usage(account_id=account_id, period=period)
    cumulative, running = [], 0
    for _day, count in daily:
        running += count
        cumulative.append(running)
    chart = {
        "labels": [day.isoformat() for day, _count in daily],
        "daily": [count for _day, count in daily],
        "cumulative": cumulative,
        "quota": plan.free_messages if plan and plan.counting == Plan.Counting.RECIPIENTS else None,
        "labelDaily": gettext("Messages per day (Japan time)"),
        "labelCumulative": gettext("Messages this month"),
        "labelQuota": gettext("Free quota"),
    }
    return {
        "usage_chart": chart,
        "usage_period": periods.period_label(period),
        "usage_previous": periods.period_label(periods.previous_period(period)),
        "usage_next": periods.period_label(periods.next_period(period)),
        "usage_plan": plan,
        "usage_month": usage,
    }


@admin.register(PlanChange)
class PlanChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "subscription",
        "kind",
        "from_plan",
        "to_plan",
        "period",
        "charge",
        "deducted",
        "promotion_code",
        "created_by",
        "created_at",
        "reason",
    )
    list_filter = ("kind", "period")
    list_select_related = (
        "subscription__account",
        "from_plan",
        "to_plan",
        "promotion_code",
        "created_by",
    )


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ("account", "kind", "recipients", "sends", "sent_at", "line_day", "period")
    list_filter = ("kind", "period")
    list_select_related = ("account",)
    # No date_hierarchy: its year links are a DISTINCT over every usage row; the month filter
    # (period) is the cheap way in (docs/operations.md#admin-at-scale).
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # no exact COUNT(*) over millions of usage rows


class CodeBatchForm(forms.Form):
    count = forms.IntegerField(label=_("number of codes"), min_value=1, max_value=10_000)
    prefix = forms.CharField(label=_("prefix"), required=False, max_length=12)
    valid_from = forms.DateField(label=_("valid from"))
    valid_until = forms.DateField(label=_("valid until"))


@admin.register(PromotionCode)
class PromotionCodeAdmin(ExportMixin, BillingAdmin, SimpleHistoryAdmin):
    resource_classes = [PromotionCodeResource]
    export_form_class = LabelledExportForm  # columns with verbose names
    change_list_template = "admin/billing/promotioncode/change_list.html"
    list_display = (
        "code",
        "status",
        "face_value",
        "valid_from",
        "valid_until",
        "subscription",
        "deducted",
        "forfeited",
        "redeemed_at",
        approval_state,
    )
    list_filter = ("status", ApprovalStateFilter)
    list_select_related = ("subscription__account", "subscription__plan", "approval")
    search_fields = ("=code",)
    fields = ("code", "valid_from", "valid_until")

    def has_change_permission(self, request, obj=None):
        return False  # used through a subscription's plan change or renewal registration

    def save_model(self, request, obj, form, change):
        saved = services.promotion_code_create(
            code=obj.code,
            valid_from=obj.valid_from,
            valid_until=obj.valid_until,
            actor=request.user,
        )
        obj.pk = saved.pk

    admin_gates = {"batch": Gate("add")}

    def get_urls(self):
        return [
            path(
                "batch/",
                self.admin_site.admin_view(self.batch_view),
                name="billing_promotioncode_batch",
            )
        ] + super().get_urls()

    def batch_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CodeBatchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                codes = services.promotion_code_batch_propose(
                    actor=request.user, **form.cleaned_data
                )
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext(
                        "%(count)d promotion codes proposed. They can be used once another LINE "
                        "staff member approves the batch (second approvals)."
                    )
                    % {"count": len(codes)},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:billing_promotioncode_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.opts,
            "title": gettext("Create a batch of promotion codes"),
        }
        return TemplateResponse(request, "admin/billing/form_page.html", context)


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


# --- Invoices (immutable), notes and runs -----------------------------------------------------


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "account",
        "kind",
        "description",
        "quantity",
        "amount",
        "tax_included",
    )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CreditNoteInline(admin.TabularInline):
    model = CreditNote
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "number",
        "kind",
        "amount",
        "reason",
        "created_by",
        "created_at",
        "second_approval",
    )

    @admin.display(description=_("second approval"))
    def second_approval(self, obj):
        return approval_state(obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RunBillingForm(forms.Form):
    period = forms.CharField(label=_("billing month (YYYY-MM)"), max_length=7)

    def clean_period(self):
        try:
            return periods.parse_period(self.cleaned_data["period"])
        except ValueError as exc:
            raise ValidationError(gettext("Write the month as YYYY-MM.")) from exc


class PaymentStateFilter(admin.SimpleListFilter):
    title = _("payment state")
    parameter_name = "payment"

    def lookups(self, request, model_admin):
        from .models import InvoicePayment

        return InvoicePayment.Status.choices

    def queryset(self, request, queryset):
        value = self.value()
        if value == "unpaid":
            return queryset.filter(Q(payment__isnull=True) | Q(payment__status="unpaid"))
        if value in ("paid", "failed"):
            return queryset.filter(payment__status=value)
        return queryset


@admin.register(Invoice)
class InvoiceAdmin(ExactSearchMixin, ExportMixin, ReadOnlyAdmin):
    resource_classes = [InvoiceResource]
    export_form_class = LabelledExportForm  # columns with verbose names
    list_display = (
        "number",
        "einvoice_number",
        "customer",
        "period",
        "total",
        "issued_at",
        "payment_state",
    )
    list_filter = ("period", PaymentStateFilter)
    actions = ["mark_paid", "mark_failed"]

    @admin.display(description=_("payment state"))
    def payment_state(self, obj):
        payment = getattr(obj, "payment", None)
        return payment.get_status_display() if payment else gettext("Unpaid")

    def _mark(self, request, queryset, status):
        from . import selfservice

        for invoice in queryset:
            try:
                selfservice.invoice_payment_set(
                    invoice_id=invoice.pk, status=status, actor=request.user
                )
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
        self.message_user(
            request,
            gettext("%(count)s invoice(s) updated.") % {"count": queryset.count()},
            messages.SUCCESS,
        )

    @admin.action(description=_("Mark paid (payment received)"))
    def mark_paid(self, request, queryset):
        self._mark(request, queryset, "paid")

    @admin.action(description=_("Mark payment failed"))
    def mark_failed(self, request, queryset):
        self._mark(request, queryset, "failed")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not staff_can(request.user, "run_billing"):
            actions.pop("mark_paid", None)
            actions.pop("mark_failed", None)
        return actions

    search_fields = ("=number", "customer__name")
    list_select_related = ("customer", "payment")
    paginator = EstimatedCountPaginator  # 300,000 invoices a year
    show_full_result_count = False
    inlines = [InvoiceLineInline, CreditNoteInline]
    fields = readonly_fields = (
        "number",
        "einvoice_number",
        "customer",
        "period",
        "issued_at",
        "buyer_id",
        "buyer_name",
        "carrier",
        "donation_code",
        "untaxed",
        "tax",
        "tax_included",
        "rounding",
        "total",
        "rounding_rule",
        "balance",
        "run",
    )
    change_list_template = "admin/billing/invoice/change_list.html"

    def has_export_permission(self, request):
        # Issued invoices are never changed, so "change" (the project's export code) is held by
        # nobody; the account managers who run billing export them.
        return staff_can(request.user, "run_billing")

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("customer")

    @admin.display(description=_("rounding rule"))
    def rounding_rule(self, obj):
        return pricing.ROUNDING_RULE

    @admin.display(description=_("balance after notes"))
    def balance(self, obj):
        return selectors.invoice_balance(invoice=obj)["balance"]

    admin_gates = {"run": Gate("billing.run_billing")}

    def get_urls(self):
        return [
            path("run/", self.admin_site.admin_view(self.run_view), name="billing_invoice_run")
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(
            extra_context or {}, can_run_billing=staff_can(request.user, "run_billing")
        )
        return super().changelist_view(request, extra_context)

    def run_view(self, request):
        """Run month-end billing for a month now (the same idempotent service as the task)."""
        if not staff_can(request.user, "run_billing"):
            raise PermissionDenied
        form = RunBillingForm(
            request.POST or None,
            initial={"period": periods.period_label(periods.last_closed_period())},
        )
        if request.method == "POST" and form.is_valid():
            try:
                result = services.bill_month(period=form.cleaned_data["period"], actor=request.user)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext(
                        "%(period)s: %(created)s invoice(s) issued, %(existing)s already issued."
                    )
                    % {
                        "period": periods.period_label(result.period),
                        "created": result.invoices_created,
                        "existing": result.invoices_existing,
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:billing_invoice_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": gettext("Run month-end billing"),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/billing/invoice/run.html", context)


class CreditNoteForm(forms.ModelForm):
    class Meta:
        model = CreditNote
        fields = ["invoice", "kind", "einvoice_action", "amount", "reason"]


@admin.register(CreditNote)
class CreditNoteAdmin(BillingAdmin):
    form = CreditNoteForm
    list_display = (
        "number",
        "invoice",
        "kind",
        "einvoice_action",
        "amount",
        "created_by",
        "created_at",
        approval_state,
    )
    list_filter = ("kind", ApprovalStateFilter)
    list_select_related = ("invoice", "created_by", "approval")
    raw_id_fields = ("invoice",)

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        saved = services.credit_note_create(
            invoice_id=obj.invoice_id,
            kind=obj.kind,
            amount=obj.amount,
            reason=obj.reason,
            einvoice_action=obj.einvoice_action,
            actor=request.user,
        )
        obj.pk, obj.number, obj.approval = saved.pk, saved.number, saved.approval
        tell_if_waiting(self, request, saved)


# --- Two people for high-value decisions (docs/billing.md#two-person-approvals) ---------------


class DecisionFilter(admin.SimpleListFilter):
    """What waits by default: the backlog's link lands on the proposals to decide."""

    title = _("status")
    parameter_name = "decision"

    def lookups(self, request, model_admin):
        return [*SecondApproval.Status.choices, ("all", _("All"))]

    def queryset(self, request, queryset):
        value = self.value() or SecondApproval.Status.PENDING
        if value in SecondApproval.Status.values:
            return queryset.filter(status=value)
        return queryset

    def choices(self, changelist):
        current = self.value() or SecondApproval.Status.PENDING
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "display": title,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
            }


@admin.register(SecondApproval)
class SecondApprovalAdmin(ReviewPageMixin, BillingAdmin, SimpleHistoryAdmin):
    """The proposals of one staff member waiting for another's approval: approve and reject
    buttons on each page (lbm.admin_helpers.ReviewPageMixin), the history shows who proposed
    and who decided."""

    list_display = (
        "summary",
        "kind",
        "amount",
        "status",
        "proposed_by",
        "proposed_at",
        "review_due",
        "decided_by",
        "decided_at",
    )
    list_filter = (DecisionFilter, "kind", OverdueFilter)
    list_select_related = ("proposed_by", "decided_by")
    ordering = ("review_due_on", "pk")  # the oldest proposal first
    fields = readonly_fields = (
        "kind",
        "summary",
        "amount",
        "status",
        "proposed_by",
        "proposed_at",
        "review_due_on",
        "decided_by",
        "decided_at",
        "decision_reason",
        "proposed",
    )
    approve_label = _("Approve as the second person")
    approve_question = _(
        "Approve this proposal? It takes effect at once. A note is optional; "
        "the proposer sees it in the history."
    )
    reject_question = _("Nothing of this proposal will take effect. The proposer sees the reason.")
    approve_reason_label = _("Note (optional)")
    reject_reason_label = _("Reason")

    def has_add_permission(self, request):
        return False  # proposed by the services of what they propose

    def has_change_permission(self, request, obj=None):
        return False  # decided by the buttons only

    def has_review_permission(self, request, obj=None):
        from .services.approvals import KIND_PERMISSIONS

        if obj is not None:
            return staff_can(request.user, KIND_PERMISSIONS[obj.kind])
        return any(staff_can(request.user, perm) for perm in KIND_PERMISSIONS.values())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from django.contrib.admin.utils import unquote

        obj = self.get_object(request, unquote(object_id))
        if (
            obj is None
            or obj.status != SecondApproval.Status.PENDING
            or not self.has_review_permission(request, obj)
        ):
            # Decided, or not for this user to decide: the page without the buttons.
            return super(ReviewPageMixin, self).change_view(
                request, object_id, form_url, extra_context
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def review_decide(self, request, obj, decision, reason):
        if decision == "approve":
            services.second_approval_approve(approval_id=obj.pk, actor=request.user, note=reason)
        else:
            services.second_approval_reject(approval_id=obj.pk, actor=request.user, reason=reason)

    @admin.display(description=_("approval due"), ordering="review_due_on")
    def review_due(self, obj):
        return due_badge(obj)

    @admin.display(description=_("what takes effect"))
    def proposed(self, obj):
        if obj.kind == SecondApproval.Kind.PROMOTION_BATCH:
            url = reverse("admin:billing_promotioncode_changelist")
            return format_html(
                '<a href="{}?approval__id__exact={}">{}</a>',
                url,
                obj.pk,
                gettext("%(count)d promotion code(s)") % {"count": obj.promotion_codes.count()},
            )
        target = (
            obj.credit_notes.first()
            if obj.kind == SecondApproval.Kind.CREDIT_NOTE
            else obj.government_contracts.first()
        )
        if target is None:
            return "—"
        url = reverse(f"admin:billing_{target._meta.model_name}_change", args=[target.pk])
        return format_html('<a href="{}">{}</a>', url, target)


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    list_display = (
        "period",
        "status",
        "started_at",
        "finished_at",
        "invoices_created",
        "invoices_existing",
        "triggered_by",
    )
    list_filter = ("status", "period")


class EInvoiceTrackForm(forms.ModelForm):
    class Meta:
        model = EInvoiceTrack
        fields = ["period", "prefix", "first_number", "last_number"]


class EInvoiceExportForm(forms.Form):
    period = forms.CharField(label=_("two-month period (YYYY-MM, its first month)"), max_length=7)
    seller_id = forms.CharField(label=_("seller business number"), max_length=8)

    def clean_period(self):
        try:
            return einvoice.bimonth_of(periods.parse_period(self.cleaned_data["period"]))
        except ValueError as exc:
            raise ValidationError(gettext("Write the month as YYYY-MM.")) from exc


@admin.register(EInvoiceTrack)
class EInvoiceTrackAdmin(BillingAdmin, SimpleHistoryAdmin):
    """Number tracks (字軌) entered per two-month period; used in order by month-end billing."""

    form = EInvoiceTrackForm
    list_display = (
        "period",
        "prefix",
        "first_number",
        "last_number",
        "next_number",
        "remaining",
        "created_by",
    )
    list_filter = ("period",)

    def has_change_permission(self, request, obj=None):
        return False  # a track is used by billing alone; a wrong one is followed by a new one

    @admin.display(description=_("numbers left"))
    def remaining(self, obj):
        return obj.remaining

    def save_model(self, request, obj, form, change):
        saved = services.einvoice_track_create(
            period=obj.period,
            prefix=obj.prefix,
            first_number=obj.first_number,
            last_number=obj.last_number,
            actor=request.user,
        )
        obj.pk = saved.pk

    admin_gates = {"export": Gate("billing.run_billing")}  # not import-export's

    def get_urls(self):
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="billing_einvoicetrack_export",
            )
        ] + super().get_urls()

    def export_view(self, request):
        """A CSV of a two-month period's e-invoices, allowances and voids (one row each)."""
        from django.http import HttpResponse

        if not staff_can(request.user, "run_billing"):
            raise PermissionDenied
        form = EInvoiceExportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            bimonth = form.cleaned_data["period"]
            response = HttpResponse(
                einvoice.export_csv(bimonth=bimonth, seller_id=form.cleaned_data["seller_id"]),
                content_type="text/csv; charset=utf-8",
            )
            response["Content-Disposition"] = f'attachment; filename="einvoices-{bimonth:%Y%m}.csv"'
            return response
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": gettext("Export e-invoices of a two-month period"),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/billing/einvoicetrack/export.html", context)


from . import selfservice_admin  # noqa: E402, F401  (administrators' pages, same admin site)
