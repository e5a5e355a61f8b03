"""Taiwan e-invoice details (the buyer check) and number tracks.

Rules: docs/billing.md.
"""

from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from .. import einvoice
from ..exceptions import (
    BillingError,
)
from ..models import (
    EInvoiceTrack,
)
from ._base import _record, _require

# --- Taiwan e-invoice details and number tracks -----------------------------------------------


@transaction.atomic
def einvoice_track_create(
    *, period: date, prefix: str, first_number: int, last_number: int, actor
) -> EInvoiceTrack:
    """Enter a number track (字軌) for a two-month period: two upper-case letters and a range
    of eight-digit numbers, not overlapping another track of the period."""
    _require(actor, "add_einvoicetrack")
    prefix = (prefix or "").strip().upper()
    if not einvoice.PREFIX_RE.fullmatch(prefix):
        raise BillingError(_("A number track starts with two letters A–Z."), field="prefix")
    if period != einvoice.bimonth_of(period):
        raise BillingError(
            _(
                "A two-month period starts on the first day of January, March, "
                "May, July, September or November."
            ),
            field="period",
        )
    if not 0 <= first_number <= last_number <= 99_999_999:
        raise BillingError(
            _("The numbers are eight digits and the range must not be empty."), field="last_number"
        )
    if EInvoiceTrack.objects.filter(
        period=period, prefix=prefix, first_number__lte=last_number, last_number__gte=first_number
    ).exists():
        raise BillingError(
            _("This range overlaps a number track already entered."), field="first_number"
        )
    track = EInvoiceTrack(
        period=period,
        prefix=prefix,
        first_number=first_number,
        last_number=last_number,
        next_number=first_number,
        created_by=actor,
    )
    _record(track, actor=actor, reason=_("Number track entered"))
    track.save()
    return track


def check_buyer(
    *, business_number: str, name: str, carrier: str, donation_code: str, form=None
) -> None:
    """Validate the e-invoice buyer when any of its details is given (``einvoice``). With a
    ``form`` the problems go onto its fields; otherwise ``BillingError`` names each."""
    from django.core.exceptions import ValidationError

    if not (business_number or carrier or donation_code):
        return  # nothing registered yet: a paid plan then asks for it
    try:
        einvoice.validate_buyer(
            business_number=business_number, name=name, carrier=carrier, donation_code=donation_code
        )
    except ValidationError as exc:
        if form is not None:
            for field_name, problems in exc.message_dict.items():
                form.add_error(field_name if field_name in form.fields else None, problems)
            return
        raise BillingError(
            _("The e-invoice details are not valid."),
            details=[m for ms in exc.message_dict.values() for m in ms],
            errors=exc.message_dict,
        ) from exc
