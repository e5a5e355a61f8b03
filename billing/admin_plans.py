"""Price data (plans, price tiers, add-on prices), billing customers, and subscriptions with
their plan changes and usage against quota (``usage_context``, also on the administrators'
pages in ``billing.selfservice_admin``).
"""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm.admin_search import ExactSearchMixin
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.paginators import EstimatedCountPaginator

from . import periods, selectors, services
from .admin_base import BillingAdmin, ReadOnlyAdmin
from .models import (
    AddOnPrice,
    BillingCustomer,
    Plan,
    PlanChange,
    PriceTier,
    Subscription,
    UsageRecord,
)

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
    # Newest first, by the primary key: the model's ordering (subscription, period) sorts by
    # the subscription's account name, a sort of every change in the ledger on each page
    # (0.4 s for 100,000 changes in the admin-scale bench).
    ordering = ("-pk",)
    # The last page from the other end, not OFFSET 100,000 (0.43 s at scale).
    paginator = EstimatedCountPaginator
    list_select_related = (
        "subscription__account",
        "subscription__plan",
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
