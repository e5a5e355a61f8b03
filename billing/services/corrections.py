"""Corrections: credit and debit notes, and usage recorded after its month was invoiced.

Rules: docs/billing.md.
"""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Max, Q, Sum
from django.utils.translation import gettext as _

from lbm.formatting import money

from .. import periods, pricing, selectors
from ..exceptions import (
    BillingError,
)
from ..models import (
    CreditNote,
    EInvoiceAction,
    Invoice,
    SecondApproval,
    UsageRecord,
    in_effect,
)
from . import approvals
from ._base import _require

# --- Corrections ------------------------------------------------------------------------------


@transaction.atomic
def credit_note_create(
    *, invoice_id: int, kind: str, amount: Decimal, reason: str, actor, einvoice_action: str = ""
) -> CreditNote:
    """Correct an issued invoice with a credit (refund) or debit (extra charge) note. A credit
    cannot exceed what the invoice still bills. Amounts are whole TWD, tax included.

    A credit on an invoice with an e-invoice number is an allowance (折讓) or a void (作廢) of
    that e-invoice (``einvoice_action``; an allowance when not given). A void cancels the whole
    e-invoice: only for the full total, with no earlier credit.

    A note above ``BILLING_TWO_PERSON_THRESHOLD`` is a proposal (docs/billing.md#two-person-
    approvals): it is written with its number but counts nowhere (balance, e-invoice export,
    the customer's pages) until another staff member approves it, when the rules above are
    checked again."""
    _require(actor, "add_creditnote")
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    reason = (reason or "").strip()
    if not reason:
        raise BillingError(_("A credit or debit note needs a reason."), field="reason")
    if kind not in CreditNote.Kind.values:
        raise BillingError(_("Unknown kind of note."), field="kind")
    amount = Decimal(amount)
    if amount <= 0 or amount != amount.to_integral_value():
        raise BillingError(_("The amount must be a positive whole number of TWD."), field="amount")
    einvoice_action = _check_note(
        invoice, kind=kind, amount=amount, einvoice_action=einvoice_action
    )
    sequence = CreditNote.objects.filter(invoice=invoice).count() + 1
    prefix = "CN" if kind == CreditNote.Kind.CREDIT else "DN"
    number = f"{prefix}-{invoice.number[4:]}-{sequence:02d}"
    approval = None
    if approvals.needs_second_approval(amount):
        approval = approvals.approval_propose(
            kind=SecondApproval.Kind.CREDIT_NOTE,
            actor=actor,
            amount=amount,
            reason=reason,
            summary=approvals.note_summary(
                kind_label=CreditNote.Kind(kind).label,
                number=number,
                amount=amount,
                invoice_number=invoice.number,
            ),
        )
    return CreditNote.objects.create(
        invoice=invoice,
        kind=kind,
        amount=amount,
        reason=reason,
        created_by=actor,
        einvoice_action=einvoice_action,
        number=number,
        approval=approval,
    )


def _check_note(invoice: Invoice, *, kind: str, amount: Decimal, einvoice_action: str) -> str:
    """The rules of a note against the notes in effect on ``invoice``; returns the e-invoice
    document it is."""
    figures = selectors.invoice_balance(invoice=invoice)
    balance = figures["balance"]
    if einvoice_action and (kind != CreditNote.Kind.CREDIT or not invoice.einvoice_number):
        raise BillingError(
            _("Only a credit on an invoice with an e-invoice number is an allowance or a void."),
            field="einvoice_action",
        )
    if kind == CreditNote.Kind.CREDIT and invoice.einvoice_number:
        einvoice_action = einvoice_action or EInvoiceAction.ALLOWANCE
        if einvoice_action not in EInvoiceAction.values:
            raise BillingError(_("An e-invoice is corrected by an allowance or a void."))
        if CreditNote.objects.filter(
            in_effect(), invoice=invoice, einvoice_action=EInvoiceAction.VOID
        ).exists():
            raise BillingError(_("This e-invoice is void; it cannot be corrected again."))
        if einvoice_action == EInvoiceAction.VOID and (
            amount != invoice.total or figures["credits"]
        ):
            raise BillingError(
                _(
                    "A void cancels the whole e-invoice: its amount is the "
                    "invoice total, %(total)s, and no allowance may precede it."
                )
                % {"total": invoice.total}
            )
    if kind == CreditNote.Kind.CREDIT and amount > balance:
        raise BillingError(
            _("A credit of %(amount)s is more than the %(balance)s this invoice still bills.")
            % {"amount": money(amount), "balance": money(balance)},
            field="amount",
        )
    return einvoice_action


def _check_pending_note(approval: SecondApproval) -> None:
    """Before the second approval the note is checked again against the notes that took effect
    meanwhile (two proposed credits may not refund more than the invoice bills)."""
    note = CreditNote.objects.select_related("invoice").get(approval=approval)
    invoice = Invoice.objects.select_for_update().get(pk=note.invoice_id)
    _check_note(invoice, kind=note.kind, amount=note.amount, einvoice_action=note.einvoice_action)


# --- Usage recorded after its month was invoiced ----------------------------------------------


def late_usage_bill(*, before: date) -> list[CreditNote]:
    """Bill usage recorded after its month's invoice was issued on a debit note of that invoice
    (docs/billing.md): per invoice, the extra messages and notification messages of the usage
    rows recorded after the invoice (or after the last such note), priced as if they had been
    there at issue — the graduated table applies to the month's whole count — plus 5% tax, the
    total rounded once. Run by ``bill_month`` for every month before ``before``; running it
    again bills nothing twice."""
    notes = []
    invoices = "account__subscription__customer__invoices"
    candidates = (
        UsageRecord.objects.filter(
            period__lt=before,
            **{f"{invoices}__period": F("period"), f"{invoices}__issued_at__lt": F("created_at")},
        )
        .values_list("account__subscription__customer_id", "period")
        .distinct()
    )
    tiers: dict[date, dict] = {}
    for customer_id, period in sorted(set(candidates)):
        if period not in tiers:
            tiers[period] = selectors.tier_tables(period=period)
        note = _late_usage_note(customer_id=customer_id, period=period, tiers=tiers[period])
        if note is not None:
            notes.append(note)
    return notes


def _usage(row: dict, prefix: str) -> selectors.MonthUsage:
    return selectors.MonthUsage(
        messages=row[f"{prefix}messages"] or 0,
        sends=row[f"{prefix}sends"] or 0,
        notifications=row[f"{prefix}notifications"] or 0,
    )


def _month_usage_sums(prefix: str, recorded: Q) -> dict:
    """The three sums of ``selectors.month_usage``, over the rows that match ``recorded``."""
    return {
        f"{prefix}messages": Sum(
            "recipients", filter=recorded & Q(kind__in=UsageRecord.QUOTA_KINDS)
        ),
        f"{prefix}sends": Sum("sends", filter=recorded & Q(kind__in=UsageRecord.SEND_KINDS)),
        f"{prefix}notifications": Sum(
            "recipients", filter=recorded & Q(kind=UsageRecord.Kind.NOTIFICATION)
        ),
    }


@transaction.atomic
def _late_usage_note(*, customer_id: int, period: date, tiers: dict) -> CreditNote | None:
    invoice = Invoice.objects.select_for_update().get(customer_id=customer_id, period=period)
    last = (
        CreditNote.objects.filter(invoice=invoice, usage_through__isnull=False)
        .order_by("-usage_through")
        .values_list("usage_through", flat=True)
        .first()
    )
    cutoff = last or invoice.issued_at
    # One grouped read for all the customer's accounts (not two per account): per account, the
    # usage as billed (recorded by the cutoff) and as now, and its latest late row. "Now" is
    # every row: in one statement no row is newer than the latest late one.
    usage = {
        row["account_id"]: row
        for row in UsageRecord.objects.filter(
            account__subscription__customer_id=customer_id, period=period
        )
        .values("account_id")
        .annotate(
            late=Max("created_at", filter=Q(created_at__gt=cutoff)),
            **_month_usage_sums("billed_", Q(created_at__lte=cutoff)),
            **_month_usage_sums("now_", Q()),
        )
    }
    usage = {account_id: row for account_id, row in usage.items() if row["late"] is not None}
    if not usage:
        return None
    through = max(row["late"] for row in usage.values())
    plans = selectors.plans_in_effect(account_ids=list(usage), period=period)
    untaxed = included = Decimal("0")
    parts = []
    for account_id in sorted(usage):
        plan = plans.get(account_id)
        if plan is None:
            continue
        billed, now = _usage(usage[account_id], "billed_"), _usage(usage[account_id], "now_")

        def extra(month: selectors.MonthUsage, plan=plan):
            return pricing.overage_charge(
                messages=selectors.counted(plan, month),
                free=plan.free_messages,
                rule=plan.overage,
                tiers=tiers.get(plan.pk, ()),
                unit_price=plan.overage_unit_price,
            )

        messages = extra(now) - extra(billed)
        notices = (now.notifications - billed.notifications) * pricing.NOTIFICATION_UNIT_PRICE
        if plan.tax_included:
            included += messages
        else:
            untaxed += messages
        untaxed += notices
        if messages or notices:
            parts.append(f"{account_id}: {messages + notices}")
    total = pricing.round_twd(untaxed * (1 + pricing.TAX_RATE) + included)
    if total <= 0:
        return None
    sequence = CreditNote.objects.filter(invoice=invoice).count() + 1
    return CreditNote.objects.create(
        invoice=invoice,
        kind=CreditNote.Kind.DEBIT,
        amount=total,
        usage_through=through,
        number=f"DN-{invoice.number[4:]}-{sequence:02d}",
        reason=_(
            "Usage of %(period)s recorded after the invoice was issued (untaxed "
            "%(untaxed)s, tax-included %(included)s; %(rule)s)"
        )
        % {
            "period": periods.period_label(period),
            "untaxed": untaxed,
            "included": included,
            "rule": pricing.ROUNDING_RULE,
        },
    )
