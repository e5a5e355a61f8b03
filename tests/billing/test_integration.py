"""Concurrent month-end runs on PostgreSQL with a real Celery worker."""

import threading
import time
from datetime import date

import pytest
from django.db import connection
from django.db.models import Count

from billing import services, tasks
from billing.models import BillingRun, Invoice, InvoiceLine

from .factories import send, subscription, taipei

MARCH = date(2025, 3, 1)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_issue_exactly_one_invoice_per_customer_and_period(celery_worker):
    from tests import factories

    manager = factories.account_manager()
    subs = [subscription(plan="high", actor=manager) for _ in range(40)]
    for sub in subs:
        send(sub.account_id, 10_000, taipei(2025, 3, 3, 10))

    # Two tasks to the real worker (two threads) and a direct run here, all at once.
    tasks.bill_month.delay("2025-03")
    tasks.bill_month.delay("2025-03")
    errors = []

    def direct():
        try:
            services.bill_month(period=MARCH, triggered_by="test thread")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=direct)
    thread.start()
    thread.join(timeout=120)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if BillingRun.objects.filter(status__in=["done", "failed"]).count() >= 3:
            break
        time.sleep(0.3)
    runs = list(BillingRun.objects.values_list("status", "invoices_created"))
    assert not errors, errors
    assert len(runs) == 3 and all(status == "done" for status, _n in runs), (
        runs,
        celery_worker.log_path.read_text()[-3000:],
    )
    assert sum(n for _status, n in runs) == 40  # each invoice issued by exactly one run
    assert Invoice.objects.filter(period=MARCH).count() == 40
    assert (
        not Invoice.objects.values("customer", "period")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    # Every invoice is whole: 1,200 fee + 800 extra for 10,000 messages.
    assert InvoiceLine.objects.count() == 80
    assert set(Invoice.objects.values_list("untaxed", flat=True)) == {2000}
