"""Pages of an Official Account's administrators (「需以管理員權限設定」, docs/billing.md): their
accounts only, every write through ``billing.selfservice``. Account managers grant the right
here too."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm import permissions, pii
from lbm.admin_gates import SIGNED_IN, Gate
from lbm.exceptions import DomainError
from lbm.models import Account

from . import periods, pricing, selectors, selfservice
from .models import (
    AccountAdministrator,
    CreditNote,
    Invoice,
    PaymentMethod,
    PaymentMethodKind,
    Plan,
    Subscription,
    in_effect,
)


class EInvoiceForm(forms.Form):
    business_number = forms.CharField(
        label=_("business number (統一編號)"), max_length=8, required=False
    )
    name = forms.CharField(label=_("e-invoice buyer name"), max_length=150)
    carrier = forms.CharField(
        label=_("mobile barcode carrier (手機條碼)"), max_length=8, required=False
    )
    donation_code = forms.CharField(label=_("donation code (捐贈碼)"), max_length=7, required=False)
    email = forms.EmailField(label=_("e-invoice e-mail"), required=False)


class PaymentForm(forms.Form):
    kind = forms.ChoiceField(label=_("payment method"), choices=PaymentMethodKind.choices)
    gateway_token = forms.CharField(label=_("gateway token"), max_length=128)
    last4 = forms.CharField(label=_("card's last four digits"), max_length=4, required=False)


class PlanForm(forms.Form):
    plan_code = forms.ChoiceField(
        label=_("new plan"), choices=[(c.value, c.label) for c in Plan.OFFICIAL_ACCOUNT_PLANS]
    )
    promotion_code = forms.CharField(label=_("promotion code"), max_length=32, required=False)


class CodeForm(forms.Form):
    code = forms.CharField(label=_("promotion code for the next renewal"), max_length=32)


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("e-mail address of the person to invite"))


class GrantForm(forms.ModelForm):
    class Meta:
        model = AccountAdministrator
        fields = ["account", "user"]


@admin.register(AccountAdministrator)
class AccountAdministratorAdmin(admin.ModelAdmin):
    """Account managers see and grant every administrator; an administrator sees the
    administrators of their own accounts and opens each account's billing page."""

    form = GrantForm
    list_display = ("account", "user", "granted_by", "granted_at", "manage_link")
    raw_id_fields = ("account", "user")

    def _staff(self, request):
        return permissions.staff_may(request.user, permissions.ACCOUNT_ADMIN_GRANT_PERM)

    def has_module_permission(self, request):
        return self._staff(request) or bool(permissions.administered_account_ids(request.user))

    def has_view_permission(self, request, obj=None):
        if self._staff(request):
            return True
        mine = permissions.administered_account_ids(request.user)
        return bool(mine) and (obj is None or obj.account_id in mine)

    def has_add_permission(self, request):
        return self._staff(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        query = super().get_queryset(request).select_related("account", "user", "granted_by")
        if self._staff(request):
            return query
        return query.filter(account_id__in=permissions.administered_account_ids(request.user))

    @admin.display(description=_("billing"))
    def manage_link(self, obj):
        from django.utils.html import format_html

        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:billing_selfservice", args=[obj.account_id]),
            gettext("Plan and billing"),
        )

    def save_model(self, request, obj, form, change):
        try:
            saved = selfservice.administrator_grant(
                account_id=obj.account_id, user=obj.user, actor=request.user
            )
        except DomainError as exc:
            raise PermissionDenied(str(exc)) from exc
        obj.pk = saved.pk

    # An account or invoice that is not the user's is the same 404 as a missing one.
    admin_gates = {
        "billing_selfservice": Gate(SIGNED_IN, obj="account_id", objects="administered_accounts"),
        "billing_selfservice_print": Gate(
            SIGNED_IN, obj="invoice_id", objects="printable_invoices"
        ),
        "billing_selfservice_accept": Gate(SIGNED_IN),  # the token decides (selfservice)
    }

    def administered_accounts(self, request):
        return Account.objects.filter(pk__in=permissions.administered_account_ids(request.user))

    def printable_invoices(self, request):
        if permissions.staff_may(request.user, "billing.view_invoice"):
            return Invoice.objects.all()
        return Invoice.objects.filter(
            customer__subscriptions__account_id__in=(
                permissions.administered_account_ids(request.user)
            )
        ).distinct()

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("account/<int:account_id>/", view(self.account_view), name="billing_selfservice"),
            path(
                "invoice/<int:invoice_id>/print/",
                view(self.print_view),
                name="billing_selfservice_print",
            ),
            path(
                "invitation/<str:token>/", view(self.accept_view), name="billing_selfservice_accept"
            ),
        ] + super().get_urls()

    # --- The account's page -------------------------------------------------------------------

    def _subscription(self, request, account_id):
        if not permissions.is_account_administrator(request.user, account_id):
            raise PermissionDenied
        subscription = (
            Subscription.objects.select_related("customer", "plan", "account")
            .filter(account_id=account_id)
            .first()
        )
        if subscription is None:
            raise Http404
        return subscription

    def account_view(self, request, account_id):
        from .admin_plans import usage_context

        subscription = self._subscription(request, account_id)
        customer = subscription.customer
        einvoice_form = EInvoiceForm(
            initial={
                "business_number": customer.business_number,
                "name": customer.invoice_title,
                "carrier": customer.invoice_carrier,
                "donation_code": customer.donation_code,
                "email": customer.invoice_email,
            },
            prefix="einvoice",
        )
        payment_form = PaymentForm(prefix="payment")
        plan_form = PlanForm(prefix="plan")
        code_form = CodeForm(prefix="code")
        invite_form = InviteForm(prefix="invite")
        preview = None
        if request.method == "POST":
            action = request.POST.get("action")
            try:
                done = self._post(request, account_id, action)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                done = None
            if isinstance(done, str):
                self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(request.path)
            if isinstance(done, selfservice.Preview):
                preview = done
                plan_form = PlanForm(request.POST, prefix="plan")
            elif action == "einvoice":
                einvoice_form = EInvoiceForm(request.POST, prefix="einvoice")
            elif action == "payment":
                payment_form = PaymentForm(request.POST, prefix="payment")
            elif action == "invite":
                invite_form = InviteForm(request.POST, prefix="invite")
        period = periods.line_period(timezone.now())
        past = []
        month = period
        for _i in range(6):
            month = periods.previous_period(month)
            usage = selectors.month_usage(account_id=account_id, period=month)
            past.append((periods.period_label(month), usage.messages))
        invoices = list(Invoice.objects.filter(customer=customer).order_by("-period"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Plan and billing: %(account)s") % {"account": subscription.account},
            "subscription": subscription,
            "customer": customer,
            "method": PaymentMethod.objects.filter(customer=customer, active=True).first(),
            "einvoice_form": einvoice_form,
            "payment_form": payment_form,
            "plan_form": plan_form,
            "code_form": code_form,
            "preview": preview,
            "invite_form": invite_form,
            "administrators": AccountAdministrator.objects.filter(account_id=account_id)
            .select_related("user")
            .order_by("granted_at", "pk"),
            "past": past,
            "invoices": invoices,
            "notes": CreditNote.objects.filter(in_effect(), invoice__customer=customer),
            "changes": subscription.changes.select_related("from_plan", "to_plan").order_by(
                "-period", "-pk"
            ),
            "codes": subscription.promotion_codes.all(),
            **usage_context(account_id, request.GET.get("month")),
        }
        return TemplateResponse(request, "admin/billing/selfservice/account.html", context)

    def _post(self, request, account_id, action):
        user = request.user
        if action == "einvoice":
            form = EInvoiceForm(request.POST, prefix="einvoice")
            if form.is_valid():
                selfservice.einvoice_details_set(
                    account_id=account_id, actor=user, **form.cleaned_data
                )
                return gettext("The e-invoice details were saved.")
            return None
        if action == "payment":
            form = PaymentForm(request.POST, prefix="payment")
            if form.is_valid():
                method = selfservice.payment_method_register(
                    account_id=account_id, actor=user, **form.cleaned_data
                )
                return gettext("Payment method registered: %(label)s") % {"label": method}
            return None
        if action in ("preview", "confirm"):
            form = PlanForm(request.POST, prefix="plan")
            if not form.is_valid():
                return None
            data = form.cleaned_data
            if action == "preview":
                return selfservice.plan_change_preview(account_id=account_id, actor=user, **data)
            change = selfservice.plan_change(account_id=account_id, actor=user, **data)
            if change is None:
                return gettext("The plan is unchanged.")
            return gettext("Plan change recorded: %(change)s") % {"change": change}
        if action == "register_code":
            form = CodeForm(request.POST, prefix="code")
            if form.is_valid():
                code = selfservice.promotion_code_register(
                    account_id=account_id, actor=user, code=form.cleaned_data["code"]
                )
                return gettext("Promotion code %(code)s registered for the next renewal.") % {
                    "code": code
                }
            return None
        if action == "invite":
            form = InviteForm(request.POST, prefix="invite")
            if form.is_valid():
                email = form.cleaned_data["email"]
                selfservice.invitation_create(account_id=account_id, actor=user, email=email)
                return gettext(
                    "An invitation was sent to %(email)s. It is valid for %(days)s "
                    "days and works once, for a sign-in with that address."
                ) % {"email": pii.mask_email(email), "days": selfservice.INVITATION_DAYS}
            return None
        raise PermissionDenied

    def accept_view(self, request, token):
        """The invitation link: the signed-in person confirms, and becomes an administrator
        of the account if the invitation was sent to their address (docs/billing.md)."""
        if request.method == "POST":
            try:
                grant = selfservice.invitation_accept(token=token, user=request.user)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(request.path)
            self.message_user(
                request,
                gettext("You are now an administrator of %(account)s.")
                % {"account": grant.account},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:billing_selfservice", args=[grant.account_id])
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Accept the invitation"),
        }
        return TemplateResponse(request, "admin/billing/selfservice/accept.html", context)

    def print_view(self, request, invoice_id):
        """A printable invoice in Traditional Chinese, for the account's administrators and the
        account managers."""
        invoice = get_object_or_404(Invoice.objects.select_related("customer"), pk=invoice_id)
        accounts = set(invoice.customer.subscriptions.values_list("account_id", flat=True))
        mine = set(permissions.administered_account_ids(request.user))
        if not (accounts & mine or permissions.staff_may(request.user, "billing.view_invoice")):
            raise PermissionDenied
        with translation.override("zh-hant"):
            context = {
                "invoice": invoice,
                "lines": invoice.lines.select_related("account"),
                "notes": invoice.credit_notes.filter(in_effect()),
                "balance": selectors.invoice_balance(invoice=invoice),
                "rule": str(pricing.ROUNDING_RULE),
            }
            response = TemplateResponse(request, "admin/billing/selfservice/print.html", context)
            response.render()
        return response
