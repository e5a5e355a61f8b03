"""Month-end billing through ``services.bill_month``, the command and the task."""

import json
from datetime import date, datetime
from decimal import Decimal as D
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError
from django_celery_beat.models import PeriodicTask

from billing import services, tasks
from billing.exceptions import BillingError, ImmutableDocument, PeriodNotClosed
from billing.models import (
    BillingCustomer,
    BillingRun,
    CreditNote,
    GovernmentAccount,
    Invoice,
    InvoiceLine,
    PromotionCode,
    UsageRecord,
)
from lbm.exceptions import NotAllowed
from tests import factories

from .factories import customer, government_contract, send, subscription, taipei

pytestmark = pytest.mark.django_db
MARCH = date(2025, 3, 1)


def bill(period=MARCH, **kwargs):
    return services.bill_month(period=period, **kwargs)


def lines(invoice):
    return sorted((line.kind, line.amount) for line in invoice.lines.all())


def test_high_plan_with_100000_messages_is_15670_plus_tax(manager):
    sub = subscription(plan="high", actor=manager)
    send(sub.account_id, 60_000, taipei(2025, 3, 3, 10))
    send(sub.account_id, 40_000, taipei(2025, 3, 28, 10))
    result = bill()
    invoice = Invoice.objects.get(customer=sub.customer, period=MARCH)
    assert result.invoices_created == 1
    assert lines(invoice) == [("extra_messages", D("14470")), ("monthly_fee", D("1200"))]
    assert (invoice.untaxed, invoice.tax, invoice.total, invoice.rounding) == (
        D("15670"),
        D("783.5"),
        D("16454"),
        D("0.5"),
    )
    assert invoice.number == f"INV-202503-{sub.customer_id:08d}"


def test_running_twice_issues_nothing_twice(manager):
    sub = subscription(plan="medium", actor=manager)
    first = bill()
    second = bill()
    assert (first.invoices_created, second.invoices_created) == (1, 0)
    assert second.invoices_existing == 1
    assert Invoice.objects.filter(customer=sub.customer).count() == 1
    assert InvoiceLine.objects.count() == 1
    assert list(BillingRun.objects.values_list("status", flat=True)) == ["done", "done"]


def test_database_refuses_a_second_invoice_for_the_same_customer_and_period(manager):
    subscription(plan="medium", actor=manager)
    bill()
    invoice = Invoice.objects.get()
    with pytest.raises(IntegrityError):
        Invoice.objects.bulk_create(
            [
                Invoice(
                    customer=invoice.customer,
                    period=MARCH,
                    number="OTHER",
                    issued_at=invoice.issued_at,
                    untaxed=0,
                    tax=0,
                    tax_included=0,
                    rounding=0,
                    total=0,
                )
            ]
        )


def test_message_at_2330_taipei_on_31_march_is_billed_in_april(manager):
    sub = subscription(plan="high", actor=manager)
    send(sub.account_id, 7000, taipei(2025, 3, 31, 23, 30))
    bill()
    march = Invoice.objects.get(period=MARCH)
    assert lines(march) == [("monthly_fee", D("1200"))]
    bill(date(2025, 4, 1))
    april = Invoice.objects.get(period=date(2025, 4, 1))
    assert lines(april) == [("extra_messages", D("200")), ("monthly_fee", D("1200"))]


def test_light_accounts_without_charges_get_no_invoice(manager):
    sub = subscription(plan="light", actor=manager)
    send(sub.account_id, 200, taipei(2025, 3, 3, 10))
    assert bill().invoices_created == 0


def test_notification_messages_cost_0_2_per_delivered_notice(manager):
    sub = subscription(plan="light", actor=manager)
    send(sub.account_id, 1234, taipei(2025, 3, 3, 10), kind=UsageRecord.Kind.NOTIFICATION)
    bill()
    invoice = Invoice.objects.get()
    assert lines(invoice) == [("notifications", D("246.8"))]
    assert (invoice.tax, invoice.total) == (D("12.34"), D("259"))


def test_a_month_is_billed_only_24_hours_after_it_ends_japan_time(manager):
    subscription(plan="medium", actor=manager)
    japan = ZoneInfo("Asia/Tokyo")
    with pytest.raises(PeriodNotClosed, match="24 hours"):
        bill(now=datetime(2025, 4, 1, 23, 59, tzinfo=japan))
    assert not Invoice.objects.exists()
    assert bill(now=datetime(2025, 4, 2, 0, 0, tzinfo=japan)).invoices_created == 1


def test_upgrade_medium_to_high_mid_month_bills_800_plus_400_and_extra_over_6000(manager):
    sub = subscription(plan="medium", actor=manager)
    send(sub.account_id, 3000, taipei(2025, 3, 5, 10))
    services.subscription_change_plan(
        subscription_id=sub.pk, plan_code="high", actor=manager, at=taipei(2025, 3, 15, 10)
    )
    send(sub.account_id, 7000, taipei(2025, 3, 20, 10))
    bill()
    assert lines(Invoice.objects.get()) == [
        ("extra_messages", D("800")),
        ("monthly_fee", D("800")),
        ("upgrade", D("400")),
    ]


def test_upgrade_light_to_medium_bills_the_full_800_in_that_month(manager):
    sub = subscription(plan="light", actor=manager)
    services.subscription_change_plan(
        subscription_id=sub.pk, plan_code="medium", actor=manager, at=taipei(2025, 3, 30, 10)
    )
    bill()
    assert lines(Invoice.objects.get()) == [("upgrade", D("800"))]


def test_downgrade_is_billed_at_the_lower_fee_from_next_month(manager):
    sub = subscription(plan="high", actor=manager)
    services.subscription_change_plan(
        subscription_id=sub.pk, plan_code="medium", actor=manager, at=taipei(2025, 3, 10, 10)
    )
    send(sub.account_id, 3000, taipei(2025, 4, 10, 10))
    bill()
    bill(date(2025, 4, 1))
    assert lines(Invoice.objects.get(period=MARCH)) == [("monthly_fee", D("1200"))]
    assert lines(Invoice.objects.get(period=date(2025, 4, 1))) == [("monthly_fee", D("800"))]


def test_promotion_code_on_an_upgrade_appears_on_the_invoice(manager):
    sub = subscription(plan="light", actor=manager)
    services.promotion_code_create(
        code="UP", valid_from=date(2025, 1, 1), valid_until=date(2025, 12, 31), actor=manager
    )
    services.subscription_change_plan(
        subscription_id=sub.pk,
        plan_code="medium",
        actor=manager,
        at=taipei(2025, 3, 10, 10),
        promotion_code="UP",
    )
    bill()
    invoice = Invoice.objects.get()
    assert lines(invoice) == [("promotion", D("-800")), ("upgrade", D("800"))]
    assert invoice.total == 0


@pytest.mark.parametrize(
    "plan, deducted, forfeited", [("medium", "800", "400"), ("high", "1200", "0")]
)
def test_registered_promotion_code_pays_the_next_renewal(manager, plan, deducted, forfeited):
    sub = subscription(plan=plan, actor=manager)
    services.promotion_code_create(
        code="RENEW", valid_from=date(2025, 1, 1), valid_until=date(2025, 12, 31), actor=manager
    )
    services.promotion_code_register(
        code="RENEW", subscription_id=sub.pk, actor=manager, on=date(2025, 2, 20)
    )
    bill()
    invoice = Invoice.objects.get()
    assert ("promotion", -D(deducted)) in lines(invoice)
    assert invoice.untaxed == 0
    code = PromotionCode.objects.get()
    assert (code.status, code.deducted, code.forfeited) == ("redeemed", D(deducted), D(forfeited))
    bill(date(2025, 4, 1))  # used once: April is charged in full
    assert invoice.customer.invoices.get(period=date(2025, 4, 1)).untaxed > 0


def test_add_ons_chat_advanced_monthly_and_premium_id_yearly(manager):
    sub = subscription(
        plan="light", actor=manager, chat_advanced=True, premium_id_since=date(2024, 3, 15)
    )
    bill()
    bill(date(2025, 4, 1))
    assert lines(Invoice.objects.get(period=MARCH)) == [
        ("chat_advanced", D("100")),
        ("premium_id", D("720")),
    ]
    assert lines(Invoice.objects.get(period=date(2025, 4, 1))) == [("chat_advanced", D("100"))]
    assert sub.customer.invoices.count() == 2


def _gov(manager):
    main = factories.AccountFactory(name="熊大市政府")
    cust = customer(name="熊大市政府", payment_method=BillingCustomer.PaymentMethod.TRANSFER)
    contract = government_contract(
        customer_id=cust.pk,
        plan_code="gov_a",
        main_account_id=main.pk,
        starts_on=date(2025, 7, 1),
        ends_on=date(2026, 6, 30),
        actor=manager,
    )
    return contract, main, cust


def test_government_plan_a_yearly_fee_and_100000_per_send_over_18(manager):
    _contract, main, cust = _gov(manager)
    for day in range(1, 21):  # 20 broadcasts to 80,000 friends each
        send(main.pk, 80_000, taipei(2025, 7, day, 10))
    send(main.pk, 3_000_000, taipei(2025, 7, 2, 10), kind=UsageRecord.Kind.API)
    bill(date(2025, 7, 1))
    invoice = cust.invoices.get()
    assert lines(invoice) == [("government_extra", D("200000")), ("government_plan", D("300000"))]
    assert (invoice.tax, invoice.total) == (0, D("500000"))
    bill(date(2025, 8, 1))  # the yearly fee is not charged again
    assert not cust.invoices.filter(period=date(2025, 8, 1)).exists()


def test_government_contract_shorter_than_a_year_is_charged_a_full_year(manager):
    main = factories.AccountFactory(name="熊大市政府")
    cust = customer(name="熊大市政府")
    government_contract(
        customer_id=cust.pk,
        plan_code="gov_b",
        main_account_id=main.pk,
        starts_on=date(2025, 9, 1),
        ends_on=date(2025, 12, 31),
        actor=manager,
    )
    bill(date(2025, 9, 1))
    assert lines(cust.invoices.get()) == [("government_plan", D("500000"))]


def test_sub_account_blocks_11_accounts_billed_as_20(manager):
    contract, _main, cust = _gov(manager)
    services.government_block_add(
        contract_id=contract.pk,
        kind="sub_accounts",
        accounts=11,
        purchased_on=date(2025, 9, 1),
        actor=manager,
    )
    bill(date(2025, 9, 1))
    invoice = cust.invoices.get(period=date(2025, 9, 1))
    assert lines(invoice) == [("government_blocks", D("200000"))]
    assert invoice.total == D("200000")


def test_civil_servant_blocks_merge_on_the_untaxed_5714_and_round_once(manager):
    contract, _main, cust = _gov(manager)
    for n in range(25):  # 25 accounts that completed verification in September: 3 blocks
        sub = subscription(
            plan="gov_civil",
            actor=manager,
            customer_obj=cust,
            contract_id=contract.pk,
            account=factories.AccountFactory(name=f"熊大市-公務員{n}"),
        )
        listed = GovernmentAccount.objects.get(account_id=sub.account_id)
        services.government_account_verify(
            listed_account_id=listed.pk, verified_at=taipei(2025, 9, 3, 10), actor=manager
        )
    bill(date(2025, 9, 1))
    invoice = cust.invoices.get(period=date(2025, 9, 1))
    assert lines(invoice) == [("civil_servant_blocks", D("17142"))]
    assert (invoice.tax, invoice.total) == (D("857.1"), D("17999"))


def test_government_block_outside_the_term_is_refused(manager):
    contract, _main, _cust = _gov(manager)
    with pytest.raises(BillingError, match="term"):
        services.government_block_add(
            contract_id=contract.pk,
            kind="sub_accounts",
            accounts=10,
            purchased_on=date(2026, 7, 1),
            actor=manager,
        )


def test_one_invoice_per_customer_for_all_its_accounts(manager):
    cust = customer()
    subscription(plan="medium", actor=manager, customer_obj=cust)
    subscription(plan="high", actor=manager, customer_obj=cust)
    bill()
    invoice = cust.invoices.get()
    assert lines(invoice) == [("monthly_fee", D("800")), ("monthly_fee", D("1200"))]


def test_issued_invoices_are_immutable(manager):
    subscription(plan="medium", actor=manager)
    bill()
    invoice = Invoice.objects.get()
    invoice.total = 1
    with pytest.raises(ImmutableDocument):
        invoice.save()
    with pytest.raises(ImmutableDocument):
        invoice.delete()
    line = invoice.lines.get()
    line.amount = 0
    with pytest.raises(ImmutableDocument):
        line.save()
    invoice.refresh_from_db()
    assert invoice.total == D("840")


def test_corrections_are_credit_and_debit_notes(manager, reviewer):
    subscription(plan="medium", actor=manager)
    bill()
    invoice = Invoice.objects.get()
    note = services.credit_note_create(
        invoice_id=invoice.pk, kind="credit", amount=D("40"), reason="服務中斷補償", actor=manager
    )
    assert note.number == f"CN-{invoice.number[4:]}-01"
    with pytest.raises(BillingError, match="more than"):
        services.credit_note_create(
            invoice_id=invoice.pk, kind="credit", amount=D("801"), reason="x", actor=manager
        )
    with pytest.raises(BillingError, match="reason"):
        services.credit_note_create(
            invoice_id=invoice.pk, kind="debit", amount=D("5"), reason=" ", actor=manager
        )
    with pytest.raises(NotAllowed):
        services.credit_note_create(
            invoice_id=invoice.pk, kind="credit", amount=D("5"), reason="x", actor=reviewer
        )
    with pytest.raises(ImmutableDocument):
        note.delete()
    assert CreditNote.objects.count() == 1


def test_a_crash_mid_batch_leaves_no_half_invoice(manager, monkeypatch):
    subscription(plan="medium", actor=manager)
    subscription(plan="high", actor=manager)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(InvoiceLine.objects, "bulk_create", crash)
    with pytest.raises(RuntimeError):
        bill()
    assert not Invoice.objects.exists()
    assert BillingRun.objects.get().status == "failed"
    monkeypatch.undo()
    assert bill().invoices_created == 2
    assert InvoiceLine.objects.count() == 2


def test_billing_queries_do_not_grow_with_the_number_of_accounts(
    manager, django_assert_max_num_queries
):
    april = date(2025, 4, 1)
    for _ in range(3):
        sub = subscription(plan="high", actor=manager)
        send(sub.account_id, 7000, taipei(2025, 3, 3, 10))
        send(sub.account_id, 7000, taipei(2025, 4, 3, 10))
    # e-invoice numbers (count, lock, take) and the late-usage scan add a fixed five.
    with django_assert_max_num_queries(26) as few:
        bill()
    for _ in range(30):
        sub = subscription(plan="high", actor=manager)
        send(sub.account_id, 7000, taipei(2025, 4, 3, 10))
    with django_assert_max_num_queries(len(few.captured_queries)):
        bill(april)
    assert Invoice.objects.filter(period=april).count() == 33


def test_only_account_managers_run_billing(manager, reviewer):
    subscription(plan="medium", actor=manager)
    with pytest.raises(NotAllowed):
        bill(actor=reviewer)
    org = factories.organization(verified=False)  # a customer Admin (draft org)
    with pytest.raises(NotAllowed):
        bill(actor=org.memberships.get().user)
    assert not Invoice.objects.exists()
    assert bill(actor=manager).invoices_created == 1


def test_management_command_text_and_json(manager):
    subscription(plan="medium", actor=manager)
    out = StringIO()
    call_command("bill_month", "2025-03", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["period"], data["invoices_created"], data["amount_invoiced"]) == (
        "2025-03",
        1,
        "840",
    )
    out = StringIO()
    call_command("bill_month", "2025-03", stdout=out)
    assert "0 invoice(s) issued, 1 already issued" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("bill_month", "March")


def test_task_bills_the_given_or_the_last_closed_month(manager, monkeypatch):
    subscription(plan="medium", actor=manager)
    assert tasks.bill_month.delay("2025-03").get()["invoices_created"] == 1
    assert tasks.bill_month.name == "billing.bill_month"
    assert tasks.bill_month.acks_late is True
    monkeypatch.setattr("billing.periods.last_closed_period", lambda **kw: MARCH)
    assert tasks.bill_month.delay().get()["invoices_existing"] == 1


def test_beat_schedules_the_task_on_the_2nd_japan_time():
    task = PeriodicTask.objects.get(task="billing.bill_month")
    assert task.enabled
    assert (task.crontab.day_of_month, task.crontab.hour, str(task.crontab.timezone)) == (
        "2",
        "3",
        "Asia/Tokyo",
    )


def test_government_disaster_relief_sends_are_not_billed(manager):
    _contract, main, cust = _gov(manager)
    for day in range(1, 19):
        send(main.pk, 80_000, taipei(2025, 7, day, 10))
    send(main.pk, 900_000, taipei(2025, 7, 20, 10), kind=UsageRecord.Kind.DISASTER_RELIEF)
    bill(date(2025, 7, 1))
    assert lines(cust.invoices.get()) == [("government_plan", D("300000"))]


def test_json_output_lists_the_invoices_with_their_lines(manager):
    sub = subscription(plan="high", actor=manager)
    send(sub.account_id, 100_000, taipei(2025, 3, 3, 10))
    out = StringIO()
    call_command("bill_month", "2025-03", "--format", "json", stdout=out)
    (invoice,) = json.loads(out.getvalue())["invoices"]
    assert (invoice["untaxed"], invoice["total"]) == ("15670.0000", "16454")
    assert {line["kind"]: line["amount"] for line in invoice["lines"]} == {
        "monthly_fee": "1200.0000",
        "extra_messages": "14470.0000",
    }
    assert "ROUND_HALF_UP" in invoice["rounding_rule"]
