"""Usage ledger, quota checks and plan changes, through the services."""

from datetime import date
from decimal import Decimal as D

import pytest

from billing import selectors, services
from billing.exceptions import BillingError, PlanChangeRefused, PromotionCodeRefused, QuotaExceeded
from billing.models import BillingCustomer, PlanChange, PromotionCode, UsageRecord
from lbm.exceptions import NotAllowed
from tests import factories

from .factories import customer, government_contract, send, subscription, taipei

pytestmark = pytest.mark.django_db


def test_usage_row_stores_utc_time_and_the_japan_day_and_month(manager):
    sub = subscription(plan="high", actor=manager)
    row = send(sub.account_id, 10, taipei(2025, 1, 31, 23, 30))
    row.refresh_from_db()
    assert (row.line_day, row.period) == (date(2025, 2, 1), date(2025, 2, 1))
    assert row.sent_at.astimezone(taipei(2025, 1, 1).tzinfo).date() == date(2025, 1, 31)
    assert selectors.month_usage(account_id=sub.account_id, period=date(2025, 2, 1)).messages == 10
    assert selectors.month_usage(account_id=sub.account_id, period=date(2025, 1, 1)).messages == 0
    daily = dict(selectors.daily_usage(account_id=sub.account_id, period=date(2025, 2, 1)))
    assert daily[date(2025, 2, 1)] == 10 and len(daily) == 28


def test_usage_record_with_the_same_source_counts_once(manager):
    sub = subscription(plan="high", actor=manager)
    first = send(sub.account_id, 5, taipei(2025, 3, 1, 12), dedupe_key="req-1")
    again = send(sub.account_id, 5, taipei(2025, 3, 1, 12), dedupe_key="req-1")
    assert first.pk == again.pk
    assert UsageRecord.objects.filter(account_id=sub.account_id).count() == 1


def test_usage_record_refuses_accounts_without_a_plan_and_bad_kinds(manager):
    account = factories.AccountFactory()
    with pytest.raises(BillingError, match="no plan"):
        send(account.pk, 1, taipei(2025, 3, 1, 12))
    sub = subscription(plan="high", actor=manager)
    with pytest.raises(BillingError, match="Unknown kind"):
        send(sub.account_id, 1, taipei(2025, 3, 1, 12), kind="sms")


@pytest.mark.parametrize("plan, quota", [("light", 200), ("medium", 3000)])
def test_plans_without_extra_messages_stop_at_their_free_quota(manager, plan, quota):
    sub = subscription(plan=plan, actor=manager)
    at = taipei(2025, 3, 5, 10)
    services.quota_check(account_id=sub.account_id, recipients=quota, sent_at=at)
    send(sub.account_id, quota - 1, at)
    services.quota_check(account_id=sub.account_id, recipients=1, sent_at=at)
    with pytest.raises(QuotaExceeded) as exc:
        services.quota_check(account_id=sub.account_id, recipients=2, sent_at=at)
    assert str(exc.value) == (
        f"This send of 2 messages exceeds the monthly limit of {quota:,} "
        f"messages: {quota - 1:,} have been used this month, so 1 are left."
    )
    assert selectors.message_quota(account_id=sub.account_id, at=at) == {
        "type": "limited",
        "value": quota,
    }
    assert selectors.message_consumption(account_id=sub.account_id, at=at) == {
        "totalUsage": quota - 1
    }
    # Next Japan month the quota is whole again (23:00 Taipei on 31 March is April).
    services.quota_check(
        account_id=sub.account_id, recipients=quota, sent_at=taipei(2025, 3, 31, 23, 0)
    )


def test_high_plan_has_no_limit_unless_the_sender_sets_one(manager):
    sub = subscription(plan="high", actor=manager)
    at = taipei(2025, 3, 5, 10)
    send(sub.account_id, 100_000, at)
    services.quota_check(account_id=sub.account_id, recipients=50_000, sent_at=at)
    assert selectors.message_quota(account_id=sub.account_id, at=at) == {"type": "none"}
    assert selectors.message_consumption(account_id=sub.account_id, at=at) == {
        "totalUsage": 100_000
    }
    sub.monthly_limit = 120_000
    services.record_save(obj=sub, actor=manager, changed=["monthly_limit"])
    with pytest.raises(QuotaExceeded):
        services.quota_check(account_id=sub.account_id, recipients=20_001, sent_at=at)
    assert selectors.message_quota(account_id=sub.account_id, at=at) == {
        "type": "limited",
        "value": 120_000,
    }


def test_notification_messages_are_recorded_but_not_counted_against_the_quota(manager):
    sub = subscription(plan="light", actor=manager)
    at = taipei(2025, 3, 5, 10)
    send(sub.account_id, 5000, at, kind=UsageRecord.Kind.NOTIFICATION)
    services.quota_check(account_id=sub.account_id, recipients=200, sent_at=at)
    services.quota_check(
        account_id=sub.account_id, recipients=9999, sent_at=at, kind=UsageRecord.Kind.NOTIFICATION
    )
    usage = selectors.month_usage(account_id=sub.account_id, period=date(2025, 3, 1))
    assert (usage.messages, usage.notifications) == (0, 5000)


def test_upgrade_light_to_medium_takes_effect_at_once_with_full_quota_and_fee(manager):
    sub = subscription(plan="light", actor=manager)
    at = taipei(2025, 3, 20, 10)
    send(sub.account_id, 200, at)
    change = services.subscription_change_plan(
        subscription_id=sub.pk, plan_code="medium", actor=manager, at=at, reason="客戶要求"
    )
    assert (change.kind, change.charge, change.period) == ("upgrade", D("800"), date(2025, 3, 1))
    assert selectors.message_quota(account_id=sub.account_id, at=at) == {
        "type": "limited",
        "value": 3000,
    }
    services.quota_check(account_id=sub.account_id, recipients=2800, sent_at=at)
    sub.refresh_from_db()
    assert sub.plan.code == "medium"
    history = sub.history.first()
    assert (history.history_user, history.history_change_reason) == (manager, "客戶要求")


def test_upgrade_medium_to_high_costs_400_and_tops_the_quota_up_to_6000(manager):
    sub = subscription(plan="medium", actor=manager)
    at = taipei(2025, 3, 20, 10)
    change = services.subscription_change_plan(
        subscription_id=sub.pk, plan_code="high", actor=manager, at=at
    )
    assert change.charge == D("400")
    assert selectors.quota(account_id=sub.account_id, at=at).plan.free_messages == 6000


def test_downgrade_takes_effect_on_the_first_of_next_month(manager):
    sub = subscription(plan="high", actor=manager)
    at = taipei(2025, 3, 20, 10)
    change = services.subscription_change_plan(
        subscription_id=sub.pk, plan_code="light", actor=manager, at=at
    )
    assert (change.kind, change.period, change.charge) == ("downgrade", date(2025, 4, 1), 0)
    assert (
        selectors.plan_in_effect(account_id=sub.account_id, period=date(2025, 3, 1)).code == "high"
    )
    assert (
        selectors.plan_in_effect(account_id=sub.account_id, period=date(2025, 4, 1)).code == "light"
    )
    sub.refresh_from_db()
    assert (sub.plan.code, sub.scheduled_plan.code, sub.scheduled_from) == (
        "high",
        "light",
        date(2025, 4, 1),
    )
    # Repeating it changes nothing; keeping High cancels it.
    assert (
        services.subscription_change_plan(
            subscription_id=sub.pk, plan_code="light", actor=manager, at=at
        ).pk
        == change.pk
    )
    assert (
        services.subscription_change_plan(
            subscription_id=sub.pk, plan_code="high", actor=manager, at=at
        )
        is None
    )
    assert not PlanChange.objects.filter(kind="downgrade").exists()


def test_scheduled_downgrade_is_applied_on_the_next_change(manager):
    sub = subscription(plan="high", actor=manager)
    services.subscription_change_plan(
        subscription_id=sub.pk, plan_code="medium", actor=manager, at=taipei(2025, 3, 20, 10)
    )
    change = services.subscription_change_plan(
        subscription_id=sub.pk, plan_code="high", actor=manager, at=taipei(2025, 4, 3, 10)
    )
    assert (change.kind, change.from_plan.code, change.charge) == ("upgrade", "medium", D("400"))


def test_changing_to_the_same_plan_is_a_no_op(manager):
    sub = subscription(plan="medium", actor=manager)
    assert (
        services.subscription_change_plan(subscription_id=sub.pk, plan_code="medium", actor=manager)
        is None
    )
    assert PlanChange.objects.filter(subscription=sub).count() == 1


def test_reviewer_and_customer_cannot_change_plans(manager, reviewer):
    sub = subscription(plan="light", actor=manager)
    org = factories.organization(verified=False)  # a customer Admin (draft org)
    customer_admin = org.memberships.get().user
    for actor in (reviewer, customer_admin):
        with pytest.raises(NotAllowed):
            services.subscription_change_plan(subscription_id=sub.pk, plan_code="high", actor=actor)
        with pytest.raises(NotAllowed):
            subscription(plan="light", actor=actor)
    assert PlanChange.objects.filter(subscription=sub).count() == 1


def _code(manager, code="LINE1200", **kwargs):
    return services.promotion_code_create(
        code=code,
        valid_from=date(2025, 1, 1),
        valid_until=date(2025, 12, 31),
        actor=manager,
        **kwargs,
    )


@pytest.mark.parametrize(
    "start, target, deducted, forfeited",
    [
        ("light", "medium", "800", "400"),
        ("light", "high", "1200", "0"),
        ("medium", "high", "400", "800"),
    ],
)
def test_promotion_code_pays_for_an_upgrade(manager, start, target, deducted, forfeited):
    sub = subscription(plan=start, actor=manager)
    _code(manager)
    change = services.subscription_change_plan(
        subscription_id=sub.pk,
        plan_code=target,
        actor=manager,
        at=taipei(2025, 3, 20, 10),
        promotion_code="line1200",
    )
    code = PromotionCode.objects.get()
    assert (change.deducted, code.deducted, code.forfeited, code.status) == (
        D(deducted),
        D(deducted),
        D(forfeited),
        "redeemed",
    )


def test_promotion_code_is_one_use_only(manager):
    _code(manager)
    first = subscription(plan="light", actor=manager)
    second = subscription(plan="light", actor=manager)
    at = taipei(2025, 3, 20, 10)
    services.subscription_change_plan(
        subscription_id=first.pk, plan_code="high", actor=manager, at=at, promotion_code="LINE1200"
    )
    with pytest.raises(PromotionCodeRefused, match="already been used"):
        services.subscription_change_plan(
            subscription_id=second.pk,
            plan_code="high",
            actor=manager,
            at=at,
            promotion_code="LINE1200",
        )
    # The refused upgrade did not happen either.
    assert (
        selectors.plan_in_effect(account_id=second.account_id, period=date(2025, 3, 1)).code
        == "light"
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"payment_method": BillingCustomer.PaymentMethod.TRANSFER}, "credit card or LINE Pay"),
        ({"invoice_title": ""}, "e-invoice"),
        ({"country": "JP"}, "Taiwan"),
    ],
)
def test_promotion_code_needs_taiwan_card_or_line_pay_and_invoice_info(manager, fields, message):
    sub = subscription(plan="light", actor=manager, customer_obj=customer(**fields))
    _code(manager)
    with pytest.raises(BillingError, match=message):  # the purchase or the code is refused
        services.subscription_change_plan(
            subscription_id=sub.pk,
            plan_code="high",
            actor=manager,
            at=taipei(2025, 3, 20, 10),
            promotion_code="LINE1200",
        )


def test_promotion_code_outside_its_validity_or_on_a_downgrade_is_refused(manager):
    sub = subscription(plan="high", actor=manager)
    _code(manager)
    with pytest.raises(PromotionCodeRefused):
        services.subscription_change_plan(
            subscription_id=sub.pk,
            plan_code="medium",
            actor=manager,
            at=taipei(2025, 3, 20, 10),
            promotion_code="LINE1200",
        )
    light = subscription(plan="light", actor=manager)
    with pytest.raises(PromotionCodeRefused, match="not valid"):
        services.subscription_change_plan(
            subscription_id=light.pk,
            plan_code="high",
            actor=manager,
            at=taipei(2026, 1, 5, 10),
            promotion_code="LINE1200",
        )


def test_promotion_code_registration_needs_medium_or_high(manager):
    _code(manager)
    light = subscription(plan="light", actor=manager)
    with pytest.raises(PromotionCodeRefused):
        services.promotion_code_register(
            code="LINE1200", subscription_id=light.pk, actor=manager, on=date(2025, 3, 1)
        )
    medium = subscription(plan="medium", actor=manager)
    code = services.promotion_code_register(
        code="LINE1200", subscription_id=medium.pk, actor=manager, on=date(2025, 3, 1)
    )
    assert (code.status, code.subscription_id) == ("registered", medium.pk)


def _government(manager, plan="gov_a", starts_on=date(2025, 7, 1), ends_on=date(2026, 6, 30)):
    main = factories.AccountFactory(name="熊大市政府")
    cust = customer(name="熊大市政府", payment_method=BillingCustomer.PaymentMethod.TRANSFER)
    contract = government_contract(
        customer_id=cust.pk,
        plan_code=plan,
        main_account_id=main.pk,
        starts_on=starts_on,
        ends_on=ends_on,
        actor=manager,
    )
    return contract, main, cust


def test_government_quota_counts_sends_not_recipients(manager):
    contract, main, _cust = _government(manager)
    at = taipei(2025, 8, 5, 10)
    for _ in range(18):
        services.quota_check(account_id=main.pk, recipients=50_000, sent_at=at)
        send(main.pk, 50_000, at)
    assert selectors.message_consumption(account_id=main.pk, at=at) == {"totalUsage": 18}
    # Over the quota is allowed (charged 100,000 each); Messaging API messages are unlimited.
    services.quota_check(account_id=main.pk, recipients=1, sent_at=at)
    send(main.pk, 1_000_000, at, kind=UsageRecord.Kind.API)
    assert selectors.message_consumption(account_id=main.pk, at=at) == {"totalUsage": 18}


def test_government_plan_cannot_change_during_its_term(manager):
    _contract, main, _cust = _government(manager)
    with pytest.raises(PlanChangeRefused, match="government plan"):
        services.subscription_change_plan(
            subscription_id=main.subscription.pk,
            plan_code="high",
            actor=manager,
            at=taipei(2025, 8, 5, 10),
        )


def test_government_contract_must_start_within_the_plans_window(manager):
    with pytest.raises(BillingError, match="contracts starting"):
        _government(manager, starts_on=date(2025, 6, 30), ends_on=date(2026, 6, 29))
    with pytest.raises(BillingError, match="contracts starting"):
        _government(manager, starts_on=date(2027, 1, 1), ends_on=date(2027, 12, 31))


def test_sub_account_name_starts_with_the_main_accounts_name(manager):
    contract, _main, cust = _government(manager)
    wrong = factories.AccountFactory(name="環保局")
    with pytest.raises(BillingError, match="must start with"):
        subscription(
            plan="gov_sub",
            actor=manager,
            account=wrong,
            customer_obj=cust,
            contract_id=contract.pk,
            target_friends=1200,
        )
    right = factories.AccountFactory(name="熊大市政府 環保局")
    sub = subscription(
        plan="gov_sub",
        actor=manager,
        account=right,
        customer_obj=cust,
        contract_id=contract.pk,
        target_friends=1200,
    )
    at = taipei(2025, 8, 5, 10)
    assert selectors.message_quota(account_id=right.pk, at=at) == {"type": "none"}
    assert sub.plan.free_messages == 15


def test_civil_servant_accounts_have_the_medium_quota_per_recipient_and_no_extra(manager):
    contract, _main, cust = _government(manager)
    account = factories.AccountFactory(name="熊大市-王小明課長")
    subscription(
        plan="gov_civil", actor=manager, account=account, customer_obj=cust, contract_id=contract.pk
    )
    at = taipei(2025, 8, 5, 10)
    services.quota_check(account_id=account.pk, recipients=3000, sent_at=at)
    with pytest.raises(QuotaExceeded):
        services.quota_check(account_id=account.pk, recipients=3001, sent_at=at)


def test_quota_check_is_a_few_indexed_queries(manager, django_assert_max_num_queries):
    sub = subscription(plan="medium", actor=manager)
    send(sub.account_id, 10, taipei(2025, 3, 5, 10))
    with django_assert_max_num_queries(3):
        services.quota_check(
            account_id=sub.account_id, recipients=5, sent_at=taipei(2025, 3, 5, 11)
        )


def test_government_contract_moves_an_existing_oa_onto_the_plan(manager):
    main = factories.AccountFactory(name="熊大市政府")
    sub = subscription(plan="high", actor=manager, account=main)
    services.subscription_change_plan(
        subscription_id=sub.pk, plan_code="light", actor=manager, at=taipei(2025, 6, 20, 10)
    )
    cust = customer(name="熊大市政府")
    government_contract(
        customer_id=cust.pk,
        plan_code="gov_b",
        main_account_id=main.pk,
        starts_on=date(2025, 7, 1),
        ends_on=date(2026, 6, 30),
        actor=manager,
    )
    sub.refresh_from_db()
    assert (sub.plan.code, sub.customer_id, sub.scheduled_plan) == ("gov_b", cust.pk, None)
    assert selectors.plan_in_effect(account_id=main.pk, period=date(2025, 6, 1)).code == "high"
    assert selectors.plan_in_effect(account_id=main.pk, period=date(2025, 7, 1)).code == "gov_b"
    assert selectors.message_quota(account_id=main.pk, at=taipei(2025, 7, 2, 10)) == {
        "type": "none"
    }


def test_buying_a_paid_plan_needs_card_or_line_pay_and_e_invoice_details(manager):
    unregistered = customer(payment_method=BillingCustomer.PaymentMethod.NONE, invoice_title="")
    with pytest.raises(PlanChangeRefused) as exc:
        subscription(plan="medium", actor=manager, customer_obj=unregistered)
    assert "credit card or LINE Pay" in str(exc.value) and "e-invoice" in str(exc.value)
    sub = subscription(plan="light", actor=manager, customer_obj=unregistered)  # free: fine
    with pytest.raises(PlanChangeRefused, match="cannot be bought"):
        services.subscription_change_plan(
            subscription_id=sub.pk, plan_code="high", actor=manager, at=taipei(2025, 3, 20, 10)
        )
    # A carrier or a donation code completes the e-invoice details as a business number does.
    for fields in (
        {"invoice_carrier": "/ABC+123"},
        {"donation_code": "8585"},
        {"business_number": "12345675"},
    ):
        assert customer(**{"business_number": "", **fields}).has_invoice_info
    assert not customer(business_number="").has_invoice_info


def test_bubbles_one_to_three_count_as_one_message(manager):
    sub = subscription(plan="light", actor=manager)
    at = taipei(2025, 3, 5, 10)
    send(sub.account_id, 100, at, bubbles=3)
    assert selectors.message_consumption(account_id=sub.account_id, at=at) == {"totalUsage": 100}
    with pytest.raises(BillingError, match="1 to 3 bubbles"):
        send(sub.account_id, 1, at, bubbles=4)


def test_a_senders_cap_on_one_broadcast_is_honoured(manager):
    sub = subscription(plan="light", actor=manager)
    at = taipei(2025, 3, 5, 10)
    services.quota_check(account_id=sub.account_id, recipients=5000, sent_at=at, cap=200)
    with pytest.raises(QuotaExceeded):
        services.quota_check(account_id=sub.account_id, recipients=5000, sent_at=at, cap=201)


def test_disaster_relief_sends_are_free_and_outside_the_quota(manager):
    _contract, main, _cust = _government(manager)
    at = taipei(2025, 8, 5, 10)
    for _ in range(18):
        send(main.pk, 10_000, at)
    services.quota_check(
        account_id=main.pk, recipients=500_000, sent_at=at, kind=UsageRecord.Kind.DISASTER_RELIEF
    )
    send(main.pk, 500_000, at, kind=UsageRecord.Kind.DISASTER_RELIEF)
    assert selectors.message_consumption(account_id=main.pk, at=at) == {"totalUsage": 18}
    ordinary = subscription(plan="high", actor=manager)
    with pytest.raises(BillingError, match="disaster-relief"):
        send(ordinary.account_id, 10, at, kind=UsageRecord.Kind.DISASTER_RELIEF)


def test_sub_account_may_have_at_most_5000_target_friends(manager):
    contract, _main, cust = _government(manager)
    with pytest.raises(BillingError, match="5,000"):
        subscription(
            plan="gov_sub",
            actor=manager,
            customer_obj=cust,
            contract_id=contract.pk,
            account=factories.AccountFactory(name="熊大市政府 觀光局"),
            target_friends=5001,
        )
    sub = subscription(
        plan="gov_sub",
        actor=manager,
        customer_obj=cust,
        contract_id=contract.pk,
        target_friends=5000,
        account=factories.AccountFactory(name="熊大市政府 文化局"),
    )
    assert sub.target_friends == 5000


def test_promotion_codes_are_created_in_batches_with_history(manager, reviewer):
    codes = services.promotion_code_batch_propose(
        count=50,
        prefix="tw",
        actor=manager,
        valid_from=date(2025, 1, 1),
        valid_until=date(2025, 6, 30),
    )
    assert PromotionCode.objects.count() == 50 == len({c.code for c in codes})
    assert all(c.code.startswith("TW") and c.face_value == 1200 for c in codes)
    assert PromotionCode.history.filter(history_user=manager).count() == 50
    with pytest.raises(NotAllowed):
        services.promotion_code_batch_propose(
            count=1, actor=reviewer, valid_from=date(2025, 1, 1), valid_until=date(2025, 6, 30)
        )
