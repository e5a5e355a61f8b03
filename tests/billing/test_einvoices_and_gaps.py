"""Taiwan e-invoices (number tracks, buyer, allowances and voids, export) and the late-usage
gaps of month-end billing (docs/billing.md)."""

import csv
import io
import threading
from datetime import date
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from billing import einvoice, selectors, services
from billing.einvoice import NumbersExhausted
from billing.exceptions import BillingError, PlanChangeRefused
from billing.models import BillingRun, CreditNote, EInvoiceTrack, Invoice, PromotionCode
from lbm.exceptions import NotAllowed
from tests import factories

from .factories import customer, send, subscription, taipei

pytestmark = pytest.mark.django_db
MARCH, APRIL = date(2025, 3, 1), date(2025, 4, 1)


def bill(period=MARCH, **kwargs):
    return services.bill_month(period=period, **kwargs)


def current_bimonth():
    from django.utils import timezone

    return einvoice.bimonth_of_moment(timezone.now())


# --- Gaps ------------------------------------------------------------------------------------


def test_survey_messages_are_neither_counted_nor_billed(manager):
    sub = subscription(plan="medium", actor=manager)
    send(sub.account_id, 2_900, taipei(2025, 3, 3, 10))
    send(sub.account_id, 5_000, taipei(2025, 3, 4, 10), kind="survey")
    quota = selectors.quota(account_id=sub.account_id, at=taipei(2025, 3, 5, 10))
    assert quota.used == 2_900
    services.quota_check(
        account_id=sub.account_id, recipients=100, sent_at=taipei(2025, 3, 5, 10)
    )  # 3,000 free: still room for 100
    bill()
    assert Invoice.objects.get().untaxed == D("800")


def test_tax_is_exact_to_six_decimals_and_only_the_total_is_rounded(manager):
    sub = subscription(plan="high", actor=manager)
    send(sub.account_id, 185_001, taipei(2025, 3, 3, 10))  # the last message at 0.1045
    bill()
    invoice = Invoice.objects.get()
    invoice.refresh_from_db()
    assert invoice.untaxed == D("26010.1045")
    assert invoice.tax == D("1300.505225")
    assert invoice.total == D("27311")
    assert invoice.rounding == D("0.390275")
    assert invoice.untaxed + invoice.tax + invoice.rounding == invoice.total


def test_a_code_valid_from_mid_month_and_registered_then_pays_that_months_renewal(manager):
    sub = subscription(plan="high", actor=manager)
    services.promotion_code_create(
        code="MID", valid_from=date(2025, 3, 15), valid_until=date(2025, 3, 31), actor=manager
    )
    services.promotion_code_register(
        code="MID", subscription_id=sub.pk, actor=manager, on=date(2025, 3, 15)
    )
    bill()
    assert Invoice.objects.get().untaxed == 0
    assert PromotionCode.objects.get().status == "redeemed"


def test_a_code_expired_before_the_charge_day_is_not_applied(manager):
    sub = subscription(plan="medium", actor=manager)
    services.promotion_code_create(
        code="EARLY", valid_from=date(2025, 3, 1), valid_until=date(2025, 3, 10), actor=manager
    )
    services.promotion_code_register(
        code="EARLY", subscription_id=sub.pk, actor=manager, on=date(2025, 3, 5)
    )
    bill()
    assert Invoice.objects.get().untaxed == D("800")
    assert PromotionCode.objects.get().status == "registered"


def test_usage_recorded_after_its_month_was_invoiced_is_billed_on_a_debit_note(manager):
    sub = subscription(plan="high", actor=manager)
    send(sub.account_id, 6_000, taipei(2025, 3, 3, 10))
    bill()
    march = Invoice.objects.get(period=MARCH)
    assert march.untaxed == D("1200")
    # Late: sent in March, recorded after the March invoice.
    send(sub.account_id, 1_000, taipei(2025, 3, 30, 10))
    send(sub.account_id, 50, taipei(2025, 3, 30, 11), kind="notification")
    bill(APRIL)
    note = CreditNote.objects.get(invoice=march)
    # 1,000 × 0.2 + 50 × 0.2 = 210 untaxed, 220.5 with tax, rounded once → 221.
    assert (note.kind, note.amount) == ("debit", D("221"))
    assert note.number == f"DN-{march.number[4:]}-01"
    bill(APRIL)  # nothing billed twice
    assert CreditNote.objects.filter(invoice=march).count() == 1
    # More late usage, priced on the month's whole count (still the 0.2 tier).
    send(sub.account_id, 500, taipei(2025, 3, 31, 10))
    services.late_usage_bill(before=APRIL)
    assert list(
        CreditNote.objects.filter(invoice=march).order_by("number").values_list("amount", flat=True)
    ) == [D("221"), D("105")]


def test_late_usage_inside_the_free_quota_adds_no_note(manager):
    sub = subscription(plan="high", actor=manager)
    send(sub.account_id, 1_000, taipei(2025, 3, 3, 10))
    bill()
    send(sub.account_id, 1_000, taipei(2025, 3, 30, 10))
    bill(APRIL)
    assert not CreditNote.objects.exists()


def test_late_usage_of_several_accounts_is_one_note_priced_per_account(manager):
    """One customer, three accounts: each account's late usage is priced on its own month
    (A's 1,000 extra on top of its 6,000; B's notices; C nothing late), one note, rounded once."""
    owner = customer()
    a, b, c = (subscription(plan="high", actor=manager, customer_obj=owner) for _ in range(3))
    send(a.account_id, 6_000, taipei(2025, 3, 3, 10))
    send(b.account_id, 500, taipei(2025, 3, 3, 10))
    send(c.account_id, 100, taipei(2025, 3, 3, 10))
    bill()
    send(a.account_id, 1_000, taipei(2025, 3, 30, 10))
    send(b.account_id, 50, taipei(2025, 3, 30, 11), kind="notification")
    bill(APRIL)
    march = Invoice.objects.get(customer=owner, period=MARCH)
    # A: 1,000 × 0.2 = 200; B: 50 × 0.2 = 10 (its 500 stay inside its own free quota); 210
    # untaxed, 220.5 with tax, rounded once → 221.
    assert list(CreditNote.objects.filter(invoice=march).values_list("kind", "amount")) == [
        ("debit", D("221"))
    ]


def test_late_usage_reads_do_not_grow_with_the_accounts(manager):
    from django.test.utils import CaptureQueriesContext

    from billing.services import corrections

    def late_customer(accounts: int):
        owner = customer()
        subs = [
            subscription(plan="high", actor=manager, customer_obj=owner) for _ in range(accounts)
        ]
        for sub in subs:
            send(sub.account_id, 6_000, taipei(2025, 3, 3, 10))
        return owner, subs

    small, small_subs = late_customer(1)
    large, large_subs = late_customer(4)
    bill()
    for sub in small_subs + large_subs:
        send(sub.account_id, 1_000, taipei(2025, 3, 30, 10))
    tiers = selectors.tier_tables(period=MARCH)
    counts = []
    for owner in (small, large):
        with CaptureQueriesContext(connection) as queries:
            note = corrections._late_usage_note(customer_id=owner.pk, period=MARCH, tiers=tiers)
        counts.append(len(queries))
        assert note is not None
    assert counts[0] == counts[1], counts
    # 4 × 1,000 × 0.2 = 800 untaxed, 840 with tax.
    assert note.amount == D("840")


def test_a_plan_change_dated_in_an_invoiced_month_is_refused(manager):
    sub = subscription(plan="medium", actor=manager)
    bill()
    with pytest.raises(PlanChangeRefused, match="2025-03 is already invoiced"):
        services.subscription_change_plan(
            subscription_id=sub.pk, plan_code="high", actor=manager, at=taipei(2025, 3, 20, 10)
        )
    sub.refresh_from_db()
    assert sub.plan.code == "medium"


# --- Number tracks ---------------------------------------------------------------------------


def test_tracks_number_invoices_in_order_and_exhaustion_stops_before_issuing(
    manager, no_einvoice_numbers
):
    bimonth = current_bimonth()
    subs = [subscription(plan="medium", actor=manager) for _ in range(3)]
    subscription(plan="light", actor=manager)  # nothing to charge: no invoice, no number
    services.einvoice_track_create(
        period=bimonth, prefix="ab", first_number=1, last_number=2, actor=manager
    )
    with pytest.raises(NumbersExhausted, match="3 invoices to issue, 2 numbers left"):
        bill()
    assert not Invoice.objects.exists()
    assert EInvoiceTrack.objects.get().next_number == 1
    assert BillingRun.objects.get().status == "failed"
    services.einvoice_track_create(
        period=bimonth, prefix="AC", first_number=5_000, last_number=5_009, actor=manager
    )
    bill()
    numbers = list(
        Invoice.objects.filter(customer__subscriptions__in=subs)
        .order_by("customer_id")
        .values_list("einvoice_number", flat=True)
    )
    assert numbers == ["AB00000001", "AB00000002", "AC00005000"]
    assert list(EInvoiceTrack.objects.order_by("prefix").values_list("next_number", flat=True)) == [
        3,
        5_001,
    ]


def test_a_zero_total_invoice_takes_no_number(manager):
    sub = subscription(plan="light", actor=manager)
    services.promotion_code_create(
        code="FREE", valid_from=date(2025, 1, 1), valid_until=date(2025, 12, 31), actor=manager
    )
    services.subscription_change_plan(
        subscription_id=sub.pk,
        plan_code="medium",
        actor=manager,
        at=taipei(2025, 3, 10, 10),
        promotion_code="FREE",
    )
    bill()
    invoice = Invoice.objects.get()
    assert (invoice.total, invoice.einvoice_number) == (0, None)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(prefix="A1"), "two letters"),
        (dict(period=date(2025, 2, 1)), "two-month period starts"),
        (dict(first_number=10, last_number=9), "eight digits"),
        (dict(last_number=100_000_000), "eight digits"),
        (dict(first_number=50, last_number=60), "overlaps"),
    ],
)
def test_a_bad_number_track_is_refused(manager, fields, message):
    services.einvoice_track_create(
        period=MARCH, prefix="QQ", first_number=1, last_number=99, actor=manager
    )
    args = dict(period=MARCH, prefix="QQ", first_number=100, last_number=199)
    args.update(fields)
    with pytest.raises(BillingError, match=message):
        services.einvoice_track_create(actor=manager, **args)


def test_only_account_managers_enter_number_tracks(reviewer):
    with pytest.raises(NotAllowed):
        services.einvoice_track_create(
            period=MARCH, prefix="QQ", first_number=1, last_number=9, actor=reviewer
        )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_take_numbers_without_gaps_or_repeats(monkeypatch):
    """Two month-end runs (February and March) at once on PostgreSQL, in small batches that
    interleave: every number of the track is used once, in order, none skipped."""
    assert connection.vendor == "postgresql"
    monkeypatch.setattr(services.invoicing, "INVOICE_BATCH", 3)  # the module that uses it
    manager = factories.account_manager()
    EInvoiceTrack.objects.all().delete()
    services.einvoice_track_create(
        period=current_bimonth(), prefix="CC", first_number=1, last_number=1_000, actor=manager
    )
    for _ in range(15):
        subscription(plan="medium", actor=manager, started_on=date(2025, 2, 1))
    errors = []
    barrier = threading.Barrier(2)

    def run(period):
        try:
            barrier.wait()
            services.bill_month(period=period, triggered_by="thread")
        except Exception as exc:  # pragma: no cover - reported below  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(p,)) for p in (date(2025, 2, 1), MARCH)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    numbers = sorted(Invoice.objects.values_list("einvoice_number", flat=True))
    assert numbers == [f"CC{n:08d}" for n in range(1, 31)]
    assert EInvoiceTrack.objects.get().next_number == 31
    # Within each run the numbers follow the issue order.
    for period in (date(2025, 2, 1), MARCH):
        mine = list(
            Invoice.objects.filter(period=period)
            .order_by("customer_id")
            .values_list("einvoice_number", flat=True)
        )
        assert mine == sorted(mine)


# --- Buyer -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        dict(business_number="04595257", name="熊大股份有限公司"),
        dict(carrier="/ABC+1.-", name="王小明"),
        dict(donation_code="919", name="王小明"),
        dict(donation_code="1234567", name="王小明"),
    ],
)
def test_valid_buyers(fields):
    einvoice.validate_buyer(**fields)


@pytest.mark.parametrize(
    "fields, field",
    [
        (dict(business_number="04595258", name="熊大"), "business_number"),
        (dict(business_number="04595257", name=""), "invoice_title"),
        (dict(business_number="04595257", name="熊大", carrier="/ABC1234"), "invoice_carrier"),
        (dict(carrier="ABC12345", name="王"), "invoice_carrier"),
        (dict(carrier="/abc1234", name="王"), "invoice_carrier"),
        (dict(carrier="/ABC123", name="王"), "invoice_carrier"),
        (dict(donation_code="12", name="王"), "donation_code"),
        (dict(donation_code="12345678", name="王"), "donation_code"),
        (dict(carrier="/ABC1234", donation_code="919", name="王"), "donation_code"),
        (dict(name="王"), "invoice_carrier"),
    ],
)
def test_invalid_buyers_name_the_field(fields, field):
    with pytest.raises(ValidationError) as error:
        einvoice.validate_buyer(**fields)
    assert field in error.value.message_dict


def test_a_customer_saved_with_a_bad_carrier_is_refused(manager):
    from billing.models import BillingCustomer

    obj = BillingCustomer(name="王小明", invoice_title="王小明", invoice_carrier="/12")
    with pytest.raises(BillingError, match="mobile barcode"):
        services.record_save(obj=obj, actor=manager)
    assert not BillingCustomer.objects.filter(name="王小明").exists()


def test_the_invoice_keeps_the_buyer_as_issued(manager):
    person = customer(business_number="", invoice_title="王小明", invoice_carrier="/ABC1234")
    subscription(plan="medium", actor=manager, customer_obj=person)
    bill()
    invoice = Invoice.objects.get()
    assert (invoice.buyer_id, invoice.buyer_name, invoice.carrier) == (
        "0000000000",
        "王小明",
        "/ABC1234",
    )


# --- Allowances, voids and the export ---------------------------------------------------------


def test_allowance_void_and_export(manager):
    company = customer(business_number="04595257", invoice_title="熊大股份有限公司")
    subscription(plan="medium", actor=manager, customer_obj=company)
    donor = customer(business_number="", invoice_title="王小明", donation_code="919")
    subscription(plan="high", actor=manager, customer_obj=donor)
    bill()
    first, second = Invoice.objects.order_by("einvoice_number")
    allowance = services.credit_note_create(
        invoice_id=first.pk, kind="credit", amount=D("100"), reason="服務中斷補償", actor=manager
    )
    assert allowance.einvoice_action == "allowance"
    with pytest.raises(BillingError, match="void cancels the whole e-invoice"):
        services.credit_note_create(
            invoice_id=second.pk,
            kind="credit",
            amount=D("5"),
            reason="作廢",
            einvoice_action="void",
            actor=manager,
        )
    void = services.credit_note_create(
        invoice_id=second.pk,
        kind="credit",
        amount=second.total,
        reason="開立錯誤",
        einvoice_action="void",
        actor=manager,
    )
    with pytest.raises(BillingError, match="void"):
        services.credit_note_create(
            invoice_id=second.pk,
            kind="debit",
            amount=D("1"),
            reason="x",
            einvoice_action="void",
            actor=manager,
        )
    rows = list(
        csv.DictReader(
            io.StringIO(einvoice.export_csv(bimonth=current_bimonth(), seller_id="24549210"))
        )
    )
    assert [(r["message"], r["number"], r["related_number"]) for r in rows] == [
        ("C0401", first.einvoice_number, ""),
        ("C0401", second.einvoice_number, ""),
        ("D0401", allowance.number, first.einvoice_number),
        ("C0501", second.einvoice_number, second.einvoice_number),
    ]
    company_row, donor_row = rows[0], rows[1]
    assert company_row["buyer_id"] == "04595257" and company_row["total_amount"] == "840"
    assert (company_row["sales_amount"], company_row["tax_amount"]) == ("800", "40")
    assert (donor_row["buyer_id"], donor_row["donate"], donor_row["donation_code"]) == (
        "0000000000",
        "1",
        "919",
    )
    assert rows[2]["total_amount"] == "100" and rows[3]["reason"] == "開立錯誤"
    assert {r["seller_id"] for r in rows} == {"24549210"}
    assert void.einvoice_action == "void"
