"""Government lists (docs/billing.md#government-plans): renewal lists, the 7-working-day deletion
window, accounts not deleted billed at normal rates, civil servants counted by ever-verified
accounts, and the add-on prices read from dated rows."""

from datetime import date
from decimal import Decimal as D

import pytest

from billing import selectors, services
from billing.exceptions import AccountSuspended, BillingError
from billing.models import (
    AddOnPrice,
    BillingCustomer,
    GovernmentAccount,
    GovernmentRenewal,
    Invoice,
    PlanChange,
)
from lbm.exceptions import NotAllowed
from lbm.workdays import add_working_days, is_working_day
from tests import factories

from .factories import customer, government_contract, send, subscription, taipei

pytestmark = pytest.mark.django_db


def lines(invoice):
    return sorted((line.kind, line.amount) for line in invoice.lines.all())


def _contract(manager, starts_on=date(2025, 7, 1), ends_on=date(2026, 6, 30), cust=None, main=None):
    main = main or factories.AccountFactory(name="熊大市政府")
    cust = cust or customer(
        name="熊大市政府", payment_method=BillingCustomer.PaymentMethod.TRANSFER
    )
    contract = government_contract(
        customer_id=cust.pk,
        plan_code="gov_a",
        main_account_id=main.pk,
        starts_on=starts_on,
        ends_on=ends_on,
        actor=manager,
    )
    return contract, main, cust


def _sub_account(manager, contract, cust, name):
    account = factories.AccountFactory(name=f"熊大市政府 {name}")
    subscription(
        plan="gov_sub",
        actor=manager,
        account=account,
        customer_obj=cust,
        contract_id=contract.pk,
        target_friends=3000,
        started_on=contract.starts_on,
    )
    return GovernmentAccount.objects.get(contract=contract, account=account)


def _civil_servant(manager, contract, cust, n, verified_at=None):
    account = factories.AccountFactory(name=f"熊大市-公務員{n}")
    subscription(
        plan="gov_civil",
        actor=manager,
        account=account,
        customer_obj=cust,
        contract_id=contract.pk,
        started_on=contract.starts_on,
    )
    listed = GovernmentAccount.objects.get(contract=contract, account=account)
    if verified_at is not None:
        services.government_account_verify(
            listed_account_id=listed.pk, verified_at=verified_at, actor=manager
        )
    return listed


# --- The deletion window ---------------------------------------------------------------------


def test_deletion_window_counts_7_working_days_back_over_a_weekend_and_dragon_boat_festival():
    # Term ends Tuesday 30 June 2026. Back: 29 Mon, (27–28 weekend), 26, 25, 24, 23, 22,
    # (20–21 weekend, Friday 19 June Dragon Boat Festival), 18 Thursday = the 7th.
    assert not is_working_day(date(2026, 6, 19))
    first, last = selectors.deletion_window(ends_on=date(2026, 6, 30))
    assert (first, last) == (date(2026, 6, 18), date(2026, 6, 30))
    assert add_working_days(first, 7) == last


def test_deletion_window_skips_constitution_day_and_weekends():
    # Term ends Wednesday 31 December 2025: 30, 29, (27–28), 26, (25 Constitution Day), 24,
    # 23, 22, (20–21) → Friday 19 December.
    assert not is_working_day(date(2025, 12, 25))
    assert selectors.deletion_window(ends_on=date(2025, 12, 31)) == (
        date(2025, 12, 19),
        date(2025, 12, 31),
    )


def test_deletion_window_of_a_term_ending_on_a_sunday():
    # Sunday 28 June 2026 is not counted; 26 Friday is the first working day back.
    first, _last = selectors.deletion_window(ends_on=date(2026, 6, 28))
    assert first == date(2026, 6, 17)


def test_deletion_windows_list_the_accounts_not_renewed_and_not_yet_deleted(
    manager, django_assert_max_num_queries
):
    contract, _main, cust = _contract(manager)
    kept = _sub_account(manager, contract, cust, "環保局")
    dropped = _sub_account(manager, contract, cust, "煙火節")
    gone = _sub_account(manager, contract, cust, "觀光局")
    services.government_renewal_submit(
        contract_id=contract.pk,
        submitted_on=date(2026, 6, 1),
        kept_account_ids=[kept.account_id],
        actor=manager,
    )
    services.government_account_mark_deleted(
        listed_account_id=gone.pk, deleted_on=date(2026, 6, 22), actor=manager
    )
    with django_assert_max_num_queries(2):
        (window,) = selectors.deletion_windows(today=date(2026, 6, 18))
    assert (window.starts_on, window.ends_on, window.status) == (
        date(2026, 6, 18),
        date(2026, 6, 30),
        "open",
    )
    assert window.renewal_submitted
    assert [row.pk for row in window.to_delete] == [dropped.pk]
    assert selectors.deletion_windows(today=date(2026, 6, 17))[0].status == "upcoming"
    assert selectors.deletion_windows(today=date(2026, 7, 1))[0].status == "closed"
    kept.refresh_from_db()
    dropped.refresh_from_db()
    assert (kept.kept_on_renewal, dropped.kept_on_renewal) == (True, False)
    assert dropped.history.first().history_user == manager


def test_without_a_renewal_list_no_listed_account_is_kept(manager):
    contract, _main, cust = _contract(manager)
    listed = _sub_account(manager, contract, cust, "環保局")
    (window,) = selectors.deletion_windows(today=date(2026, 6, 1))
    assert not window.renewal_submitted
    assert [row.pk for row in window.to_delete] == [listed.pk]


def test_renewal_list_names_only_listed_accounts_and_comes_before_the_term_ends(manager):
    contract, _main, cust = _contract(manager)
    _sub_account(manager, contract, cust, "環保局")
    stranger = factories.AccountFactory(name="熊大市政府 其他")
    with pytest.raises(BillingError, match="not listed"):
        services.government_renewal_submit(
            contract_id=contract.pk,
            actor=manager,
            submitted_on=date(2026, 6, 1),
            kept_account_ids=[stranger.pk],
        )
    with pytest.raises(BillingError, match="before the term ends"):
        services.government_renewal_submit(
            contract_id=contract.pk,
            actor=manager,
            submitted_on=date(2026, 7, 1),
            kept_account_ids=[],
        )
    assert not GovernmentRenewal.objects.exists()


def test_renewal_moves_kept_accounts_to_the_next_term_with_their_verification(manager, reviewer):
    contract, main, cust = _contract(manager)
    kept = _civil_servant(manager, contract, cust, 1, verified_at=taipei(2025, 8, 1, 10))
    _civil_servant(manager, contract, cust, 2, verified_at=taipei(2025, 8, 1, 10))
    following, _main, _cust = _contract(
        manager, starts_on=date(2026, 7, 1), ends_on=date(2027, 6, 30), cust=cust, main=main
    )
    with pytest.raises(NotAllowed, match="You do not have permission"):  # a reviewer
        services.government_renewal_submit(
            contract_id=contract.pk,
            actor=reviewer,
            submitted_on=date(2026, 6, 1),
            kept_account_ids=[],
        )
    services.government_renewal_submit(
        contract_id=contract.pk,
        submitted_on=date(2026, 6, 1),
        actor=manager,
        kept_account_ids=[kept.account_id],
        next_contract_id=following.pk,
    )
    copy = GovernmentAccount.objects.get(contract=following)
    kept.refresh_from_db()
    assert kept.first_verified_at is not None
    assert (copy.account_id, copy.first_verified_at) == (kept.account_id, kept.first_verified_at)
    assert kept.account.subscription.contract_id == following.pk
    assert selectors.civil_servants_verified(contract_id=following.pk) == 1


# --- Accounts not deleted by the term end: normal rates --------------------------------------


def test_accounts_not_deleted_by_the_term_end_are_billed_at_normal_rates(manager):
    contract, _main, cust = _contract(manager, ends_on=date(2025, 12, 31))
    kept = _sub_account(manager, contract, cust, "環保局")
    dropped = _sub_account(manager, contract, cust, "煙火節")
    deleted = _sub_account(manager, contract, cust, "觀光局")
    services.government_renewal_submit(
        contract_id=contract.pk,
        submitted_on=date(2025, 12, 1),
        kept_account_ids=[kept.account_id],
        actor=manager,
    )
    services.government_account_mark_deleted(
        listed_account_id=deleted.pk, deleted_on=date(2025, 12, 22), actor=manager
    )
    with pytest.raises(BillingError, match="until the term ends"):
        services.government_term_close(
            contract_id=contract.pk, actor=manager, today=date(2025, 12, 31)
        )
    moved = services.government_term_close(
        contract_id=contract.pk,
        actor=manager,
        plan_code="high",
        today=date(2026, 1, 2),
        reason="未於期限內刪除",
    )
    assert [s.account_id for s in moved] == [dropped.account_id]
    assert (
        services.government_term_close(
            contract_id=contract.pk, actor=manager, plan_code="high", today=date(2026, 1, 3)
        )
        == []
    )
    change = PlanChange.objects.get(
        subscription__account_id=dropped.account_id, to_plan__code="high"
    )
    assert (change.period, change.from_plan.code, change.created_by) == (
        date(2026, 1, 1),
        "gov_sub",
        manager,
    )
    assert (
        selectors.plan_in_effect(account_id=dropped.account_id, period=date(2025, 12, 1)).code
        == "gov_sub"
    )
    # January: 20 broadcasts to 350 friends. On the sub-account plan that would be 5 sends over
    # 15 at 100,000 each; now it is the High plan's fee and graduated price, plus 5% tax.
    for day in range(5, 25):
        send(dropped.account_id, 350, taipei(2026, 1, day, 10))
    services.bill_month(period=date(2026, 1, 1))
    invoice = Invoice.objects.get(customer=cust, period=date(2026, 1, 1))
    assert [(line.account_id, line.kind, line.amount) for line in invoice.lines.all()] == [
        (dropped.account_id, "monthly_fee", D("1200")),
        (dropped.account_id, "extra_messages", D("200")),
    ]
    assert (invoice.tax, invoice.total) == (D("70"), D("1470"))
    dropped.account.subscription.refresh_from_db()
    history = dropped.account.subscription.history.first()
    assert (history.history_user, history.history_change_reason) == (manager, "未於期限內刪除")


def test_by_default_accounts_leaving_go_to_light_and_can_be_suspended(manager):
    contract, _main, cust = _contract(manager, ends_on=date(2025, 12, 31))
    dropped = _sub_account(manager, contract, cust, "煙火節")
    services.government_term_close(
        contract_id=contract.pk, actor=manager, suspend=True, today=date(2026, 1, 2)
    )
    at = taipei(2026, 1, 5, 10)
    quota = selectors.quota(account_id=dropped.account_id, at=at)
    assert (quota.plan.code, quota.limit, quota.suspended) == ("light", 200, True)
    with pytest.raises(AccountSuspended, match="suspended"):
        services.quota_check(account_id=dropped.account_id, recipients=1, sent_at=at)


# --- Civil servants counted by ever-verified accounts ----------------------------------------


def test_eleven_ever_verified_civil_servants_are_billed_as_two_blocks(manager):
    contract, _main, cust = _contract(manager)
    for n in range(11):
        _civil_servant(manager, contract, cust, n, verified_at=taipei(2025, 9, 2, 10))
    _civil_servant(manager, contract, cust, 99)  # never verified: does not count
    services.bill_month(period=date(2025, 9, 1))
    invoice = cust.invoices.get(period=date(2025, 9, 1))
    (line,) = invoice.lines.filter(kind="civil_servant_blocks")
    assert (line.quantity, line.amount, line.contract_id) == (2, D("11428"), contract.pk)
    assert invoice.total == D("11999")  # 11,428 × 1.05 = 11,999.4 (plan A was billed in July)


def test_one_verified_civil_servant_is_a_block_of_ten_at_6000(manager):
    contract, _main, cust = _contract(
        manager, starts_on=date(2025, 8, 1), ends_on=date(2026, 7, 31)
    )
    services.bill_month(period=date(2025, 8, 1))  # the plan A fee in August
    _civil_servant(manager, contract, cust, 1, verified_at=taipei(2025, 9, 2, 10))
    services.bill_month(period=date(2025, 9, 1))
    invoice = cust.invoices.get(period=date(2025, 9, 1))
    assert lines(invoice) == [("civil_servant_blocks", D("5714"))]
    assert invoice.total == D("6000")


def test_a_suspended_civil_servant_still_counts(manager):
    contract, _main, cust = _contract(manager)
    listed = [
        _civil_servant(manager, contract, cust, n, verified_at=taipei(2025, 9, 2, 10))
        for n in range(11)
    ]
    leaver = listed[0].account.subscription
    services.subscription_suspend(subscription_id=leaver.pk, actor=manager, reason="離職")
    # Verification is never cleared, and repeating it changes nothing.
    again = services.government_account_verify(
        listed_account_id=listed[0].pk, verified_at=taipei(2025, 10, 1, 10), actor=manager
    )
    assert again.first_verified_at == taipei(2025, 9, 2, 10)
    assert selectors.civil_servants_verified(contract_id=contract.pk) == 11
    services.bill_month(period=date(2025, 9, 1))
    (line,) = cust.invoices.get().lines.filter(kind="civil_servant_blocks")
    assert line.quantity == 2
    with pytest.raises(AccountSuspended):
        services.quota_check(
            account_id=leaver.account_id, recipients=1, sent_at=taipei(2025, 9, 5, 10)
        )


def test_civil_servant_blocks_bill_only_the_increase_at_the_full_block_price(manager):
    contract, _main, cust = _contract(manager)
    for n in range(10):
        _civil_servant(manager, contract, cust, n, verified_at=taipei(2025, 9, 2, 10))
    services.bill_month(period=date(2025, 9, 1))
    _civil_servant(manager, contract, cust, 10, verified_at=taipei(2025, 10, 15, 10))
    services.bill_month(period=date(2025, 10, 1))
    services.bill_month(period=date(2025, 11, 1))
    blocks = {
        inv.period: [(x.quantity, x.amount) for x in inv.lines.filter(kind="civil_servant_blocks")]
        for inv in cust.invoices.all()
    }
    assert blocks[date(2025, 9, 1)] == [(1, D("5714"))]
    assert blocks[date(2025, 10, 1)] == [(1, D("5714"))]  # the 11th: a full yearly block
    assert date(2025, 11, 1) not in blocks  # nothing new, no invoice


def test_a_verification_after_the_month_ends_counts_in_the_next_month(manager):
    contract, _main, cust = _contract(manager)
    # 23:30 Taipei on 30 September is 1 October in Japan, LINE's billing month.
    _civil_servant(manager, contract, cust, 1, verified_at=taipei(2025, 9, 30, 23, 30))
    services.bill_month(period=date(2025, 9, 1))
    assert not cust.invoices.filter(period=date(2025, 9, 1)).exists()
    services.bill_month(period=date(2025, 10, 1))
    assert lines(cust.invoices.get(period=date(2025, 10, 1))) == [
        ("civil_servant_blocks", D("5714"))
    ]


def test_civil_servant_blocks_are_not_entered_by_hand(manager):
    contract, _main, _cust = _contract(manager)
    with pytest.raises(BillingError, match="ever completed verification"):
        services.government_block_add(
            contract_id=contract.pk,
            kind="civil_servants",
            accounts=25,
            purchased_on=date(2025, 9, 1),
            actor=manager,
        )


# --- Add-on prices as dated rows -------------------------------------------------------------


def test_add_on_prices_are_seeded_as_dated_rows():
    assert {(p.code, p.price, p.per) for p in AddOnPrice.objects.all()} == {
        ("premium_id", D("720"), "year"),
        ("chat_advanced", D("100"), "month"),
    }
    assert selectors.add_on_prices(period=date(2025, 3, 1)) == {
        "premium_id": D("720"),
        "chat_advanced": D("100"),
    }


def test_a_new_price_sheet_is_a_new_row_and_billing_reads_the_one_in_effect(manager):
    sub = subscription(
        plan="light", actor=manager, chat_advanced=True, premium_id_since=date(2024, 4, 10)
    )
    for code, price in (("chat_advanced", "120"), ("premium_id", "800")):
        services.record_save(
            obj=AddOnPrice(
                code=code,
                effective_from=date(2025, 4, 1),
                price=D(price),
                per="month" if code == "chat_advanced" else "year",
            ),
            actor=manager,
        )
    services.bill_month(period=date(2025, 3, 1))
    services.bill_month(period=date(2025, 4, 1))
    assert lines(sub.customer.invoices.get(period=date(2025, 3, 1))) == [
        ("chat_advanced", D("100"))
    ]
    assert lines(sub.customer.invoices.get(period=date(2025, 4, 1))) == [
        ("chat_advanced", D("120")),
        ("premium_id", D("800")),
    ]
    assert AddOnPrice.history.filter(history_user=manager).count() == 2


def test_billing_an_add_on_without_a_price_in_effect_fails_loudly(manager):
    subscription(plan="light", actor=manager, chat_advanced=True, started_on=date(2024, 1, 1))
    with pytest.raises(BillingError, match="No price"):
        services.bill_month(period=date(2024, 6, 1))
    assert not Invoice.objects.exists()


# --- Sub-accounts --------------------------------------------------------------------------------


def test_sub_account_needs_its_target_friends_and_keeps_at_most_5000(manager):
    contract, _main, cust = _contract(manager)
    with pytest.raises(BillingError, match="number of target friends"):
        subscription(
            plan="gov_sub",
            actor=manager,
            customer_obj=cust,
            contract_id=contract.pk,
            account=factories.AccountFactory(name="熊大市政府 交通局"),
        )
    listed = _sub_account(manager, contract, cust, "環保局")
    sub = listed.account.subscription
    sub.target_friends = 5001
    with pytest.raises(BillingError, match="5,000"):
        services.record_save(obj=sub, actor=manager, changed=["target_friends"])


def test_sub_account_sends_over_15_cost_100000_each(manager):
    contract, _main, cust = _contract(manager)
    listed = _sub_account(manager, contract, cust, "環保局")
    for day in range(1, 18):  # 17 broadcasts in August
        send(listed.account_id, 4000, taipei(2025, 8, day, 10))
    services.bill_month(period=date(2025, 8, 1))
    assert lines(cust.invoices.get(period=date(2025, 8, 1))) == [("government_extra", D("200000"))]


def test_sub_account_block_of_a_two_year_term_pays_both_years(manager):
    contract, _main, cust = _contract(manager, ends_on=date(2027, 6, 30))
    services.bill_month(period=date(2025, 7, 1))
    services.government_block_add(
        contract_id=contract.pk,
        kind="sub_accounts",
        accounts=10,
        purchased_on=date(2025, 9, 1),
        actor=manager,
    )
    services.bill_month(period=date(2025, 9, 1))
    (line,) = cust.invoices.get(period=date(2025, 9, 1)).lines.all()
    assert (line.quantity, line.amount, line.contract_id) == (1, D("200000"), contract.pk)
