from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="billing.bill_month",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def bill_month(period: str | None = None) -> dict:
    """Issue the invoices of ``period`` ("YYYY-MM"; default: the last closed LINE month).

    Idempotent: a repeated, late or concurrent run issues nothing twice. Run by beat on the 2nd
    (Japan time), it works its period out itself."""
    from . import periods, services

    month = periods.parse_period(period) if period else periods.last_closed_period()
    return services.bill_month(period=month, triggered_by="celery").as_dict()
