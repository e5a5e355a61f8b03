from datetime import date

import pytest

from tests import factories


@pytest.fixture
def manager(db):
    """A LINE account manager (holds the billing permissions)."""
    return factories.account_manager()


@pytest.fixture
def reviewer(db):
    return factories.reviewer()


@pytest.fixture(autouse=True)
def einvoice_numbers(request):
    """Number tracks (字軌) for every two-month period the tests issue invoices in, as staff
    enter them before billing. Tests of exhaustion ask for ``no_einvoice_numbers``."""
    if "no_einvoice_numbers" in request.fixturenames:
        return
    if not (
        {"db", "transactional_db"} & set(request.fixturenames)
        or request.node.get_closest_marker("django_db")
    ):
        return
    request.getfixturevalue(
        "db" if "transactional_db" not in request.fixturenames else "transactional_db"
    )
    from billing.models import EInvoiceTrack

    EInvoiceTrack.objects.bulk_create(
        EInvoiceTrack(
            period=date(year, month, 1),
            prefix="ZZ",
            first_number=90_000_000,
            last_number=90_999_999,
            next_number=90_000_000,
        )
        for year in range(2024, 2029)
        for month in range(1, 13, 2)
    )


@pytest.fixture
def no_einvoice_numbers():
    """Start without any number track."""
