"""Invoices (immutable; payment state, export, month-end run), credit and debit notes, billing
runs, and e-invoice number tracks with their export.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin

from lbm.admin_gates import Gate
from lbm.admin_search import ExactSearchMixin
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.import_export_i18n import LabelledExportForm
from lbm.paginators import EstimatedCountPaginator

from . import einvoice, periods, pricing, selectors, services
from .admin_base import (
    ApprovalStateFilter,
    BillingAdmin,
    ReadOnlyAdmin,
    approval_state,
    staff_can,
    tell_if_waiting,
)
from .models import BillingRun, CreditNote, EInvoiceTrack, Invoice, InvoiceLine
from .resources import InvoiceResource

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
