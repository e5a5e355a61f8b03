"""Taiwan e-invoices (電子發票): buyer validation, number tracks (字軌) and the period export.

The rules followed are written in docs/billing.md. Writes happen inside the billing services'
transactions; nothing here commits on its own.
"""

import csv
import io
import re
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db.models import Q, Sum
from django.utils.translation import gettext as _

from lbm.validators import business_number_is_valid

from . import periods
from .exceptions import BillingError
from .models import CreditNote, EInvoiceAction, EInvoiceTrack, Invoice, SecondApproval

PERSON_BUYER_ID = "0000000000"  # B2C invoices carry this buyer ID in the exchange format
MOBILE_BARCODE_RE = re.compile(r"/[0-9A-Z.+\-]{7}")
DONATION_CODE_RE = re.compile(r"\d{3,7}")
PREFIX_RE = re.compile(r"[A-Z]{2}")


class NumbersExhausted(BillingError):
    """The tracks of a two-month period cannot number every invoice to issue."""


def bimonth_of(day: date) -> date:
    """The two-month period (Jan–Feb, Mar–Apr, …) of ``day``, as the first day of its odd
    month."""
    return date(day.year, day.month - (day.month - 1) % 2, 1)


def bimonth_of_moment(moment: datetime) -> date:
    """E-invoice periods follow the Taiwan calendar day of issue."""
    return bimonth_of(periods.taipei_date(moment))


def validate_buyer(
    *, business_number: str = "", name: str = "", carrier: str = "", donation_code: str = ""
) -> None:
    """A buyer is a company (統一編號 with its checksum and the company name) or a person (a
    mobile barcode carrier ``/`` + 7 characters, or a donation code of 3–7 digits). Raises
    ``ValidationError`` with every problem."""
    errors = {}
    if business_number:
        if not business_number_is_valid(business_number):
            errors["business_number"] = _(
                "“%(value)s” is not a valid business number (統一編號)."
            ) % {"value": business_number}
        if not name.strip():
            errors["invoice_title"] = _("A company invoice needs the company name.")
        if carrier or donation_code:
            errors["invoice_carrier"] = _("A company invoice has no carrier and cannot be donated.")
    else:
        if carrier and donation_code:
            errors["donation_code"] = _("Choose a carrier or a donation, not both.")
        elif not carrier and not donation_code:
            errors["invoice_carrier"] = _(
                "Give a business number (company), a mobile barcode carrier or a donation code."
            )
        if carrier and not MOBILE_BARCODE_RE.fullmatch(carrier):
            errors["invoice_carrier"] = _(
                "A mobile barcode (手機條碼) is “/” followed by 7 "
                "characters from 0–9, A–Z, “.”, “+” and “-”."
            )
        if donation_code and not DONATION_CODE_RE.fullmatch(donation_code):
            errors["donation_code"] = _("A donation code (捐贈碼) has 3 to 7 digits.")
        if not name.strip():
            errors["invoice_title"] = _("Give the buyer's name.")
    if errors:
        raise ValidationError(errors)


def available(*, bimonth: date) -> int:
    """Numbers still free in the tracks of a two-month period."""
    tracks = EInvoiceTrack.objects.filter(period=bimonth).aggregate(
        last=Sum("last_number"), next=Sum("next_number"), n=Sum(1)
    )
    if not tracks["n"]:
        return 0
    return tracks["last"] + tracks["n"] - tracks["next"]


def exhausted_message(*, bimonth: date, needed: int, left: int) -> str:
    return _(
        "Not enough e-invoice numbers for %(start)s–%(end)s: %(needed)s invoices to issue, "
        "%(left)s numbers left. Enter a number track (字軌) for this period and run "
        "billing again; nothing was issued."
    ) % {
        "start": f"{bimonth:%Y-%m}",
        "end": f"{periods.next_period(bimonth):%Y-%m}",
        "needed": needed,
        "left": left,
    }


def allocate(*, bimonth: date, count: int) -> list[str]:
    """Take ``count`` numbers, in order, from the period's tracks (must run in a transaction).

    The tracks are locked (``SELECT … FOR UPDATE`` on PostgreSQL), so concurrent runs queue
    here; a rolled-back transaction gives its numbers back, so no gap is left. Raises
    ``NumbersExhausted`` before taking any when there are too few."""
    if count <= 0:
        return []
    tracks = list(
        EInvoiceTrack.objects.select_for_update()
        .filter(period=bimonth)
        .order_by("prefix", "first_number", "pk")
    )
    left = sum(track.remaining for track in tracks)
    if left < count:
        raise NumbersExhausted(exhausted_message(bimonth=bimonth, needed=count, left=left))
    numbers = []
    for track in tracks:
        take = min(track.remaining, count - len(numbers))
        if take <= 0:
            continue
        numbers += [
            f"{track.prefix}{n:08d}" for n in range(track.next_number, track.next_number + take)
        ]
        EInvoiceTrack.objects.filter(pk=track.pk).update(next_number=track.next_number + take)
        if len(numbers) == count:
            break
    return numbers


EXPORT_FIELDS = [
    "document",
    "message",
    "number",
    "date",
    "time",
    "related_number",
    "seller_id",
    "buyer_id",
    "buyer_name",
    "carrier_type",
    "carrier_id",
    "donate",
    "donation_code",
    "sales_amount",
    "tax_type",
    "tax_rate",
    "tax_amount",
    "total_amount",
    "reason",
]


def _split_tax(total):
    """Whole-dollar sales amount and tax of a tax-included total (5%, tax rounded half up)."""
    from .pricing import TAX_RATE, round_twd

    sales = round_twd(total / (1 + TAX_RATE))
    return sales, total - sales


def export_rows(*, bimonth: date, seller_id: str) -> list[dict]:
    """One row per document of a two-month period — issued e-invoices (C0401), allowances
    (D0401) and voids (C0501) — with the fields the e-invoice platform's messages carry."""
    end = periods.next_period(periods.next_period(bimonth))
    start_at, end_at = (
        periods.period_start(bimonth).astimezone(periods.TAIPEI),
        periods.period_start(end).astimezone(periods.TAIPEI),
    )
    rows = []

    def when(moment):
        local = moment.astimezone(periods.TAIPEI)
        return f"{local:%Y%m%d}", f"{local:%H:%M:%S}"

    for inv in Invoice.objects.filter(einvoice_number__isnull=False).order_by("einvoice_number"):
        if (
            periods.taipei_date(inv.issued_at) < bimonth
            or periods.taipei_date(inv.issued_at) >= end
        ):
            continue
        sales, tax = _split_tax(inv.total)
        day, hour = when(inv.issued_at)
        rows.append(
            {
                "document": "invoice",
                "message": "C0401",
                "number": inv.einvoice_number,
                "date": day,
                "time": hour,
                "related_number": "",
                "seller_id": seller_id,
                "buyer_id": inv.buyer_id or PERSON_BUYER_ID,
                "buyer_name": inv.buyer_name,
                "carrier_type": "3J0002" if inv.carrier else "",
                "carrier_id": inv.carrier,
                "donate": "1" if inv.donation_code else "0",
                "donation_code": inv.donation_code,
                "sales_amount": str(sales),
                "tax_type": "1",
                "tax_rate": "0.05",
                "tax_amount": str(tax),
                "total_amount": str(inv.total),
                "reason": "",
            }
        )
    # A note counts from when it took effect: its creation, or its second approval
    # (docs/billing.md#two-person-approvals); one still waiting is not exported.
    window = Q(approval__isnull=True, created_at__gte=start_at, created_at__lt=end_at) | Q(
        approval__status=SecondApproval.Status.APPROVED,
        approval__decided_at__gte=start_at,
        approval__decided_at__lt=end_at,
    )
    for note in (
        CreditNote.objects.exclude(einvoice_action="")
        .select_related("invoice", "approval")
        .filter(window)
        .order_by("number")
    ):
        day, hour = when(note.approval.decided_at if note.approval else note.created_at)
        sales, tax = _split_tax(note.amount)
        allowance = note.einvoice_action == EInvoiceAction.ALLOWANCE
        rows.append(
            {
                "document": note.einvoice_action,
                "message": "D0401" if allowance else "C0501",
                "number": note.number if allowance else note.invoice.einvoice_number,
                "date": day,
                "time": hour,
                "related_number": note.invoice.einvoice_number,
                "seller_id": seller_id,
                "buyer_id": note.invoice.buyer_id or PERSON_BUYER_ID,
                "buyer_name": note.invoice.buyer_name,
                "carrier_type": "",
                "carrier_id": "",
                "donate": "",
                "donation_code": "",
                "sales_amount": str(sales),
                "tax_type": "1",
                "tax_rate": "0.05",
                "tax_amount": str(tax),
                "total_amount": str(note.amount),
                "reason": note.reason,
            }
        )
    return rows


def export_csv(*, bimonth: date, seller_id: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    writer.writerows(export_rows(bimonth=bimonth, seller_id=seller_id))
    return out.getvalue()
